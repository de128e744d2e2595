import { z } from 'zod';
import { Condition } from './condition.ts';
import { Language } from './curation-run.ts';
import { API_VERSION, ObjectMeta } from './meta.ts';

export const STAGES = ['env', 'tests', 'prompt', 'verify'] as const;
export const Stage = z.enum(STAGES);
export type Stage = z.infer<typeof Stage>;

/** The condition each stage sets True when it succeeds, in pipeline order. */
export const STAGE_CONDITION = {
  env: 'EnvReady',
  tests: 'TestsReady',
  prompt: 'PromptReady',
  verify: 'Verified',
} as const satisfies Record<Stage, string>;

export const INSTANCE_PHASES = [
  'Pending',
  'Env',
  'Tests',
  'Prompt',
  'Verify',
  'Verified',
  'Rejected',
  'Failed',
] as const;
export const InstancePhase = z.enum(INSTANCE_PHASES);
export type InstancePhase = z.infer<typeof InstancePhase>;

export const LinkedIssue = z
  .object({
    number: z.number().int().min(1),
    title: z.string().default(''),
    body: z.string().default(''),
    hints: z.array(z.string()).default([]).describe('Issue comments made before the PR first commit'),
  })
  .strict();
export type LinkedIssue = z.infer<typeof LinkedIssue>;

export const SWEInstanceSpec = z
  .object({
    instanceId: z
      .string()
      .regex(/^[A-Za-z0-9_.-]+__[A-Za-z0-9_.-]+-[0-9]+$/, 'instanceId must be owner__repo-<PR>')
      .describe('SWE-bench instance_id: owner__repo-<PR>'),
    runRef: z.string().min(1).describe('Name of the owning CurationRun'),
    repo: z.string().regex(/^[A-Za-z0-9_.-]+\/[A-Za-z0-9_.-]+$/, 'repo must be owner/name'),
    cloneURL: z.string().min(1).describe('Where the sandbox fetches the base commit from'),
    pullNumber: z.number().int().min(1),
    title: z.string().default(''),
    body: z.string().default(''),
    baseCommit: z.string().regex(/^[0-9a-f]{40}$/, 'baseCommit must be a 40-hex commit id'),
    mergeCommit: z.string().optional(),
    patch: z.string().describe('Gold patch: the non-test part of the PR diff'),
    testPatch: z.string().default('').describe('Test part of the PR diff (may be empty)'),
    issues: z.array(LinkedIssue).default([]),
    createdAt: z.string().describe('PR creation time (RFC 3339)'),
    mergedAt: z.string().optional().describe('PR merge time (RFC 3339)'),
    language: Language,
  })
  .strict();
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
    resultFormat: ResultFormat,
    image: z.string().optional(),
    source: z.enum(['deterministic', 'llm']).optional().describe('Which path produced the recipe'),
  })
  .strict();
export type Recipe = z.infer<typeof Recipe>;

export const LastError = z
  .object({
    stage: Stage.optional(),
    reason: z.string(),
    message: z.string(),
    time: z.string(),
  })
  .strict();

export const SWEInstanceStatus = z
  .object({
    observedGeneration: z.number().int().min(0).optional(),
    phase: InstancePhase.optional(),
    conditions: z.array(Condition).optional(),
    attempts: z
      .object({
        env: z.number().int().min(0).default(0),
        tests: z.number().int().min(0).default(0),
        prompt: z.number().int().min(0).default(0),
        verify: z.number().int().min(0).default(0),
      })
      .strict()
      .optional(),
    retryAfter: z.string().optional().describe('Next attempt not before this time (backoff)'),
    recipe: Recipe.optional(),
    testsSource: z.enum(['pr', 'generated']).optional(),
    generatedTestPatch: z.string().optional().describe('Tests written by TestAgent when the PR had none'),
    FAIL_TO_PASS: z.array(z.string()).optional(),
    PASS_TO_PASS: z.array(z.string()).optional(),
    problemStatement: z.string().optional(),
    problemStatementSource: z.enum(['issue', 'pr', 'llm']).optional(),
    hintsText: z.string().optional(),
    tokensUsed: z.number().int().min(0).optional(),
    lastError: LastError.optional(),
    startedAt: z.string().optional(),
    completedAt: z.string().optional(),
  })
  .strict();
export type SWEInstanceStatus = z.infer<typeof SWEInstanceStatus>;

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
