import { z } from 'zod';
import { Language, MutationSettings, TestNetwork, TestScope } from './curation-run.ts';
import { Stage } from './stages.ts';
import {
  CarriedStatus,
  Environment,
  Recipe,
  SolveEnding,
  SolveGrade,
  SWEInstanceSpec,
} from './swe-instance.ts';

export const PreparedWorkspace = z
  .object({
    dir: z.string().min(1).describe('Absolute path of the prepared checkout (venv etc. inside)'),
    environment: Environment.describe('The environment installed there'),
    recipe: Recipe.describe('The recipe that built it'),
  })
  .strict();
export type PreparedWorkspace = z.infer<typeof PreparedWorkspace>;
/** A recipe that brought up the environment of another PR of the same repository. */
export const RememberedRecipe = z
  .object({
    instanceId: z.string(),
    /** That PR's creation time: the nearest earlier PR is tried first. */
    createdAt: z.string(),
    recipe: Recipe,
  })
  .strict();
export type RememberedRecipe = z.infer<typeof RememberedRecipe>;

/**
 * `scaleswe eval`: grade a candidate patch (a model's) instead of running the stage's agent.
 * Sent with stage `verify`, whose row needs everything grading reads (recipe, environment,
 * test patch, FAIL_TO_PASS / PASS_TO_PASS) and whose timeout it takes.
 */
export const GradeRequest = z
  .object({ modelPatch: z.string().describe('The unified diff to grade, applied at the base commit') })
  .strict();
export type GradeRequest = z.infer<typeof GradeRequest>;

/**
 * The solve stage: a coding agent gets the problem statement and the base checkout (no test
 * patch, no gold patch, no history past base) and submits a patch. Sent with stage `verify`,
 * like a grading request; the input then carries no test patch, gold patch or labels.
 */
export const SolveRequest = z
  .object({
    problemStatement: z.string().describe('The task text the agent is given'),
    maxTurns: z.number().int().min(1).describe('Model turns before the attempt ends unsubmitted'),
  })
  .strict();
export type SolveRequest = z.infer<typeof SolveRequest>;

/** What a solve attempt produced: the work tree's diff against the base (+ setup) tree. */
export const SolveOutput = z
  .object({
    patch: z.string(),
    ending: SolveEnding,
    turns: z.number().int().min(0),
  })
  .strict();
export type SolveOutput = z.infer<typeof SolveOutput>;

const TestSplit = z.object({ success: z.array(z.string()), failure: z.array(z.string()) }).strict();

/** What a graded patch did to the instance's labelled tests (SWE-bench's `tests_status`). */
export const PatchGrade = z
  .object({
    FAIL_TO_PASS: TestSplit,
    PASS_TO_PASS: TestSplit,
    /** Output of the test run (the middle cut when long). */
    testOutput: z.string(),
  })
  .strict();
export type PatchGrade = z.infer<typeof PatchGrade>;

/**
 * The contract between whoever schedules a stage (operator pod, local CLI process) and the
 * agent runner that executes it. Same shape in a sandbox pod and in a local process.
 */
export const StageInput = z
  .object({
    stage: Stage,
    instance: SWEInstanceSpec,
    /** What earlier stages established (from SWEInstance.status): the stage row's `needs`. */
    previous: CarriedStatus.default({}),
    /**
     * The environment is prepared at `dir`: a checkout with `previous.environment` installed
     * (the env stage's tree after setup). The stage starts from it and runs no setup. Local
     * mode restores a snapshot there; a cluster pod runs the environment image, which holds it.
     * For the env stage: a shared environment it may adopt when its recipe sources match.
     */
    prepared: PreparedWorkspace.optional(),
    /** Env stage only: recipes that worked for other PRs of the repository (recipe memory). */
    remembered: z.array(RememberedRecipe).default([]),
    /** Present: grade this patch (`scaleswe eval`) instead of running the stage's agent. */
    grade: GradeRequest.optional(),
    /** Present: solve the instance (the solve stage) instead of running the stage's agent. */
    solve: SolveRequest.optional(),
    config: z
      .object({
        maxTurns: z.number().int().min(1).default(30),
        reruns: z.number().int().min(1).default(3),
        generateTests: z.boolean().default(true),
        commandTimeoutSeconds: z.number().int().min(1).default(900),
        testTimeoutSeconds: z.number().int().min(1).default(900),
        perTestTimeoutSeconds: z.number().int().min(1).default(300),
        testNetwork: TestNetwork.default('none'),
        testScope: TestScope.default('files'),
        minBaseTestsRunRatio: z.number().min(0).max(1).default(0.5),
        mutation: MutationSettings.prefault({}),
        /** Absent: deterministic paths only. In a pod, baseURL is the operator's LLM gateway. */
        llm: z
          .object({
            baseURL: z.string().min(1),
            model: z.string().min(1),
            apiKey: z
              .string()
              .optional()
              // Marked secret: an input holding it never travels in a pod (sandbox/stage-input.ts).
              .meta({ secret: true })
              .describe('A per-pod gateway token in a sandbox; never a provider key there'),
            tokenBudget: z
              .number()
              .int()
              .min(0)
              .default(200000)
              .describe('0: spent, the first request fails'),
          })
          .strict()
          .optional(),
      })
      .strict()
      .prefault({}),
  })
  .strict();
export type StageInput = z.infer<typeof StageInput>;
export type StageInputArg = z.input<typeof StageInput>;

/** One LLM exchange in OpenAI chat format, kept for trajectories. */
export const TrajectoryStep = z
  .object({
    request: z.looseObject({ model: z.string(), messages: z.array(z.unknown()) }),
    response: z.looseObject({}),
    usage: z
      .object({
        prompt_tokens: z.number().int(),
        completion_tokens: z.number().int(),
        total_tokens: z.number().int(),
      })
      .optional(),
    startedAt: z.string(),
    durationMs: z.number(),
  })
  .strict();
export type TrajectoryStep = z.infer<typeof TrajectoryStep>;

export const Trajectory = z
  .object({
    instanceId: z.string(),
    stage: Stage,
    agent: z.string().describe('e.g. EnvAgent, TestAgent, PromptAgent, LeakJudge'),
    steps: z.array(TrajectoryStep),
  })
  .strict();
export type Trajectory = z.infer<typeof Trajectory>;

/**
 * succeeded: go on to the next stage. rejected: the PR cannot become a verified instance
 * (terminal, with a reason such as NoFailToPass). failed: something broke (retryable).
 */
export const StageOutcome = z.enum(['succeeded', 'rejected', 'failed']);
export type StageOutcome = z.infer<typeof StageOutcome>;

export const StageResult = z
  .object({
    stage: Stage,
    outcome: StageOutcome,
    reason: z.string().regex(/^[A-Z][A-Za-z0-9]*$/, 'reason must be CamelCase'),
    message: z.string(),
    language: Language.optional(),
    ...CarriedStatus.shape,
    tokensUsed: z.number().int().min(0).default(0),
    /** Of tokensUsed, as the provider reported them (absent in records from before the split). */
    inputTokens: z.number().int().min(0).optional(),
    outputTokens: z.number().int().min(0).optional(),
    durationMs: z.number().min(0),
    trajectories: z.array(Trajectory).default([]),
    /** Env stage: where its prepared tree (checkout + installed environment) is, to be captured. */
    preparedDir: z.string().optional(),
    /** Last lines of command output, for humans debugging a rejection. */
    logTail: z.string().optional(),
    /** A grading run (input.grade): the labelled tests' outcome with the candidate patch. */
    grade: PatchGrade.optional(),
    /** A solve run (input.solve): the submitted patch and how the agent loop ended. */
    solve: SolveOutput.optional(),
  })
  .strict();
export type StageResult = z.infer<typeof StageResult>;
export type StageResultArg = z.input<typeof StageResult>;

/**
 * One solve attempt as recorded (local state, export): the agent's trajectory, its patch, how
 * the loop ended and the patch's grade; `error` instead of a grade when the attempt failed on
 * infrastructure (it is not counted in the solve rate).
 */
export const SolveAttempt = z
  .object({
    instanceId: z.string(),
    attempt: z.number().int().min(1),
    ending: SolveEnding.optional(),
    patch: z.string().default(''),
    grade: SolveGrade.optional(),
    error: z.object({ reason: z.string(), message: z.string() }).strict().optional(),
    tokensUsed: z.number().int().min(0).default(0),
    /** Of tokensUsed, as the provider reported them (absent in records from before the split). */
    inputTokens: z.number().int().min(0).optional(),
    outputTokens: z.number().int().min(0).optional(),
    durationMs: z.number().min(0).default(0),
    trajectory: Trajectory.optional(),
  })
  .strict();
export type SolveAttempt = z.infer<typeof SolveAttempt>;
