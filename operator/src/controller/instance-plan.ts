import type { CurationRun, Stage, SWEInstance, SWEInstanceStatus } from '../api/index.ts';
import {
  applyStageFailure,
  applyStageResult,
  initialStatus,
  isTerminal,
  nextStage,
  type PipelineOptions,
  startStage,
} from '../pipeline/pipeline.ts';
import {
  classifyPodFailure,
  type DecodedStageResult,
  type ObservedPod,
  pendingDeadline,
  stagePodName,
} from '../sandbox/index.ts';

/** A sandbox pod as the planner sees it (from the informer cache). */
export interface ObservedStagePod extends ObservedPod {
  metadata: ObservedPod['metadata'] & { name?: string; deletionTimestamp?: Date | string };
}

export interface InstanceObservation {
  instance: SWEInstance;
  /** Its CurationRun (parsed, defaults applied); undefined while not in the cache. */
  run: CurationRun | undefined;
  /** Pods owned by the instance. */
  pods: readonly ObservedStagePod[];
  /** Results read from succeeded pods (log, termination message), by pod name. */
  results?: ReadonlyMap<string, DecodedStageResult>;
  now: Date;
}

export interface InstanceEvent {
  type: 'Normal' | 'Warning';
  reason: string;
  message: string;
}

/**
 * What the SWEInstance reconciler should do, in this order: write `status` (when it
 * differs), then delete `deletePods` (a pod goes only after its result is in status), then
 * create `createPod` (then its input Secret). `readResultOf`: read this succeeded pod's
 * result and plan again. `pendingPod`: the current pod has not started; its input Secret must
 * exist (an operator that died between creating the pod and the Secret left none).
 */
export interface InstancePlan {
  status: SWEInstanceStatus;
  createPod?: { stage: Stage; attempt: number; name: string };
  pendingPod?: { stage: Stage; attempt: number; name: string };
  deletePods: string[];
  readResultOf?: string;
  requeueAfterMs?: number;
  events: InstanceEvent[];
}

export const AGENT_CONTAINER = 'agent';

export function terminationMessageOf(pod: ObservedPod): string | undefined {
  const container = pod.status?.containerStatuses?.find((c) => c.name === AGENT_CONTAINER);
  return container?.state?.terminated?.message;
}

function later(a: number | undefined, b: number | undefined): number | undefined {
  if (a === undefined) return b;
  if (b === undefined) return a;
  return Math.min(a, b);
}

/**
 * The SWEInstance stage machine: observed instance + observed pods → next action. Pure;
 * every transition of the status itself is the pipeline's (shared with the local CLI).
 */
export function planInstance(obs: InstanceObservation): InstancePlan {
  const { instance, run, pods, now } = obs;
  const name = instance.metadata.name ?? '';
  const generation = instance.metadata.generation;
  const live = pods.filter((p) => !p.metadata?.deletionTimestamp);
  const plan: InstancePlan = { status: instance.status ?? {}, deletePods: [], events: [] };
  if (!run) return plan; // the owner is not in the cache yet (or gone: GC deletes us)

  const opts: PipelineOptions = {
    now,
    maxAttempts: run.spec.agents.maxAttempts,
    ...(generation !== undefined && { generation }),
  };
  let status: SWEInstanceStatus =
    instance.status?.phase === undefined ? initialStatus(opts) : { ...instance.status };
  if (generation !== undefined) status.observedGeneration = generation;

  const stage = nextStage(status);
  if (isTerminal(status) || stage === undefined) {
    plan.status = status;
    plan.deletePods = live.map((p) => p.metadata?.name ?? '');
    return plan;
  }
  const attempt = (status.attempts?.[stage] ?? 0) + 1;
  const currentName = stagePodName(name, stage, attempt);
  const current = live.find((p) => p.metadata?.name === currentName);
  // Pods of finished stages or failed attempts: their outcome is already in status.
  plan.deletePods = live.filter((p) => p !== current).map((p) => p.metadata?.name ?? '');

  if (!current) {
    const retryAt = status.retryAfter ? Date.parse(status.retryAfter) : undefined;
    if (run.spec.suspend) {
      plan.status = status;
      return plan;
    }
    if (retryAt !== undefined && retryAt > now.getTime()) {
      plan.status = status;
      plan.requeueAfterMs = retryAt - now.getTime();
      return plan;
    }
    plan.status = { ...startStage(status, stage, opts), retryAfter: undefined };
    plan.createPod = { stage, attempt, name: currentName };
    return plan;
  }

  const phase = current.status?.phase;
  if (phase === 'Succeeded') {
    const decoded = obs.results?.get(currentName);
    if (!decoded) {
      plan.status = status;
      plan.readResultOf = currentName;
      return plan;
    }
    if (decoded.ok && decoded.result.stage === stage) {
      status = applyStageResult(status, decoded.result, opts);
    } else {
      const [reason, message] = decoded.ok
        ? ['ResultCorrupt', `pod ${currentName} returned a result for stage ${decoded.result.stage}`]
        : [decoded.reason, decoded.message];
      status = applyStageFailure(status, stage, reason, message, opts);
    }
    plan.deletePods.push(currentName);
  } else {
    const failure = classifyPodFailure(current, {
      now,
      pendingTimeoutSeconds: run.spec.sandbox.pendingTimeoutSeconds,
    });
    if (!failure) {
      plan.status = status;
      if (phase === undefined || phase === 'Pending') {
        plan.pendingPod = { stage, attempt, name: currentName };
        const deadline = pendingDeadline(current, run.spec.sandbox.pendingTimeoutSeconds);
        if (deadline) plan.requeueAfterMs = Math.max(0, deadline.getTime() - now.getTime()) + 1000;
      }
      return plan;
    }
    status = applyStageFailure(status, stage, failure.reason, failure.message, opts);
    plan.deletePods.push(currentName);
  }

  plan.events.push(...transitionEvents(instance.status, status, stage));
  if (!isTerminal(status) && !status.retryAfter) {
    // The next stage can start in the same reconcile: one round trip less per stage.
    const next = planInstance({
      ...obs,
      instance: { ...instance, status },
      pods: live.filter((p) => p !== current),
    });
    return {
      ...next,
      deletePods: [...new Set([...plan.deletePods, ...next.deletePods])],
      events: plan.events,
    };
  }
  plan.status = status;
  if (status.retryAfter)
    plan.requeueAfterMs = later(plan.requeueAfterMs, Date.parse(status.retryAfter) - now.getTime());
  return plan;
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
