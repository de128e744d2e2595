import {
  type Condition,
  type CurationRunSpec,
  type InstancePhase,
  STAGE_CONDITION,
  STAGES,
  type Stage,
  type StageInput,
  type StageResult,
  type SWEInstanceSpec,
  type SWEInstanceStatus,
  setCondition,
} from '../api/index.ts';

/**
 * The per-instance pipeline as pure functions over SWEInstance.status, shared by the
 * operator (one pod per stage) and the local CLI (one process per stage).
 */

const STAGE_PHASE: Record<Stage, InstancePhase> = {
  env: 'Env',
  tests: 'Tests',
  prompt: 'Prompt',
  verify: 'Verify',
};
const TERMINAL_PHASES: ReadonlySet<InstancePhase> = new Set(['Verified', 'Rejected', 'Failed']);

export function isTerminal(status: SWEInstanceStatus | undefined): boolean {
  return status?.phase !== undefined && TERMINAL_PHASES.has(status.phase);
}

/** The first stage whose condition is not yet True; undefined when all are done. */
export function nextStage(status: SWEInstanceStatus | undefined): Stage | undefined {
  if (isTerminal(status)) return undefined;
  return STAGES.find(
    (stage) => status?.conditions?.find((c) => c.type === STAGE_CONDITION[stage])?.status !== 'True',
  );
}

export interface PipelineOptions {
  now: Date;
  generation?: number;
  maxAttempts: number;
}

/** Exponential backoff for retried stages: 10s, 20s, 40s … capped at 10 minutes. */
export function retryDelayMs(failedAttempts: number): number {
  return Math.min(10_000 * 2 ** Math.max(0, failedAttempts - 1), 600_000);
}

function attemptsOf(status: SWEInstanceStatus): NonNullable<SWEInstanceStatus['attempts']> {
  return { env: 0, tests: 0, prompt: 0, verify: 0, ...status.attempts };
}

function withCondition(
  status: SWEInstanceStatus,
  type: string,
  value: Condition['status'],
  reason: string,
  message: string,
  opts: PipelineOptions,
): Condition[] {
  return setCondition(
    status.conditions ?? [],
    {
      type,
      status: value,
      reason,
      message: message.slice(0, 32_000),
      ...(opts.generation === undefined ? {} : { observedGeneration: opts.generation }),
    },
    opts.now,
  );
}

/** Status for an instance seen for the first time: every stage condition Unknown. */
export function initialStatus(opts: PipelineOptions): SWEInstanceStatus {
  let status: SWEInstanceStatus = { phase: 'Pending', attempts: { env: 0, tests: 0, prompt: 0, verify: 0 } };
  for (const stage of STAGES) {
    status = {
      ...status,
      conditions: withCondition(status, STAGE_CONDITION[stage], 'Unknown', 'Pending', '', opts),
    };
  }
  return { ...status, ...(opts.generation === undefined ? {} : { observedGeneration: opts.generation }) };
}

/** Marks `stage` as started (phase and startedAt); attempts are counted when it ends. */
export function startStage(
  status: SWEInstanceStatus,
  stage: Stage,
  opts: PipelineOptions,
): SWEInstanceStatus {
  return { ...status, phase: STAGE_PHASE[stage], startedAt: status.startedAt ?? opts.now.toISOString() };
}

/** Folds an agent's result for `result.stage` into the status. */
export function applyStageResult(
  status: SWEInstanceStatus,
  result: StageResult,
  opts: PipelineOptions,
): SWEInstanceStatus {
  const stage = result.stage;
  if (result.outcome === 'failed')
    return applyStageFailure(status, stage, result.reason, result.message, opts);
  const attempts = { ...attemptsOf(status), [stage]: attemptsOf(status)[stage] + 1 };
  const tokensUsed = (status.tokensUsed ?? 0) + result.tokensUsed;
  const conditionType = STAGE_CONDITION[stage];

  if (result.outcome === 'rejected') {
    return {
      ...status,
      attempts,
      tokensUsed,
      phase: 'Rejected',
      conditions: withCondition(status, conditionType, 'False', result.reason, result.message, opts),
      lastError: { stage, reason: result.reason, message: result.message, time: opts.now.toISOString() },
      retryAfter: undefined,
      completedAt: opts.now.toISOString(),
    };
  }

  const merged: SWEInstanceStatus = {
    ...status,
    attempts,
    tokensUsed,
    conditions: withCondition(status, conditionType, 'True', result.reason, result.message, opts),
    retryAfter: undefined,
    ...(result.recipe && { recipe: result.recipe }),
    ...(result.testsSource && { testsSource: result.testsSource }),
    ...(result.generatedTestPatch !== undefined && { generatedTestPatch: result.generatedTestPatch }),
    ...(result.FAIL_TO_PASS && { FAIL_TO_PASS: result.FAIL_TO_PASS }),
    ...(result.PASS_TO_PASS && { PASS_TO_PASS: result.PASS_TO_PASS }),
    ...(result.problemStatement !== undefined && { problemStatement: result.problemStatement }),
    ...(result.problemStatementSource && { problemStatementSource: result.problemStatementSource }),
    ...(result.hintsText !== undefined && { hintsText: result.hintsText }),
  };
  const following = nextStage(merged);
  return following === undefined
    ? { ...merged, phase: 'Verified', lastError: undefined, completedAt: opts.now.toISOString() }
    : { ...merged, phase: STAGE_PHASE[following] };
}

/**
 * An infrastructure failure (pod evicted, OOMKilled, deadline, corrupt result, agent
 * crash): retried with backoff until maxAttempts, then the instance is Failed.
 */
export function applyStageFailure(
  status: SWEInstanceStatus,
  stage: Stage,
  reason: string,
  message: string,
  opts: PipelineOptions,
): SWEInstanceStatus {
  const count = attemptsOf(status)[stage] + 1;
  const attempts = { ...attemptsOf(status), [stage]: count };
  const lastError = { stage, reason, message: message.slice(0, 32_000), time: opts.now.toISOString() };
  if (count >= opts.maxAttempts) {
    return {
      ...status,
      attempts,
      phase: 'Failed',
      lastError,
      retryAfter: undefined,
      conditions: withCondition(
        status,
        STAGE_CONDITION[stage],
        'False',
        reason,
        `gave up after ${count} attempts: ${message}`,
        opts,
      ),
      completedAt: opts.now.toISOString(),
    };
  }
  return {
    ...status,
    attempts,
    phase: STAGE_PHASE[stage],
    lastError,
    retryAfter: new Date(opts.now.getTime() + retryDelayMs(count)).toISOString(),
  };
}

export interface StageInputArgs {
  runSpec: CurationRunSpec;
  instance: SWEInstanceSpec;
  status: SWEInstanceStatus | undefined;
  stage: Stage;
  /** Where the agents reach the LLM: the provider (local run) or the operator's gateway (pod). */
  llmEndpoint?: { baseURL: string; apiKey?: string | undefined } | undefined;
}

/**
 * What one stage gets to work with: the instance, what earlier stages established, and the
 * run's agent settings. The token budget is per instance, so each stage gets what is left.
 */
export function stageInputFor({ runSpec, instance, status, stage, llmEndpoint }: StageInputArgs): StageInput {
  const llm = runSpec.llm;
  const s = status ?? {};
  return {
    stage,
    instance,
    previous: {
      ...(s.recipe && { recipe: s.recipe }),
      ...(s.testsSource && { testsSource: s.testsSource }),
      ...(s.generatedTestPatch !== undefined && { generatedTestPatch: s.generatedTestPatch }),
      ...(s.FAIL_TO_PASS && { FAIL_TO_PASS: s.FAIL_TO_PASS }),
      ...(s.PASS_TO_PASS && { PASS_TO_PASS: s.PASS_TO_PASS }),
    },
    config: {
      maxTurns: runSpec.agents.maxTurns,
      reruns: runSpec.verification.reruns,
      generateTests: runSpec.filters.generateTests,
      commandTimeoutSeconds: 900,
      ...(llm &&
        llmEndpoint && {
          llm: {
            baseURL: llmEndpoint.baseURL,
            model: llm.model,
            ...(llmEndpoint.apiKey && { apiKey: llmEndpoint.apiKey }),
            tokenBudget: Math.max(1, llm.tokenBudgetPerInstance - (s.tokensUsed ?? 0)),
          },
        }),
    },
  };
}
