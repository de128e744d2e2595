import { z } from 'zod';
import { Condition } from './condition.ts';
import { Language } from './curation-run.ts';
import { ENV_IMAGE_CONDITION } from './env-image.ts';
import { API_VERSION, ObjectMeta, ObservedGeneration } from './meta.ts';
import { type CarriedField, InstancePhase, perStage, STAGE_TABLE, Stage } from './stages.ts';

export const LinkedIssue = z
  .object({
    number: z.number().int().min(1).describe('Issue number'),
    title: z.string().default('').describe('Issue title (empty where the source only knows the number)'),
    body: z.string().default('').describe('Issue text'),
    hints: z.array(z.string()).default([]).describe('Issue comments made before the PR first commit'),
  })
  .strict();
export type LinkedIssue = z.infer<typeof LinkedIssue>;

/** An object in the dataset store as a spec or status names it: key, digest, size. */
const StoredObjectRef = z.object({
  key: z.string().min(1).describe('Object key in the dataset store (content-addressed: ends in the digest)'),
  sha256: z
    .string()
    .regex(/^[0-9a-f]{64}$/)
    .describe('SHA-256 of the object: a read that does not match is refused'),
  bytes: z.number().int().min(0).describe('Size of the object'),
});

/**
 * Where an instance's PR content (title, body, patches, linked issues) lives when the operator
 * has a dataset store: the spec keeps the key, digest and a few counts `kubectl` users read.
 */
export const PrContentRef = StoredObjectRef.extend({
  patchFiles: z.number().int().min(0).describe('Files the gold patch changes'),
  patchLines: z.number().int().min(0).describe('Lines the gold patch adds or deletes'),
  testPatchFiles: z.number().int().min(0).describe('Files the test patch changes'),
  testPatchLines: z.number().int().min(0).describe('Lines the test patch adds or deletes'),
  issues: z.number().int().min(0).describe('Linked issues'),
}).strict();
export type PrContentRef = z.infer<typeof PrContentRef>;

export const SWEInstanceSpec = z
  .object({
    instanceId: z
      .string()
      .regex(/^[A-Za-z0-9_.-]+__[A-Za-z0-9_.-]+-[0-9]+$/, 'instanceId must be owner__repo-<PR>')
      .describe('SWE-bench instance_id: owner__repo-<PR>'),
    runRef: z.string().min(1).describe('Name of the owning CurationRun'),
    repo: z
      .string()
      .regex(/^[A-Za-z0-9_.-]+\/[A-Za-z0-9_.-]+$/, 'repo must be owner/name')
      .describe('Repository as owner/name'),
    cloneURL: z.string().min(1).describe('Where the sandbox fetches the base commit from'),
    pullNumber: z.number().int().min(1).describe('Pull request number'),
    title: z.string().default('').describe('PR title'),
    body: z.string().default('').describe('PR description'),
    baseCommit: z
      .string()
      .regex(/^[0-9a-f]{40}$/, 'baseCommit must be a 40-hex commit id')
      .describe('Commit the PR was based on (40 hex): the patches apply to it and the tests run on it'),
    mergeCommit: z.string().optional().describe('Commit that merged the PR into the repository, when known'),
    patch: z
      .string()
      .default('')
      .describe('Gold patch: the non-test part of the PR diff (empty here when prContent names its object)'),
    testPatch: z.string().default('').describe('Test part of the PR diff (may be empty)'),
    issues: z
      .array(LinkedIssue)
      .default([])
      .describe('Issues the PR resolves; their text, when present, is the problem statement'),
    createdAt: z.string().describe('PR creation time (RFC 3339)'),
    mergedAt: z.string().optional().describe('PR merge time (RFC 3339)'),
    language: Language.describe('Repository language: picks the sandbox image and the toolchain'),
    prContent: PrContentRef.optional().describe(
      'Operator with a dataset store: the object holding title, body, patch, testPatch and issues, which the spec then omits',
    ),
  })
  .strict()
  .describe('The pull request as mined for the owning CurationRun: commits, patches, linked issues');
export type SWEInstanceSpec = z.infer<typeof SWEInstanceSpec>;
export type SWEInstanceSpecInput = z.input<typeof SWEInstanceSpec>;

export const RESULT_FORMATS = [
  'pytest',
  'junit-xml',
  'jest-json',
  'vitest-json',
  'go-test-json',
  'cargo',
  'tap',
] as const;
export const ResultFormat = z.enum(RESULT_FORMATS);
export type ResultFormat = z.infer<typeof ResultFormat>;

export const Recipe = z
  .object({
    setupScript: z
      .string()
      .describe('Replayable bash script that makes the repo installable at the base commit'),
    testCommand: z.string().describe('Command that runs the tests; test ids may be appended'),
    resultFormat: ResultFormat.describe('Output format of testCommand that test results are read from'),
    image: z
      .string()
      .optional()
      .describe('Not set by the current stages: the sandbox image is spec.agents.images of the run'),
    source: z.enum(['deterministic', 'llm']).optional().describe('Which path produced the recipe'),
    toolchain: z
      .record(z.string(), z.string())
      .optional()
      .describe('tool → version chosen, e.g. {maven: "3.9.9", pnpm: "8.15.4"}'),
    manifestDigest: z
      .string()
      .optional()
      .describe(
        'sha256 of the root manifests and lockfiles at the base the recipe worked at: recipe memory reuses it for another PR only where they are the same',
      ),
  })
  .strict();
export type Recipe = z.infer<typeof Recipe>;

/**
 * The prepared environment an instance's later stages start from instead of replaying setup.
 * Instances with equal keys share one environment; only the checkout of the base commit is theirs.
 */
export const Environment = z
  .object({
    key: z
      .string()
      .regex(/^[0-9a-f]{64}$/, 'key must be a sha256 hex digest')
      .describe('Content hash of language, toolchain, setup script and resolved lock'),
    image: z
      .string()
      .optional()
      .describe('Pullable reference of the environment image (cluster), ideally repo@sha256:…'),
    digest: z.string().optional().describe('Digest of that image'),
    lock: z
      .string()
      .optional()
      .describe(
        'Resolved versions frozen after setup (pip freeze, go list -m all, Cargo.lock …); a rebuild installs them',
      ),
    snapshot: z.string().optional().describe('Local mode: where the prepared tree is kept'),
    sources: z
      .string()
      .optional()
      .describe(
        'Hash of the files the recipe was derived from: an instance whose files hash the same may adopt this environment',
      ),
  })
  .strict();
export type Environment = z.infer<typeof Environment>;

export const LastError = z
  .object({
    stage: Stage.optional().describe('Stage it happened in'),
    reason: z.string().describe('CamelCase reason, e.g. NoFailToPass (rejected) or OOMKilled (failed)'),
    message: z.string().describe('Human-readable details'),
    time: z.string().describe('When it happened (RFC 3339)'),
  })
  .strict();

/**
 * The statement judge's classes: `vague` (not enough to act on), `tests-need-more-than-stated`
 * (the FAIL_TO_PASS tests demand behaviour or names the text does not give), `solution-in-text`
 * (it states the fix), `ok`.
 */
export const STATEMENT_VERDICTS = ['ok', 'vague', 'tests-need-more-than-stated', 'solution-in-text'] as const;
export const StatementVerdict = z.enum(STATEMENT_VERDICTS);
export type StatementVerdict = z.infer<typeof StatementVerdict>;

/** Which lines the gold patch adds its FAIL_TO_PASS tests execute (CurationRun verification.mutation). */
export const DiffCoverage = z
  .object({
    covered: z
      .number()
      .int()
      .min(0)
      .describe('Executable lines the gold patch adds that the FAIL_TO_PASS tests ran'),
    total: z
      .number()
      .int()
      .min(0)
      .describe('Executable lines the gold patch adds in files the engine measures'),
    ratio: z
      .number()
      .min(0)
      .max(1)
      .optional()
      .describe('covered / total; absent when nothing was measured (skipped, or no executable line)'),
    engine: z
      .string()
      .optional()
      .describe('The coverage engine, e.g. coverage.py, v8, go test -coverprofile'),
    uncovered: z
      .array(z.string())
      .max(20)
      .default([])
      .describe('Lines no FAIL_TO_PASS test ran (file:line), at most 20'),
    skipped: z
      .string()
      .optional()
      .describe(
        'Why coverage was not measured (no engine for the language or runner, no report): not counted as covered',
      ),
  })
  .strict();
export type DiffCoverage = z.infer<typeof DiffCoverage>;

/** The verify stage's mutation test of the gold patch (CurationRun verification.mutation). */
export const MutationRecord = z
  .object({
    tried: z.number().int().min(0).describe('Mutants run'),
    killed: z.number().int().min(0).describe('Mutants some FAIL_TO_PASS or PASS_TO_PASS test failed on'),
    survived: z.number().int().min(0).describe('Mutants every FAIL_TO_PASS and PASS_TO_PASS test passed on'),
    notCompiling: z
      .number()
      .int()
      .min(0)
      .describe(
        'Mutants whose run reported none of the tests (did not build, import or collect): not counted',
      ),
    errored: z
      .number()
      .int()
      .min(0)
      .default(0)
      .describe('Mutants whose run gave no verdict (timed out, some tests missing): not counted'),
    equivalent: z
      .number()
      .int()
      .min(0)
      .default(0)
      .describe(
        'Mutants that are the same program as the gold patch (same Python AST or bytecode, same gofmt form, blanks only): no test can kill them, not counted and not run',
      ),
    score: z
      .number()
      .min(0)
      .max(1)
      .optional()
      .describe('killed / (killed + survived); absent when no mutant could be counted or none was made'),
    skipped: z
      .string()
      .optional()
      .describe(
        'Why no mutant was run (no mutable line in a language with a mutator): the tests are not counted as strong',
      ),
    survivors: z
      .array(z.string())
      .default([])
      .describe('The surviving mutants (file:line kind: original → mutated), at most 20'),
    diffCoverage: DiffCoverage.optional().describe(
      'Diff coverage: which lines the gold patch adds the FAIL_TO_PASS tests execute',
    ),
  })
  .strict();
export type MutationRecord = z.infer<typeof MutationRecord>;

/** What stages establish for later stages and the export; each field belongs to a stage row's `yields`. */
export const CarriedStatus = z
  .object({
    recipe: Recipe.optional().describe(
      'How the env stage set up the repository at the base commit and how its tests run',
    ),
    environment: Environment.optional().describe(
      'The prepared environment (env stage) later stages start from instead of replaying setup',
    ),
    testsSource: z
      .enum(['pr', 'generated'])
      .optional()
      .describe("Where the FAIL_TO_PASS tests come from: the PR's own tests or ones TestAgent generated"),
    generatedTestPatch: z.string().optional().describe('Tests written by TestAgent when the PR had none'),
    fullTestPatch: z
      .string()
      .optional()
      .describe(
        "Every test change the labels need, as one patch at base: the PR's tests plus generated ones",
      ),
    FAIL_TO_PASS: z
      .array(z.string())
      .optional()
      .describe('Test ids that fail at the base commit and pass with the gold patch'),
    PASS_TO_PASS: z
      .array(z.string())
      .optional()
      .describe('Test ids that pass both at the base commit and with the gold patch'),
    problemStatement: z
      .string()
      .optional()
      .describe('Task text a solver is given (SWE-bench problem_statement)'),
    problemStatementSource: z
      .enum(['issue', 'pr', 'llm'])
      .optional()
      .describe('Where the statement comes from: linked issue text, the PR title and body, or the LLM'),
    hintsText: z
      .string()
      .optional()
      .describe("Issue comments made before the PR's first commit (SWE-bench hints_text)"),
    mutation: MutationRecord.optional().describe(
      'Mutation test of the gold patch (verification.mutation): mutants tried, killed, survived, not compiling, equivalent, and the score',
    ),
    statementVerdict: StatementVerdict.optional().describe(
      "The LLM judge's classification of the problem statement; only ok passes",
    ),
  } satisfies Record<CarriedField, z.ZodType>)
  .strict();
export type CarriedStatus = z.infer<typeof CarriedStatus>;

/** How a solve attempt's agent loop ended. */
export const SOLVE_ENDINGS = ['Submitted', 'MaxTurns', 'BudgetExhausted', 'ContextExceeded'] as const;
export const SolveEnding = z.enum(SOLVE_ENDINGS);
export type SolveEnding = z.infer<typeof SolveEnding>;

/** A solve attempt's grade: what its patch did to the instance's labelled tests. */
export const SolveGrade = z
  .object({
    resolved: z.boolean().describe('Every FAIL_TO_PASS test passed and no PASS_TO_PASS test broke'),
    failToPassPassed: z.number().int().min(0).describe('FAIL_TO_PASS tests that passed with the patch'),
    failToPassTotal: z.number().int().min(0).describe('FAIL_TO_PASS tests of the instance'),
    passToPassBroken: z.number().int().min(0).describe('PASS_TO_PASS tests the patch broke'),
    /** Graded, EmptyPatch or PatchDoesNotApply (all unresolved but the first when every test holds). */
    reason: z.string().describe('Graded, EmptyPatch, PatchDoesNotApply or PatchTooLarge'),
  })
  .strict();
export type SolveGrade = z.infer<typeof SolveGrade>;

/** Where a solve attempt is in the cluster: its agent pod, its grading pod, or recorded. */
export const SOLVE_ATTEMPT_PHASES = ['Solving', 'Grading', 'Done'] as const;

/**
 * One solve attempt of a Verified instance in the cluster (status.solveAttempts): where it is,
 * and once Done its grade, or `error` when infrastructure failed it agents.maxAttempts times
 * (not counted in the solve rate). Its trajectory is the gateway's (stage verify, attempt
 * 1000 * solveTry + attempt).
 */
export const SolveAttemptStatus = z
  .object({
    attempt: z.number().int().min(1).describe('Attempt number, 1..spec.solve.attempts'),
    phase: z.enum(SOLVE_ATTEMPT_PHASES).describe('Solving (agent pod), Grading (grading pod) or Done'),
    tries: z
      .number()
      .int()
      .min(0)
      .default(0)
      .describe('Pods of the current phase that failed on infrastructure (retried up to agents.maxAttempts)'),
    retryAfter: z.string().optional().describe('The next pod of the phase not before this time (backoff)'),
    solveTry: z
      .number()
      .int()
      .min(1)
      .optional()
      .describe('Which agent pod (1-based) produced the patch: names its trajectory'),
    ending: SolveEnding.optional().describe(
      'How the agent loop ended: Submitted, MaxTurns, BudgetExhausted or ContextExceeded',
    ),
    patch: z
      .string()
      .optional()
      .describe(
        "The submitted patch (the work tree's diff against base + setup); with a dataset store it is in the object status.content names",
      ),
    grade: SolveGrade.optional().describe("What the patch did to the instance's labelled tests"),
    error: z
      .object({
        reason: z.string().describe('CamelCase reason of the last failure'),
        message: z.string().describe('What failed'),
      })
      .strict()
      .optional()
      .describe('Infrastructure failure that ended the attempt without a grade'),
    tokensUsed: z.number().int().min(0).default(0).describe('LLM tokens the agent pod used'),
    inputTokens: z.number().int().min(0).optional().describe('Of tokensUsed, input (prompt) tokens'),
    outputTokens: z.number().int().min(0).optional().describe('Of tokensUsed, output (completion) tokens'),
    durationMs: z.number().min(0).default(0).describe("The agent pod's run time"),
  })
  .strict();
export type SolveAttemptStatus = z.infer<typeof SolveAttemptStatus>;

/** The solve stage's measurement of a Verified instance (CurationRun spec.solve). */
export const SolveSummary = z
  .object({
    attempts: z
      .number()
      .int()
      .min(0)
      .describe('Solve attempts graded (an attempt that failed on infrastructure is not counted)'),
    resolved: z.number().int().min(0).describe('Of those, attempts whose patch resolved the instance'),
    solveRate: z
      .number()
      .min(0)
      .max(1)
      .optional()
      .describe('resolved / attempts; absent with no graded attempt'),
    k: z.number().int().min(1).describe('k of pass@k: spec.solve.attempts'),
    passAtK: z
      .number()
      .min(0)
      .max(1)
      .optional()
      .describe('Unbiased pass@k estimate (Chen et al. 2021); present when attempts >= k'),
    failedAttempts: z
      .number()
      .int()
      .min(0)
      .default(0)
      .describe('Attempts that ended without a grade (infrastructure): not counted above'),
    tokensUsed: z.number().int().min(0).optional().describe('Tokens of all attempts, failed ones too'),
    inputTokens: z.number().int().min(0).optional().describe('Of those, input (prompt) tokens'),
    outputTokens: z.number().int().min(0).optional().describe('Of those, output (completion) tokens'),
  })
  .strict();
export type SolveSummary = z.infer<typeof SolveSummary>;

/**
 * Where an instance's bulky content (test-id lists, patches, statement) lives when the
 * operator has a dataset store: status keeps the key, digest and counts, the object the text.
 */
export const ContentRef = StoredObjectRef.extend({
  fields: z
    .array(z.string())
    .describe("The status fields the object holds; solvePatches: the solve attempts' patches"),
  failToPass: z.number().int().min(0).optional().describe('Number of FAIL_TO_PASS test ids'),
  passToPass: z.number().int().min(0).optional().describe('Number of PASS_TO_PASS test ids'),
}).strict();
export type ContentRef = z.infer<typeof ContentRef>;

export const SWEInstanceStatus = z
  .object({
    observedGeneration: ObservedGeneration,
    phase: InstancePhase.optional().describe(
      `Pending, then the running stage's phase (${STAGE_TABLE.map((r) => r.phase).join(', ')}); finally Verified, Rejected (the PR cannot become an instance) or Failed (infrastructure failures used up agents.maxAttempts)`,
    ),
    conditions: z
      .array(Condition)
      .optional()
      .describe(
        `One per stage (${STAGE_TABLE.map((r) => r.condition).join(', ')}): True when it succeeded, False with the reason when it rejected the PR or gave up; ${ENV_IMAGE_CONDITION} while an environment image is wanted (cluster)`,
      ),
    attempts: perStage((s) =>
      z.number().int().min(0).default(0).describe(`Attempts of the ${s} stage that ended`),
    )
      .optional()
      .describe('Attempts per stage, counted when an attempt ends (succeeded, rejected or failed)'),
    stageDurationsMs: perStage((s) =>
      z.number().min(0).optional().describe(`Milliseconds the last attempt of the ${s} stage took`),
    )
      .optional()
      .describe("Wall time of each stage's last attempt"),
    retryAfter: z.string().optional().describe('Next attempt not before this time (backoff)'),
    retriedAttempts: perStage((s) =>
      z
        .number()
        .int()
        .min(0)
        .optional()
        .describe(`Attempts of the ${s} stage made before the last user retry`),
    )
      .optional()
      .describe('Attempts set aside by a user retry (scaleswe retry): maxAttempts counts those after them'),
    ...CarriedStatus.shape,
    tokensUsed: z
      .number()
      .int()
      .min(0)
      .optional()
      .describe(
        'LLM tokens its stage attempts used (attempts that failed on infrastructure are not counted)',
      ),
    inputTokens: z
      .number()
      .int()
      .min(0)
      .optional()
      .describe('Of tokensUsed, input (prompt) tokens as the provider reported them; priced by llm.price'),
    outputTokens: z
      .number()
      .int()
      .min(0)
      .optional()
      .describe(
        'Of tokensUsed, output (completion) tokens as the provider reported them; priced by llm.price',
      ),
    environmentBuilds: z
      .number()
      .int()
      .min(0)
      .optional()
      .describe('Cluster: environment image build attempts (retried like a stage, maxAttempts)'),
    solve: SolveSummary.optional().describe(
      'Solve stage (spec.solve) of a Verified instance: attempts graded, resolved, solve rate, pass@k; never changes the verdict',
    ),
    solveAttempts: z
      .array(SolveAttemptStatus)
      .max(100)
      .optional()
      .describe('Cluster: the solve attempts (spec.solve), in flight and recorded, by attempt number'),
    content: ContentRef.optional().describe(
      'Operator with a dataset store: the object holding the fields listed there (FAIL_TO_PASS, PASS_TO_PASS, patches, statement), which status then omits',
    ),
    lastError: LastError.optional().describe('The latest rejection or infrastructure failure'),
    startedAt: z.string().optional().describe('When the first stage started (RFC 3339)'),
    completedAt: z
      .string()
      .optional()
      .describe('When the instance became Verified, Rejected or Failed (RFC 3339)'),
  })
  .strict()
  .describe(
    'Progress of the instance through the stages, written by the operator: phase, attempts, and what each stage established (recipe, environment, test labels, problem statement)',
  );
export type SWEInstanceStatus = z.infer<typeof SWEInstanceStatus>;

/**
 * An instance as both modes record it and the exporter reads it: an SWEInstance's spec and
 * status (the cluster), or the same pair in the local state directory.
 */
export interface InstanceRecord {
  spec: SWEInstanceSpec;
  status?: SWEInstanceStatus | undefined;
}

export const SWEInstance = z.object({
  apiVersion: z.literal(API_VERSION),
  kind: z.literal('SWEInstance'),
  metadata: ObjectMeta,
  spec: SWEInstanceSpec,
  status: SWEInstanceStatus.optional(),
});
export type SWEInstance = z.infer<typeof SWEInstance>;

/** `owner__repo-<PR>`: deterministic, so a restarted operator never duplicates work. */
export function instanceIdFor(repo: string, pullNumber: number): string {
  return `${repo.replace('/', '__')}-${pullNumber}`;
}

/**
 * Kubernetes object name for an instance: DNS-1123 (lowercase, '-' and '.'), at most
 * 253 chars. Distinct instance ids in one run map to distinct names because the run's
 * repo is fixed and the PR number is kept verbatim at the end.
 */
export function instanceObjectName(runName: string, instanceId: string): string {
  const slug = instanceId
    .toLowerCase()
    .replace(/__/g, '.')
    .replace(/[^a-z0-9.-]+/g, '-')
    .replace(/^[-.]+|[-.]+$/g, '');
  return `${runName}.${slug}`.slice(-253).replace(/^[-.]+/, '');
}
