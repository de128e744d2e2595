import type { ObservedAttempt } from '../pipeline/instance-plan.ts';
import {
  classifyPodFailure,
  type DecodedStageResult,
  type ObservedPod,
  pendingDeadline,
} from '../sandbox/index.ts';

/** A sandbox pod as the planner sees it (from the informer cache). */
export interface ObservedStagePod extends ObservedPod {
  metadata: ObservedPod['metadata'] & { name?: string; deletionTimestamp?: Date | string };
}

export function isPending(pod: ObservedPod): boolean {
  const phase = pod.status?.phase;
  return phase === undefined || phase === 'Pending';
}

/** A stage pod as an attempt the pipeline's planner understands. Pure. */
export function observePod(
  pod: ObservedStagePod | undefined,
  result: DecodedStageResult | undefined,
  opts: { now: Date; pendingTimeoutSeconds: number },
): ObservedAttempt {
  if (!pod) return { state: 'absent' };
  if (pod.status?.phase === 'Succeeded') {
    if (!result) return { state: 'ended' };
    return result.ok
      ? { state: 'result', result: result.result }
      : { state: 'failed', failure: { reason: result.reason, message: result.message } };
  }
  const failure = classifyPodFailure(pod, opts);
  if (failure) {
    // Wall time as the operator sees it: from the pod's start (or creation) to now.
    const since = pod.status?.startTime ?? pod.metadata?.creationTimestamp;
    const durationMs = since === undefined ? undefined : opts.now.getTime() - new Date(since).getTime();
    return {
      state: 'failed',
      failure,
      ...(durationMs !== undefined && durationMs >= 0 && { durationMs }),
    };
  }
  if (!isPending(pod)) return { state: 'running' };
  const deadline = pendingDeadline(pod, opts.pendingTimeoutSeconds);
  return deadline
    ? { state: 'running', recheckAfterMs: Math.max(0, deadline.getTime() - opts.now.getTime()) + 1000 }
    : { state: 'running' };
}
