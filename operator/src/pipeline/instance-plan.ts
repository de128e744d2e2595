import type { InfraFailure, Stage, StageOutcome, StageResult, SWEInstanceStatus } from '../api/index.ts';
import {
  applyStageFailure,
  applyStageResult,
  initialStatus,
  isTerminal,
  nextAttempt,
  nextStage,
  type PipelineOptions,
  startStage,
} from './pipeline.ts';

/**
 * The per-instance driver's decisions, for both modes: the operator (one pod per stage
 * attempt) and the local run (one process per stage attempt) observe an attempt, ask this
 * planner what to do, and carry out only what it says. Pure.
 */

/** What the executor sees of one stage attempt (a pod, or a process and its result file). */
export type ObservedAttempt =
  /** Never started (no pod, no recorded result). */
  | { state: 'absent' }
  /** Started and not finished (pod pending or running). `recheckAfterMs`: e.g. a pending deadline. */
  | { state: 'running'; recheckAfterMs?: number }
  /** Finished; its result has not been read yet (pod Succeeded, log not fetched). */
  | { state: 'ended' }
  /** Finished with a result (any outcome). */
  | { state: 'result'; result: StageResult }
  /** Finished without a usable result: an infrastructure failure. */
  | { state: 'failed'; failure: InfraFailure; durationMs?: number };

export interface AttemptRef {
  stage: Stage;
  attempt: number;
}

export interface InstanceSettings {
  maxAttempts: number;
  suspend: boolean;
}

export interface PlanInput {
  status: SWEInstanceStatus | undefined;
  generation?: number | undefined;
  settings: InstanceSettings;
  observe: (attempt: AttemptRef) => ObservedAttempt;
  now: Date;
}

/** A stage attempt whose outcome this plan records (for metrics: once, when status is written). */
export interface FinishedAttempt extends AttemptRef {
  outcome: StageOutcome;
  durationMs?: number;
}

export interface InstanceEvent {
  type: 'Normal' | 'Warning';
  reason: string;
  message: string;
}

/**
 * Carry out in this order: persist `status` (when it changed), then `start` the attempt
 * (its input is built from that status). `running`: the current attempt is in flight (keep
 * it). `readResult`: read the ended attempt's result, then plan again. Every other attempt's
 * pod or work dir is finished with: its outcome is in status. `finished`: the attempts whose
 * outcome this status records for the first time.
 */
export interface AttemptPlan {
  status: SWEInstanceStatus;
  start?: AttemptRef;
  running?: AttemptRef;
  readResult?: AttemptRef;
  requeueAfterMs?: number;
  events: InstanceEvent[];
  finished?: FinishedAttempt[];
}

export function planAttempt(input: PlanInput): AttemptPlan {
  const { settings, now, generation } = input;
  const opts: PipelineOptions = {
    now,
    maxAttempts: settings.maxAttempts,
    ...(generation !== undefined && { generation }),
  };
  let status: SWEInstanceStatus =
    input.status?.phase === undefined ? initialStatus(opts) : { ...input.status };
  if (generation !== undefined) status.observedGeneration = generation;

  const stage = nextStage(status);
  if (isTerminal(status) || stage === undefined) return { status, events: [] };
  const current: AttemptRef = { stage, attempt: nextAttempt(status, stage) };
  const seen = input.observe(current);

  let finished: FinishedAttempt;
  switch (seen.state) {
    case 'absent': {
      if (settings.suspend) return { status, events: [] };
      const retryAt = status.retryAfter ? Date.parse(status.retryAfter) : undefined;
      if (retryAt !== undefined && retryAt > now.getTime())
        return { status, requeueAfterMs: retryAt - now.getTime(), events: [] };
      return {
        status: { ...startStage(status, stage, opts), retryAfter: undefined },
        start: current,
        events: [],
      };
    }
    case 'running':
      return {
        status,
        running: current,
        ...(seen.recheckAfterMs !== undefined && { requeueAfterMs: seen.recheckAfterMs }),
        events: [],
      };
    case 'ended':
      return { status, readResult: current, events: [] };
    case 'result': {
      const matches = seen.result.stage === stage;
      status = matches
        ? applyStageResult(status, seen.result, opts)
        : applyStageFailure(
            status,
            stage,
            'ResultCorrupt',
            `attempt ${current.attempt} of ${stage} returned a result for stage ${seen.result.stage}`,
            opts,
          );
      finished = {
        ...current,
        outcome: matches ? seen.result.outcome : 'failed',
        durationMs: seen.result.durationMs,
      };
      break;
    }
    case 'failed':
      status = applyStageFailure(
        status,
        stage,
        seen.failure.reason,
        seen.failure.message,
        opts,
        seen.durationMs,
      );
      finished = {
        ...current,
        outcome: 'failed',
        ...(seen.durationMs !== undefined && { durationMs: seen.durationMs }),
      };
      break;
  }

  const events = transitionEvents(input.status, status, stage);
  if (!isTerminal(status) && !status.retryAfter) {
    // The next stage can start in the same step: one round trip less per stage.
    const next = planAttempt({ ...input, status });
    return { ...next, events: [...events, ...next.events], finished: [finished, ...(next.finished ?? [])] };
  }
  return {
    status,
    events,
    finished: [finished],
    ...(status.retryAfter && { requeueAfterMs: Date.parse(status.retryAfter) - now.getTime() }),
  };
}

function transitionEvents(
  before: SWEInstanceStatus | undefined,
  after: SWEInstanceStatus,
  stage: Stage,
): InstanceEvent[] {
  if (after.phase === before?.phase && after.lastError === before?.lastError) return [];
  const err = after.lastError;
  switch (after.phase) {
    case 'Verified':
      return [
        {
          type: 'Normal',
          reason: 'Verified',
          message: `verified: ${after.FAIL_TO_PASS?.length ?? 0} FAIL_TO_PASS tests`,
        },
      ];
    case 'Rejected':
      return [
        {
          type: 'Normal',
          reason: err?.reason ?? 'Rejected',
          message: `rejected at ${stage}: ${err?.message ?? ''}`,
        },
      ];
    case 'Failed':
      return [
        {
          type: 'Warning',
          reason: err?.reason ?? 'Failed',
          message: `failed at ${stage}: ${err?.message ?? ''}`,
        },
      ];
    default:
      if (after.retryAfter && err)
        return [
          {
            type: 'Warning',
            reason: err.reason,
            message: `stage ${stage} attempt ${after.attempts?.[stage] ?? 0} failed, retrying after ${after.retryAfter}: ${err.message}`,
          },
        ];
      return [];
  }
}
