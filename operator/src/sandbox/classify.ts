import type { InfraFailure } from '../api/index.ts';

/**
 * Why a sandbox pod ended without a result, from its observed status alone (pure): pod facts
 * mapped to the one failure vocabulary (api/failures.ts), retried with backoff.
 */
export type PodFailure = InfraFailure & {
  reason:
    | 'OOMKilled'
    | 'DeadlineExceeded'
    | 'Evicted'
    | 'ImagePullFailed'
    | 'PendingTimeout'
    | 'AgentCrashed';
};

/** The subset of V1Pod read here; timestamps may be Date (typed client) or string (watch). */
export interface ObservedPod {
  metadata?: { name?: string; creationTimestamp?: Date | string };
  status?: {
    phase?: string;
    reason?: string;
    message?: string;
    startTime?: Date | string;
    containerStatuses?: ContainerStatus[];
    initContainerStatuses?: ContainerStatus[];
  };
}

interface ContainerStatus {
  name: string;
  state?: {
    waiting?: { reason?: string; message?: string };
    terminated?: { reason?: string; message?: string; exitCode?: number };
  };
}

export interface ClassifyOptions {
  now?: Date;
  pendingTimeoutSeconds?: number;
}

const IMAGE_PULL_REASONS = new Set([
  'ErrImagePull',
  'ImagePullBackOff',
  'InvalidImageName',
  'ErrImageNeverPull',
  'RegistryUnavailable',
]);

function statuses(pod: ObservedPod): ContainerStatus[] {
  return [...(pod.status?.initContainerStatuses ?? []), ...(pod.status?.containerStatuses ?? [])];
}

function summarize(text: string | undefined, fallback: string): string {
  return (text ?? '').trim().slice(0, 1000) || fallback;
}

/**
 * undefined: the pod is fine (running, succeeded, or pending within its time). A pending
 * pod only fails on image pulls or when `pendingTimeoutSeconds` passed since creation.
 */
export function classifyPodFailure(pod: ObservedPod, opts: ClassifyOptions = {}): PodFailure | undefined {
  const phase = pod.status?.phase ?? 'Pending';
  if (phase === 'Succeeded' || phase === 'Running') return undefined;

  for (const s of statuses(pod)) {
    const terminated = s.state?.terminated;
    if (terminated?.reason === 'OOMKilled')
      return { reason: 'OOMKilled', message: `container ${s.name} ran out of memory` };
  }
  if (pod.status?.reason === 'DeadlineExceeded')
    return {
      reason: 'DeadlineExceeded',
      message: summarize(pod.status.message, 'stage exceeded its deadline'),
    };
  if (pod.status?.reason === 'Evicted')
    return { reason: 'Evicted', message: summarize(pod.status.message, 'pod was evicted') };
  for (const s of statuses(pod)) {
    const waiting = s.state?.waiting;
    if (waiting?.reason && IMAGE_PULL_REASONS.has(waiting.reason))
      return {
        reason: 'ImagePullFailed',
        message: `container ${s.name}: ${waiting.reason}: ${summarize(waiting.message, 'image not available')}`,
      };
  }

  if (phase === 'Failed') {
    const failed = statuses(pod).find((s) => (s.state?.terminated?.exitCode ?? 0) !== 0);
    const terminated = failed?.state?.terminated;
    // The runner exits 0 whenever it wrote a result: any other exit is a crash.
    return {
      reason: 'AgentCrashed',
      message: failed
        ? `container ${failed.name} exited with code ${terminated?.exitCode}: ${summarize(terminated?.message, terminated?.reason ?? '')}`
        : summarize(pod.status?.message, 'pod failed'),
    };
  }

  // Pending (or Unknown): give it until the pending timeout.
  const created = pod.metadata?.creationTimestamp;
  if (opts.now && opts.pendingTimeoutSeconds !== undefined && created !== undefined) {
    const ageMs = opts.now.getTime() - new Date(created).getTime();
    if (ageMs > opts.pendingTimeoutSeconds * 1000)
      return {
        reason: 'PendingTimeout',
        message: `pod did not start within ${opts.pendingTimeoutSeconds}s`,
      };
  }
  return undefined;
}

/** When a pending pod will time out, for requeueAfter. */
export function pendingDeadline(pod: ObservedPod, pendingTimeoutSeconds: number): Date | undefined {
  const created = pod.metadata?.creationTimestamp;
  if (created === undefined) return undefined;
  return new Date(new Date(created).getTime() + pendingTimeoutSeconds * 1000);
}
