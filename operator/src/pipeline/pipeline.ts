import {
  type CarriedStatus,
  type Condition,
  type CurationRunSpec,
  type RememberedRecipe,
  STAGE_CONDITION,
  STAGE_PHASE,
  STAGES,
  type Stage,
  type StageInput,
  type StageResult,
  type SWEInstanceSpec,
  type SWEInstanceStatus,
  setCondition,
  stageRow,
  TERMINAL_PHASES,
  yieldsOnReject,
} from '../api/index.ts';

/**
 * The per-instance pipeline as pure functions over SWEInstance.status, shared by the
 * operator (one pod per stage) and the local CLI (one process per stage).
 */

export function isTerminal(status: SWEInstanceStatus | undefined): boolean {
  return status?.phase !== undefined && TERMINAL_PHASES.has(status.phase);
}

/** The first stage whose condition is not yet True; undefined when all are done. */
export function nextStage(status: SWEInstanceStatus | undefined): Stage | undefined {
  if (isTerminal(status)) return undefined;
  return nextStageIgnoringPhase(status ?? {});
}

/** Where a finished instance stopped: the first stage whose condition is not True (none when Verified). */
export function endStage(status: SWEInstanceStatus | undefined): Stage | undefined {
  return status && isTerminal(status) ? nextStageIgnoringPhase(status) : undefined;
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

type Attempts = NonNullable<SWEInstanceStatus['attempts']>;

function noAttempts(): Attempts {
  return Object.fromEntries(STAGES.map((s) => [s, 0])) as Attempts;
}

function attemptsOf(status: SWEInstanceStatus): Attempts {
  return { ...noAttempts(), ...status.attempts };
}

/** The attempt number the next run of `stage` gets. */
export function nextAttempt(status: SWEInstanceStatus | undefined, stage: Stage): number {
  return (status?.attempts?.[stage] ?? 0) + 1;
}

/** Copies the fields a stage's row lists (`yields` into status, `needs` into its input). */
function pick(from: CarriedStatus, fields: readonly (keyof CarriedStatus)[]): CarriedStatus {
  const out: Record<string, unknown> = {};
  for (const f of fields) if (from[f] !== undefined) out[f] = from[f];
  return out as CarriedStatus;
}

function withDuration(status: SWEInstanceStatus, stage: Stage, durationMs: number | undefined) {
  return durationMs === undefined
    ? status.stageDurationsMs
    : { ...status.stageDurationsMs, [stage]: Math.round(durationMs) };
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
  let status: SWEInstanceStatus = { phase: 'Pending', attempts: noAttempts() };
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
    return applyStageFailure(status, stage, result.reason, result.message, opts, result.durationMs);
  const attempts = { ...attemptsOf(status), [stage]: attemptsOf(status)[stage] + 1 };
  const tokensUsed = (status.tokensUsed ?? 0) + result.tokensUsed;
  // Input and output apart, for llm.price; kept only once some stage reported them (an LLM).
  const split = [status, result].some((r) => r.inputTokens !== undefined || r.outputTokens !== undefined);
  const tokenSplit = split
    ? {
        inputTokens: (status.inputTokens ?? 0) + (result.inputTokens ?? 0),
        outputTokens: (status.outputTokens ?? 0) + (result.outputTokens ?? 0),
      }
    : {};
  const conditionType = STAGE_CONDITION[stage];
  const stageDurationsMs = withDuration(status, stage, result.durationMs);

  if (result.outcome === 'rejected') {
    return {
      ...status,
      attempts,
      stageDurationsMs,
      tokensUsed,
      ...tokenSplit,
      phase: 'Rejected',
      conditions: withCondition(status, conditionType, 'False', result.reason, result.message, opts),
      lastError: { stage, reason: result.reason, message: result.message, time: opts.now.toISOString() },
      retryAfter: undefined,
      completedAt: opts.now.toISOString(),
      ...pick(result, yieldsOnReject(stage)),
    };
  }

  const merged: SWEInstanceStatus = {
    ...status,
    attempts,
    stageDurationsMs,
    tokensUsed,
    ...tokenSplit,
    conditions: withCondition(status, conditionType, 'True', result.reason, result.message, opts),
    retryAfter: undefined,
    ...pick(result, stageRow(stage).yields),
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
  durationMs?: number,
): SWEInstanceStatus {
  const count = attemptsOf(status)[stage] + 1;
  const attempts = { ...attemptsOf(status), [stage]: count };
  const stageDurationsMs = withDuration(status, stage, durationMs);
  const lastError = { stage, reason, message: message.slice(0, 32_000), time: opts.now.toISOString() };
  if (count - (status.retriedAttempts?.[stage] ?? 0) >= opts.maxAttempts) {
    return {
      ...status,
      attempts,
      stageDurationsMs,
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
    stageDurationsMs,
    phase: STAGE_PHASE[stage],
    lastError,
    retryAfter: new Date(opts.now.getTime() + retryDelayMs(count)).toISOString(),
  };
}

/**
 * A user's retry of a Failed instance (`scaleswe retry`): the failed stage runs again with a
 * fresh attempt budget. Attempt numbers keep counting (recorded attempts are never reused);
 * the attempts so far are set aside. Anything but Failed is returned unchanged.
 */
export function retryFailed(status: SWEInstanceStatus, now: Date): SWEInstanceStatus {
  const stage = status.phase === 'Failed' ? nextStageIgnoringPhase(status) : undefined;
  if (!stage) return status;
  return {
    ...status,
    phase: STAGE_PHASE[stage],
    retryAfter: undefined,
    completedAt: undefined,
    retriedAttempts: { ...status.retriedAttempts, [stage]: attemptsOf(status)[stage] },
    conditions: withCondition(
      status,
      STAGE_CONDITION[stage],
      'Unknown',
      'RetryRequested',
      `retried by a user after ${attemptsOf(status)[stage]} attempts`,
      { now, maxAttempts: 0 },
    ),
  };
}

function nextStageIgnoringPhase(status: SWEInstanceStatus): Stage | undefined {
  return STAGES.find(
    (stage) => status.conditions?.find((c) => c.type === STAGE_CONDITION[stage])?.status !== 'True',
  );
}

export interface StageInputArgs {
  runSpec: CurationRunSpec;
  instance: SWEInstanceSpec;
  status: SWEInstanceStatus | undefined;
  stage: Stage;
  /** Where the agents reach the LLM: the provider (local run) or the operator's gateway (pod). */
  llmEndpoint?: { baseURL: string; apiKey?: string | undefined } | undefined;
  /** Recipes of other PRs of the repository (languages/recipe-memory.ts); only the env stage gets them. */
  remembered?: RememberedRecipe[] | undefined;
}

/**
 * What one stage gets to work with: the instance, what earlier stages established, and the
 * run's agent settings. The token budget is per instance, so each stage gets what is left.
 */
export function stageInputFor({
  runSpec,
  instance,
  status,
  stage,
  llmEndpoint,
  remembered,
}: StageInputArgs): StageInput {
  const llm = runSpec.llm;
  return {
    stage,
    instance,
    previous: pick(status ?? {}, stageRow(stage).needs),
    remembered: stage === 'env' ? (remembered ?? []) : [],
    config: {
      maxTurns: runSpec.agents.maxTurns,
      reruns: runSpec.verification.reruns,
      generateTests: runSpec.filters.generateTests,
      commandTimeoutSeconds: 900,
      testTimeoutSeconds: runSpec.verification.testTimeoutSeconds,
      perTestTimeoutSeconds: runSpec.verification.perTestTimeoutSeconds,
      testNetwork: runSpec.sandbox.testNetwork,
      testScope: runSpec.verification.scope,
      minBaseTestsRunRatio: runSpec.verification.minBaseTestsRunRatio,
      mutation: runSpec.verification.mutation,
      ...(llm &&
        llmEndpoint && {
          llm: {
            baseURL: llmEndpoint.baseURL,
            model: llm.model,
            ...(llmEndpoint.apiKey && { apiKey: llmEndpoint.apiKey }),
            tokenBudget: remainingTokenBudget(runSpec, status),
          },
        }),
    },
  };
}

/**
 * Tokens an instance may still spend: its run's per-instance budget less what earlier stages
 * used. The agents' client and the LLM gateway both stop at zero.
 */
export function remainingTokenBudget(
  runSpec: CurationRunSpec,
  status: SWEInstanceStatus | undefined,
): number {
  return Math.max(0, (runSpec.llm?.tokenBudgetPerInstance ?? 0) - (status?.tokensUsed ?? 0));
}
