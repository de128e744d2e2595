import { z } from 'zod';
import { Condition } from './condition.ts';
import { API_VERSION, ObjectMeta, ObservedGeneration, withRules } from './meta.ts';

/**
 * Evaluation: grade anyone's patches (SWE-bench predictions) against curated instances in the
 * cluster, one grading pod per prediction — the cluster twin of `scaleswe eval`. Sizes are
 * set by etcd: an object holds at most ~1.5 MiB (spec, status and all), so inline predictions
 * are for a handful, a ConfigMap (1 MiB; gzip it for ~5× more) for the rest, and status keeps
 * counts per prediction, never test output or test id lists beyond a few failing ones.
 */

/** Predictions one Evaluation grades: its status holds a result for each. */
export const MAX_EVAL_PREDICTIONS = 1000;
/** Inline predictions: the patches live in the object itself. */
export const MAX_INLINE_PREDICTIONS = 50;
/** Failing test ids kept per result (FAIL_TO_PASS that failed, PASS_TO_PASS that broke). */
export const MAX_FAILED_TESTS = 10;
/** A result's message is cut to this many characters. */
export const MAX_RESULT_MESSAGE = 300;

export const InlinePrediction = z
  .object({
    instanceId: z
      .string()
      .min(1)
      .max(256)
      .describe('SWE-bench instance_id the patch is for (owner__repo-<PR>)'),
    modelPatch: z
      .string()
      .max(1_000_000)
      .default('')
      .describe('Unified diff at the base commit (model_patch); empty: graded as an empty patch'),
    modelName: z.string().max(256).default('').describe('Who made the patch (model_name_or_path)'),
  })
  .strict();
export type InlinePrediction = z.infer<typeof InlinePrediction>;

export const EvaluationInstances = withRules(
  z
    .object({
      runRef: z
        .string()
        .min(1)
        .max(253)
        .optional()
        .describe(
          'Name of a CurationRun in this namespace: its Verified SWEInstances are the dataset; grading waits until the run has finished',
        ),
      names: z
        .array(z.string().min(1).max(253))
        .max(MAX_EVAL_PREDICTIONS)
        .optional()
        .describe(
          'SWEInstance object names in this namespace: those Verified are the dataset; grading waits until each has finished',
        ),
    })
    .strict()
    .describe('The instances predictions are graded against (the dataset): exactly one of runRef or names'),
  [
    {
      cel: 'has(self.runRef) != has(self.names)',
      message: 'exactly one of instances.runRef or instances.names must be set',
      field: 'runRef',
      check: (s) => (s.runRef === undefined) !== (s.names === undefined),
    },
  ],
);

export const PredictionsConfigMapRef = z
  .object({
    name: z.string().min(1).max(253).describe('ConfigMap name, in the namespace of the Evaluation'),
    key: z
      .string()
      .min(1)
      .max(253)
      .default('predictions.jsonl')
      .describe(
        'Key holding SWE-bench predictions (JSON Lines or a JSON list of instance_id, model_patch, model_name_or_path); in binaryData it may be gzipped',
      ),
  })
  .strict();

export const EvaluationPredictions = withRules(
  z
    .object({
      inline: z
        .array(InlinePrediction)
        .max(MAX_INLINE_PREDICTIONS)
        .optional()
        .describe(`A few predictions written in the object (at most ${MAX_INLINE_PREDICTIONS})`),
      configMapRef: PredictionsConfigMapRef.optional().describe(
        `A ConfigMap holding a predictions file, e.g. \`kubectl create configmap preds --from-file=predictions.jsonl\` (at most ${MAX_EVAL_PREDICTIONS} predictions; a ConfigMap holds 1 MiB, gzip the file for more)`,
      ),
    })
    .strict()
    .describe('The patches to grade: exactly one of inline or configMapRef'),
  [
    {
      cel: 'has(self.inline) != has(self.configMapRef)',
      message: 'exactly one of predictions.inline or predictions.configMapRef must be set',
      field: 'inline',
      check: (s) => (s.inline === undefined) !== (s.configMapRef === undefined),
    },
  ],
);

export const EvaluationSpec = z
  .object({
    instances: EvaluationInstances,
    predictions: EvaluationPredictions,
    maxParallel: z.number().int().min(1).max(200).default(4).describe('Grading pods running at once'),
    maxAttempts: z
      .number()
      .int()
      .min(1)
      .max(10)
      .default(2)
      .describe(
        'Grading pods per prediction while they fail on infrastructure (pod lost, run cut off); then the prediction is an error with that reason',
      ),
  })
  .strict()
  .describe(
    "What to grade against what: one grading pod per prediction, in the instance's environment (image or replayed recipe) with the stage sandbox",
  );
export type EvaluationSpec = z.infer<typeof EvaluationSpec>;
export type EvaluationSpecInput = z.input<typeof EvaluationSpec>;

/** SWE-bench's statuses, plus pending and running while a prediction has no verdict yet. */
export const PREDICTION_STATUSES = [
  'pending',
  'running',
  'resolved',
  'unresolved',
  'empty_patch',
  'error',
] as const;
export const PredictionStatus = z.enum(PREDICTION_STATUSES);
export type PredictionStatus = z.infer<typeof PredictionStatus>;
export const FINAL_PREDICTION_STATUSES: ReadonlySet<PredictionStatus> = new Set([
  'resolved',
  'unresolved',
  'empty_patch',
  'error',
]);

const count = z.number().int().min(0);

export const PredictionResult = z
  .object({
    instanceId: z.string().describe("The prediction's instance_id"),
    modelName: z.string().default('').describe('model_name_or_path of the prediction'),
    patchDigest: z
      .string()
      .default('')
      .describe('sha256 (16 hex) of model name and patch graded: an edited prediction is graded again'),
    status: PredictionStatus.describe(
      'resolved, unresolved (a FAIL_TO_PASS test failed or a PASS_TO_PASS test broke), empty_patch, error (the prediction or the grading run is unusable: see reason); pending or running before that',
    ),
    resolved: z.boolean().default(false).describe('Every FAIL_TO_PASS and PASS_TO_PASS test passed'),
    reason: z
      .string()
      .default('')
      .describe(
        'CamelCase: Resolved, FailToPassFailed, PassToPassBroken, EmptyPatch, UnknownInstance, DuplicatePrediction, PatchDoesNotApply, or an infrastructure failure',
      ),
    message: z.string().default('').describe(`Details (at most ${MAX_RESULT_MESSAGE} characters)`),
    patchApplied: z.boolean().default(false).describe('The patch applied at the base commit'),
    failToPassPassed: count.optional().describe('FAIL_TO_PASS tests that passed with the patch'),
    failToPassTotal: count.optional().describe('FAIL_TO_PASS tests of the instance'),
    passToPassBroken: count.optional().describe('PASS_TO_PASS tests that failed with the patch'),
    passToPassTotal: count.optional().describe('PASS_TO_PASS tests of the instance'),
    failedTests: z
      .array(z.string())
      .max(MAX_FAILED_TESTS)
      .optional()
      .describe(
        `FAIL_TO_PASS tests that failed and PASS_TO_PASS tests that broke (at most ${MAX_FAILED_TESTS})`,
      ),
    attempts: count.default(0).describe('Grading pods of this prediction that ended'),
    retryAfter: z
      .string()
      .optional()
      .describe('After an infrastructure failure: next pod not before (RFC 3339)'),
  })
  .strict();
export type PredictionResult = z.infer<typeof PredictionResult>;

export const EVALUATION_PHASES = ['Pending', 'Running', 'Succeeded', 'Failed'] as const;
export const EvaluationPhase = z.enum(EVALUATION_PHASES);
export type EvaluationPhase = z.infer<typeof EvaluationPhase>;

export const EvaluationStatus = z
  .object({
    observedGeneration: ObservedGeneration,
    phase: EvaluationPhase.optional().describe(
      'Pending (waiting for the instances or the predictions), Running (grading), Succeeded (every prediction has a verdict) or Failed (predictions unusable: see the Ready condition)',
    ),
    conditions: z
      .array(Condition)
      .optional()
      .describe(
        'Ready (False with the reason while waiting or when the predictions are unusable) and Succeeded (True once every prediction has a verdict)',
      ),
    datasetInstances: count.optional().describe('Verified instances the predictions are graded against'),
    total: count.optional().describe('Predictions (one per instance id)'),
    resolved: count.optional().describe('Predictions that resolved their instance'),
    unresolved: count.optional().describe('Predictions graded and not resolved'),
    emptyPatch: count.optional().describe('Predictions without a patch'),
    errors: count.optional().describe("Predictions that could not be graded (see each result's reason)"),
    pending: count.optional().describe('Predictions without a verdict yet'),
    progress: z.string().optional().describe('graded/total predictions, for printer columns'),
    results: z
      .array(PredictionResult)
      .max(MAX_EVAL_PREDICTIONS)
      .optional()
      .describe("One per prediction, in the predictions' order"),
    startedAt: z.string().optional().describe('When grading started (RFC 3339)'),
    completedAt: z.string().optional().describe('When every prediction had a verdict (RFC 3339)'),
  })
  .strict()
  .describe('Grades of the predictions, written by the operator: totals and one result per prediction');
export type EvaluationStatus = z.infer<typeof EvaluationStatus>;

export const Evaluation = z.object({
  apiVersion: z.literal(API_VERSION),
  kind: z.literal('Evaluation'),
  metadata: ObjectMeta,
  spec: EvaluationSpec,
  status: EvaluationStatus.optional(),
});
export type Evaluation = z.infer<typeof Evaluation>;
