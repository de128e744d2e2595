import { z } from 'zod';
import { Condition } from './condition.ts';
import { Price, RunCostStatus } from './cost.ts';
import { API_VERSION, ObjectMeta, ObservedGeneration, Resources, SecretKeyRef, withRules } from './meta.ts';
import { StageTimeouts } from './stages.ts';

export const LANGUAGES = ['python', 'node', 'go', 'rust', 'java'] as const;
export const Language = z.enum(LANGUAGES);
export type Language = z.infer<typeof Language>;

const repoSlug = z
  .string()
  .regex(/^[A-Za-z0-9_.-]+\/[A-Za-z0-9_.-]+$/, 'must be owner/name, e.g. psf/requests');

export const GitHubSource = z
  .object({
    repo: repoSlug.describe('GitHub repository as owner/name'),
    baseURL: z
      .url()
      .optional()
      .describe('REST API base URL for GitHub Enterprise; default https://api.github.com'),
    tokenSecretRef: SecretKeyRef.optional().describe(
      'Secret key holding a GitHub token, or several (one per line): each request takes the token with the most budget left, shared with every run and campaign whose Secret holds the same tokens',
    ),
  })
  .strict();

/** How the git source finds PRs in history (see GitSource.history). */
export const GIT_HISTORY_MODES = ['merges', 'first-parent'] as const;
export type GitHistoryMode = (typeof GIT_HISTORY_MODES)[number];

export const GitSource = z
  .object({
    url: z.string().min(1).describe('Clone URL (https://, ssh, file://) or an absolute local path'),
    repo: repoSlug.optional().describe('owner/name used in instance ids; derived from the URL when omitted'),
    ref: z.string().min(1).default('HEAD').describe('Branch or ref whose history is mined'),
    history: z
      .enum(GIT_HISTORY_MODES)
      .default('merges')
      .describe(
        'merges: GitHub merge commits and squash commits whose subject ends in (#N). first-parent: also every other non-merge commit of the first-parent history (rebase and fast-forward merges), its PR number from the subject or a PR:, Pull-Request: or PR-URL: trailer; consecutive commits of one PR form one instance',
      ),
  })
  .strict();

export const Source = withRules(
  z
    .object({
      github: GitHubSource.optional().describe('Mine merged PRs through the GitHub REST API'),
      git: GitSource.optional().describe(
        "Mine PRs from a git repository's history (merge and squash commits); needs no GitHub API",
      ),
    })
    .strict()
    .describe('Where pull requests are mined from: exactly one of github or git'),
  [
    {
      cel: 'has(self.github) != has(self.git)',
      message: 'exactly one of source.github or source.git must be set',
      field: 'github',
      check: (s) => (s.github === undefined) !== (s.git === undefined),
    },
  ],
);

export type Source = z.infer<typeof Source>;

const rfc3339 = z.iso.datetime({ offset: true });

export const Filters = withRules(
  z
    .object({
      mergedAfter: rfc3339.optional().describe('Only PRs merged at or after this time (RFC 3339)'),
      mergedBefore: rfc3339.optional().describe('Only PRs merged before this time (RFC 3339)'),
      labels: z.array(z.string().min(1)).max(50).optional().describe('PR must carry all of these labels'),
      excludeLabels: z
        .array(z.string().min(1))
        .max(50)
        .optional()
        .describe('PR must carry none of these labels'),
      maxFiles: z.number().int().min(1).max(1000).default(50).describe('Reject PRs touching more files'),
      maxLines: z.number().int().min(1).max(100000).default(2000).describe('Reject PRs changing more lines'),
      requireLinkedIssue: z.boolean().default(false).describe('Reject PRs that close no issue'),
      generateTests: z
        .boolean()
        .default(true)
        .describe(
          'When a PR has no test changes, let TestAgent write tests (needs llm); otherwise it is rejected at mining',
        ),
      pullNumbers: z
        .array(z.number().int().min(1, 'PR numbers start at 1'))
        .min(1, 'list at least one PR number, or leave pullNumbers out')
        .max(1000)
        .optional()
        .describe(
          'Mine only these PRs; mining ends once each was examined, absent ones are rejected as NotFound',
        ),
      commits: z
        .array(z.string().regex(/^[0-9a-fA-F]{7,64}$/, 'must be a commit id: 7 to 64 hex digits'))
        .min(1, 'list at least one commit, or leave commits out')
        .max(1000)
        .optional()
        .describe(
          'Mine only the PRs of these commits (full ids or prefixes of 7+ hex digits): merge or squash commits, with git history first-parent also any commit of a rebased PR; absent ones are rejected as NotFound',
        ),
    })
    .strict()
    .describe('Which merged PRs become candidates; the others are counted in status.rejectedByReason'),
  [
    {
      cel: '!has(self.pullNumbers) || !has(self.commits)',
      message: 'set at most one of filters.pullNumbers and filters.commits',
      field: 'commits',
      check: (f) => f.pullNumbers === undefined || f.commits === undefined,
    },
    {
      cel: '!has(self.mergedAfter) || !has(self.mergedBefore) || timestamp(self.mergedAfter) < timestamp(self.mergedBefore)',
      message: 'filters.mergedAfter must be before filters.mergedBefore',
      field: 'mergedBefore',
      check: (f) =>
        f.mergedAfter === undefined ||
        f.mergedBefore === undefined ||
        Date.parse(f.mergedAfter) < Date.parse(f.mergedBefore),
    },
  ],
);

const DEFAULT_MAX_PARALLEL = 4;

export const Limits = withRules(
  z
    .object({
      maxPRs: z
        .number()
        .int()
        .min(1)
        .max(100000)
        .default(100)
        .describe('Stop mining after this many kept PRs'),
      // No default in the schema: a default of 4 would reject `maxPRs: 2` alone (the rule below
      // sees defaults); the effective value is maxParallelOf(limits).
      maxParallel: z
        .number()
        .int()
        .min(1)
        .max(1000)
        .optional()
        .describe(`SWEInstances in flight at once; default ${DEFAULT_MAX_PARALLEL}, at most maxPRs`),
    })
    .strict()
    .describe('How many PRs the run keeps and how many of their instances are processed at once'),
  [
    {
      cel: '!has(self.maxParallel) || self.maxParallel <= self.maxPRs',
      message: 'limits.maxParallel must not exceed limits.maxPRs',
      field: 'maxParallel',
      check: (l) => l.maxParallel === undefined || l.maxParallel <= l.maxPRs,
    },
  ],
);

/** SWEInstances in flight at once: as set, else the default capped by maxPRs. */
export function maxParallelOf(limits: { maxPRs: number; maxParallel?: number | undefined }): number {
  return limits.maxParallel ?? Math.min(DEFAULT_MAX_PARALLEL, limits.maxPRs);
}

const image = z.string().min(1).max(512);

export const Agents = z
  .object({
    images: z
      .object(
        Object.fromEntries(
          LANGUAGES.map((l) => [
            l,
            image.default(`scaleswe/sandbox-${l}:0.1.0`).describe(`Sandbox image of ${l} repositories`),
          ]),
        ) as Record<Language, z.ZodDefault<typeof image>>,
      )
      .strict()
      .prefault({})
      .describe('Sandbox image per repository language'),
    runnerImage: image
      .default('scaleswe/operator:0.1.0')
      .describe('Image whose agent runner bundle the init container copies into each sandbox pod'),
    resources: Resources.prefault({}).describe('Requests and limits of each sandbox container'),
    timeouts: StageTimeouts.prefault({}).describe(
      'Wall-clock limit per stage (the pod activeDeadlineSeconds)',
    ),
    maxTurns: z.number().int().min(1).max(500).default(30).describe('Tool-loop turns per agent'),
    maxAttempts: z
      .number()
      .int()
      .min(1)
      .max(10)
      .default(3)
      .describe('Attempts per stage after infrastructure failures (evicted, OOMKilled, deadline)'),
  })
  .strict()
  .describe('The stage pods and their agents: images, resources, time limits, turns and attempts');

export const Llm = z
  .object({
    baseURL: z.url().describe('OpenAI-compatible API base URL, e.g. https://api.openai.com/v1'),
    model: z.string().min(1).describe('Model name sent to the provider, e.g. gpt-4o; the gateway pins it'),
    apiKeySecretRef: SecretKeyRef.optional().describe(
      'Secret key with the provider API key; held by the operator only',
    ),
    tokenBudgetPerInstance: z
      .number()
      .int()
      .min(1000)
      .default(200000)
      .describe('Total tokens per SWEInstance'),
    requestsPerMinute: z
      .number()
      .int()
      .min(1)
      .max(100000)
      .default(60)
      .describe('LLM requests per minute allowed to one stage attempt; the gateway answers 429 beyond'),
    price: Price.optional(),
  })
  .strict();

export const TestNetwork = z
  .enum(['none', 'allowed'])
  .describe('Network of test commands: none (loopback only; setup still reaches the registries) or allowed');

export const Sandbox = z
  .object({
    testNetwork: TestNetwork.default('none'),
    runtimeClassName: z
      .string()
      .min(1)
      .optional()
      .describe('RuntimeClass of the sandbox pods, e.g. gvisor or kata, for stronger isolation'),
    egress: z
      .object({
        allowCIDRs: z
          .array(z.string().regex(/^[0-9a-fA-F:.]+\/[0-9]{1,3}$/, 'must be a CIDR such as 10.0.0.0/8'))
          .max(100)
          .default([])
          .describe('Package registries/proxies reachable from sandbox pods'),
        allowAll: z
          .boolean()
          .default(false)
          .describe('Allow all egress except the cluster API (not recommended)'),
      })
      .strict()
      .prefault({})
      .describe(
        'Egress of sandbox pods beyond cluster DNS, the LLM gateway and the repository host (a NetworkPolicy: needs a policy engine on the nodes)',
      ),
    pendingTimeoutSeconds: z
      .number()
      .int()
      .min(10)
      .max(86400)
      .default(600)
      .describe('Seconds a stage pod may stay unstarted before the attempt fails as PendingTimeout'),
  })
  .strict()
  .describe('Isolation of the sandbox pods that run repository code: network, runtime class, egress');

export const TestScope = z
  .enum(['files', 'suite'])
  .describe(
    'Which tests label an instance: files = the test files its test patch touches (as SWE-bench runs it), suite = every test (a suite-wide PASS_TO_PASS regression check)',
  );

/** Mutation testing of the gold patch (verify stage): do the tests catch a wrong fix? */
export const MutationSettings = z
  .object({
    enabled: z
      .boolean()
      .default(false)
      .describe(
        'After an instance verifies, run its FAIL_TO_PASS and PASS_TO_PASS tests against mutants of the lines the gold patch adds (flipped comparisons, operators, booleans, constants, returned values, deleted statements); recorded in status.mutation',
      ),
    maxMutants: z
      .number()
      .int()
      .min(1)
      .max(200)
      .default(10)
      .describe(
        'Mutants tried per instance, spread over the changed lines; each is one test run within the verify stage time limit (agents.timeouts.verifySeconds)',
      ),
    parallelism: z
      .number()
      .int()
      .min(1)
      .max(64)
      .optional()
      .describe(
        'Mutants run at once, each in a copy of the verified workspace; unset: the CPUs the verify stage may use (its affinity and cgroup quota)',
      ),
    minScore: z
      .number()
      .min(0)
      .max(1)
      .optional()
      .describe(
        'Killed / (killed + survived) below this rejects the instance as WeakTests; unset: the score is recorded only. Mutants that do not compile, are equivalent or give no results are not counted',
      ),
  })
  .strict()
  .describe('Mutation testing restricted to the gold patch: how strong the tests of an instance are');
export type MutationSettings = z.infer<typeof MutationSettings>;

export const Verification = z
  .object({
    reruns: z
      .number()
      .int()
      .min(1)
      .max(10)
      .default(3)
      .describe('Reruns of the post-gold state to catch flaky tests'),
    testTimeoutSeconds: z
      .number()
      .int()
      .min(5)
      .max(86400)
      .default(900)
      .describe('Limit of one test command run; a run that hits it is no evidence and is retried'),
    perTestTimeoutSeconds: z
      .number()
      .int()
      .min(1)
      .max(86400)
      .default(300)
      .describe(
        'Limit of one test where its runner has one (pytest-timeout, go test -timeout per package, JUnit 5 default timeout): a hanging test fails and the others still label the instance',
      ),
    scope: TestScope.default('files'),
    minBaseTestsRunRatio: z
      .number()
      .min(0)
      .max(1)
      .default(0.5)
      .describe(
        'Env acceptance: the fraction of the tests reported at base (skipped ones aside) that must really run (pass or fail, not error); one running test is not a working environment',
      ),
    mutation: MutationSettings.prefault({}),
  })
  .strict()
  .describe('How the FAIL_TO_PASS and PASS_TO_PASS labels of an instance are established and checked');

export const ENVIRONMENT_RETENTIONS = ['verified', 'none'] as const;

/**
 * Environments built once per toolchain + recipe + lock and reused by later stages and by
 * instances that share them. The environment of a Rejected instance is never kept.
 */
export const EnvironmentSettings = z
  .object({
    retention: z
      .enum(ENVIRONMENT_RETENTIONS)
      .default('verified')
      .describe(
        'Which prepared environments outlive their instances: verified (those a Verified instance uses) or none (each is deleted once no unfinished instance uses it)',
      ),
    registry: z
      .string()
      .regex(
        /^[A-Za-z0-9.-]+(:[0-9]+)?(\/[a-z0-9]+([._-][a-z0-9]+)*)+$/,
        'must be host[:port]/repository, e.g. registry.example.com:5000/scaleswe/envs',
      )
      .optional()
      .describe(
        'Cluster: repository environment images are pushed to (host[:port]/path; tag env-<key>). After EnvReady a build pod appends the prepared environment to the sandbox image, which must be pullable from this registry host; later stage pods run the image by digest. Unset: every stage replays the setup',
      ),
    pushSecretRef: z
      .object({ name: z.string().min(1).describe('Secret name, in the namespace of the CurationRun') })
      .strict()
      .optional()
      .describe(
        'kubernetes.io/dockerconfigjson Secret with push credentials: mounted only into the trusted push container of build pods (never where setup code runs) and read by the operator to delete images of Rejected instances',
      ),
    pullSecretRef: z
      .object({ name: z.string().min(1).describe('Secret name, in the namespace of the CurationRun') })
      .strict()
      .optional()
      .describe('imagePullSecret of the stage pods that run environment images'),
    plainHTTP: z
      .boolean()
      .default(false)
      .describe(
        'Speak plain HTTP to the registry (a registry on the node or loopback; containerd must allow it too)',
      ),
    buildDiskLimit: z
      .string()
      .regex(/^[0-9]+(\.[0-9]+)?(Ki|Mi|Gi|Ti|k|M|G|T)?$/, 'must be a quantity such as 20Gi')
      .optional()
      .describe("Size limit of a build pod's scratch volumes; past it the build fails as EnvImageOutOfDisk"),
  })
  .strict()
  .describe(
    'Prepared environments (set up once per toolchain, recipe and lock, then reused by later stages and by instances that share them): retention and the registry of environment images',
  );
export type EnvironmentSettings = z.infer<typeof EnvironmentSettings>;

/**
 * Optional solve stage (issue #16): after an instance is Verified, a coding agent is given its
 * problem statement and the base checkout `attempts` times; each submitted patch is graded by
 * FAIL_TO_PASS / PASS_TO_PASS. A measurement (solve rate, pass@k), never a gate.
 */
export const SolveSettings = z
  .object({
    attempts: z
      .number()
      .int()
      .min(1)
      .max(100)
      .default(1)
      .describe('Solve attempts per Verified instance (k of pass@k)'),
    maxTurns: z
      .number()
      .int()
      .min(1)
      .max(500)
      .default(50)
      .describe(
        "Model turns one solve attempt may take before it ends unsubmitted (its work tree's diff is still graded)",
      ),
    maxTokens: z
      .number()
      .int()
      .min(1000)
      .default(200000)
      .describe(
        'LLM tokens one solve attempt may spend (its own budget, apart from llm.tokenBudgetPerInstance)',
      ),
  })
  .strict()
  .describe(
    'Solve Verified instances with a coding agent (needs llm): per attempt a trajectory, a patch and its grade; per instance the solve rate and pass@k. Absent: no solve stage',
  );
export type SolveSettings = z.infer<typeof SolveSettings>;

export const CurationRunSpecObject = z
  .object({
    source: Source,
    filters: Filters.prefault({}),
    limits: Limits.prefault({}),
    agents: Agents.prefault({}),
    llm: Llm.optional().describe(
      "OpenAI-compatible LLM the agents reach through the operator's gateway; without llm only deterministic recipes and PR tests/issue texts are used",
    ),
    sandbox: Sandbox.prefault({}),
    verification: Verification.prefault({}),
    environment: EnvironmentSettings.prefault({}),
    solve: SolveSettings.optional(),
    suspend: z.boolean().default(false).describe('Pause: no new instances or pods; progress is kept'),
  })
  .strict()
  .describe(
    'Desired state of the run: where pull requests come from, which are kept, and how their instances are built and verified',
  );

/** Shared by CurationRun.spec and Campaign.spec.template. */
export const SOLVE_NEEDS_LLM = {
  cel: '!has(self.solve) || has(self.llm)',
  message: 'solve needs an llm section: the solving agent is an LLM',
  field: 'solve',
  check: (s: { solve?: unknown; llm?: unknown }) => s.solve === undefined || s.llm !== undefined,
};

export const CurationRunSpec = withRules(CurationRunSpecObject, [SOLVE_NEEDS_LLM]);
export type CurationRunSpec = z.infer<typeof CurationRunSpec>;
export type CurationRunSpecInput = z.input<typeof CurationRunSpec>;

export const RUN_PHASES = ['Pending', 'Mining', 'Running', 'Suspended', 'Succeeded', 'Failed'] as const;
export const RunPhase = z.enum(RUN_PHASES);
export type RunPhase = z.infer<typeof RunPhase>;

const count = z.number().int().min(0);

export const RunCounts = z
  .object({
    discovered: count.default(0).describe('PRs seen by mining'),
    rejected: count.default(0).describe('PRs rejected by the candidate filter'),
    instances: count.default(0).describe('SWEInstances created'),
    running: count.default(0).describe('Instances not finished yet'),
    verified: count.default(0).describe('Instances Verified'),
    failed: count.default(0).describe('Instances rejected by an agent or verification, or failed'),
  })
  .strict();
export type RunCounts = z.infer<typeof RunCounts>;

export const CurationRunStatus = z
  .object({
    observedGeneration: ObservedGeneration,
    phase: RunPhase.optional().describe(
      'Pending (nothing mined yet), Mining (finding PRs, creating instances), Running (mining done, instances in flight), Suspended, Succeeded (every instance finished) or Failed (invalid spec or unusable source; not retried)',
    ),
    progress: z
      .string()
      .optional()
      .describe('finished/created instances (finished: verified, rejected or failed), for printer columns'),
    conditions: z
      .array(Condition)
      .optional()
      .describe(
        'Ready (False with the reason while the source fails or the run is suspended) and Succeeded (True once every instance finished)',
      ),
    counts: RunCounts.optional().describe('The mining funnel and the instances by state'),
    rejectedByReason: z.record(z.string(), count).optional().describe('Candidate funnel: rejects per reason'),
    failedByReason: z.record(z.string(), count).optional().describe('Instance failures per reason'),
    cost: RunCostStatus.optional().describe(
      'Tokens and (with spec.llm.price) dollars: in all, per Verified instance, per resolved solve attempt',
    ),
    cursor: z
      .object({
        github: z.string().optional().describe('Opaque resume token of the GitHub source'),
        git: z
          .string()
          .optional()
          .describe(
            'Resume token of the git source: the last mined commit, or the position in filters.pullNumbers or filters.commits',
          ),
        exhausted: z.boolean().optional().describe('Mining reached the end of the window'),
      })
      .strict()
      .optional()
      .describe('Where mining resumes, e.g. after an operator restart'),
    startedAt: z.string().optional().describe('When the operator first reconciled the run (RFC 3339)'),
    completedAt: z.string().optional().describe('When the run Succeeded or Failed (RFC 3339)'),
  })
  .strict()
  .describe('Observed state of the run, written by the operator');
export type CurationRunStatus = z.infer<typeof CurationRunStatus>;

export const CurationRun = z.object({
  apiVersion: z.literal(API_VERSION),
  kind: z.literal('CurationRun'),
  metadata: ObjectMeta,
  spec: CurationRunSpec,
  status: CurationRunStatus.optional(),
});
export type CurationRun = z.infer<typeof CurationRun>;
