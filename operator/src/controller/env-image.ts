import {
  type CurationRun,
  ENV_IMAGE_CONDITION,
  EnvImageResult,
  envImageTag,
  type InfraFailure,
  type InstanceRecord,
  type SWEInstance,
  type SWEInstanceSpec,
  type SWEInstanceStatus,
  setCondition,
  TERMINAL_PHASES,
} from '../api/index.ts';
import type { InstanceEvent } from '../pipeline/instance-plan.ts';
import { retryDelayMs } from '../pipeline/pipeline.ts';
import { wantsSolve } from '../pipeline/solve.ts';
import {
  classifyPodFailure,
  ENV_IMAGE_PUSH_CONTAINER,
  envImagePodName,
  pendingDeadline,
} from '../sandbox/index.ts';
import type { ObservedStagePod } from './observe-pod.ts';

/**
 * The environment image step of the cluster (pure). After EnvReady, when the run names a
 * registry, the instance's environment is built once into an image (a build pod, see
 * sandbox/env-image-pod.ts) and every later stage pod runs that image by digest. The step is
 * not a row of the stage table: the local mode captures the same environment inside its env
 * stage (a snapshot), so a row would be a no-op stage there. It is retried like a stage
 * (maxAttempts, backoff); its failures are infrastructure failures, never a verdict.
 */

function conditionTrue(status: SWEInstanceStatus | undefined, type: string): boolean {
  return status?.conditions?.find((c) => c.type === type)?.status === 'True';
}

/** The run builds environment images and this instance has an environment to build. */
export function envImageWanted(run: CurationRun, status: SWEInstanceStatus | undefined): boolean {
  return (
    run.spec.environment.registry !== undefined &&
    conditionTrue(status, 'EnvReady') &&
    status?.environment?.key !== undefined &&
    status.recipe !== undefined
  );
}

/** Later stages wait: the image is wanted and not there yet. */
export function awaitingEnvImage(run: CurationRun, status: SWEInstanceStatus | undefined): boolean {
  return (
    envImageWanted(run, status) &&
    !status?.environment?.digest &&
    !(status?.phase !== undefined && TERMINAL_PHASES.has(status.phase))
  );
}

/** Where the environment of `key` is pushed: one tag per environment, shared by its instances. */
export function envImageTarget(run: CurationRun, key: string): string {
  return `${run.spec.environment.registry}:${envImageTag(key)}`;
}

/** The reference a stage pod runs (by digest), when the run uses environment images. */
export function envImageOf(run: CurationRun, status: SWEInstanceStatus | undefined): string | undefined {
  if (run.spec.environment.registry === undefined) return undefined;
  if (!conditionTrue(status, ENV_IMAGE_CONDITION)) return undefined;
  return status?.environment?.image;
}

type Seen =
  | { state: 'absent' }
  | { state: 'running'; recheckAfterMs?: number }
  | { state: 'pushed'; image: string; digest: string }
  | { state: 'failed'; failure: InfraFailure };

/** A build pod as an outcome: its push container's termination message, or its pod failure. */
export function observeEnvImagePod(
  pod: ObservedStagePod | undefined,
  opts: { now: Date; pendingTimeoutSeconds: number },
): Seen {
  if (!pod) return { state: 'absent' };
  if (pod.status?.phase === 'Succeeded') {
    const message = pod.status.containerStatuses?.find((c) => c.name === ENV_IMAGE_PUSH_CONTAINER)?.state
      ?.terminated?.message;
    let parsed: ReturnType<typeof EnvImageResult.safeParse> | undefined;
    try {
      parsed = EnvImageResult.safeParse(JSON.parse(message ?? ''));
    } catch {
      parsed = undefined;
    }
    if (!parsed?.success)
      return {
        state: 'failed',
        failure: {
          reason: message ? 'ResultCorrupt' : 'ResultMissing',
          message: 'the build pod left no readable result',
        },
      };
    const r = parsed.data;
    if (r.outcome === 'pushed' && r.image && r.digest)
      return { state: 'pushed', image: r.image, digest: r.digest };
    return {
      state: 'failed',
      failure: { reason: r.reason as InfraFailure['reason'], message: r.message },
    };
  }
  const failure = classifyPodFailure(pod, opts);
  if (failure) return { state: 'failed', failure };
  const deadline =
    pod.status?.phase === 'Running' ? undefined : pendingDeadline(pod, opts.pendingTimeoutSeconds);
  return deadline
    ? { state: 'running', recheckAfterMs: Math.max(0, deadline.getTime() - opts.now.getTime()) + 1000 }
    : { state: 'running' };
}

export interface EnvImageStep {
  status: SWEInstanceStatus;
  /** Create this build pod (attempt numbers start at 1). */
  createPod?: { attempt: number; name: string };
  /** The build pod in flight: not to be deleted. */
  keepPod?: string;
  requeueAfterMs?: number;
  events: InstanceEvent[];
}

export interface EnvImageObservation {
  instance: SWEInstance;
  run: CurationRun;
  status: SWEInstanceStatus;
  pods: readonly ObservedStagePod[];
  /** Other instances of the namespace: one whose image holds this environment is adopted, not rebuilt. */
  donors?: readonly InstanceRecord[] | undefined;
  now: Date;
}

function withEnvCondition(
  status: SWEInstanceStatus,
  value: 'True' | 'False' | 'Unknown',
  reason: string,
  message: string,
  now: Date,
  generation: number | undefined,
) {
  return setCondition(
    status.conditions ?? [],
    {
      type: ENV_IMAGE_CONDITION,
      status: value,
      reason,
      message: message.slice(0, 32_000),
      ...(generation !== undefined && { observedGeneration: generation }),
    },
    now,
  );
}

/**
 * An image another instance pushed that this one may run: the same environment key, and a
 * checkout that is this instance's own base commit, or — as the local mode's sharing rule —
 * a deterministic recipe derived from identical files whose donor merged before this PR was
 * opened (its tree cannot hold this fix; the stage moves the checkout to this base). Pure.
 */
export function shareableEnvImage(
  spec: SWEInstanceSpec,
  status: SWEInstanceStatus,
  donors: readonly InstanceRecord[],
): { image: string; digest: string } | undefined {
  const env = status.environment;
  if (!env) return undefined;
  for (const d of donors) {
    const de = d.status?.environment;
    if (!de?.image || !de.digest || de.key !== env.key || !conditionTrue(d.status, ENV_IMAGE_CONDITION))
      continue;
    const sameBase = d.spec.baseCommit === spec.baseCommit;
    const earlierSameSources =
      status.recipe?.source === 'deterministic' &&
      env.sources !== undefined &&
      env.sources === de.sources &&
      d.spec.mergedAt !== undefined &&
      Date.parse(d.spec.mergedAt) <= Date.parse(spec.createdAt);
    if (sameBase || earlierSameSources) return { image: de.image, digest: de.digest };
  }
  return undefined;
}

/** The next move of the environment image step; call only while `awaitingEnvImage`. */
export function planEnvImage(obs: EnvImageObservation): EnvImageStep {
  const { run, now } = obs;
  const generation = obs.instance.metadata.generation;
  let status = obs.status;
  const pushed = (image: string, digest: string, reason: string, message: string): EnvImageStep => ({
    status: {
      ...status,
      environment: { ...status.environment!, image, digest },
      retryAfter: undefined,
      conditions: withEnvCondition(status, 'True', reason, message, now, generation),
    },
    events: [{ type: 'Normal', reason, message }],
  });
  const shared = shareableEnvImage(obs.instance.spec, status, obs.donors ?? []);
  if (shared)
    return pushed(shared.image, shared.digest, 'Shared', `environment image ${shared.image} (shared)`);

  const attempt = (status.environmentBuilds ?? 0) + 1;
  const name = envImagePodName(obs.instance.metadata.name ?? '', attempt);
  const seen = observeEnvImagePod(
    obs.pods.find((p) => p.metadata?.name === name),
    { now, pendingTimeoutSeconds: run.spec.sandbox.pendingTimeoutSeconds },
  );
  switch (seen.state) {
    case 'absent': {
      if (run.spec.suspend) return { status, events: [] };
      const retryAt = status.retryAfter ? Date.parse(status.retryAfter) : undefined;
      if (retryAt !== undefined && retryAt > now.getTime())
        return { status, requeueAfterMs: retryAt - now.getTime(), events: [] };
      status = {
        ...status,
        retryAfter: undefined,
        conditions: withEnvCondition(
          status,
          'Unknown',
          'Building',
          `build attempt ${attempt}`,
          now,
          generation,
        ),
      };
      return { status, createPod: { attempt, name }, keepPod: name, events: [] };
    }
    case 'running':
      return {
        status,
        keepPod: name,
        ...(seen.recheckAfterMs !== undefined && { requeueAfterMs: seen.recheckAfterMs }),
        events: [],
      };
    case 'pushed':
      return pushed(seen.image, seen.digest, 'Pushed', `environment image ${seen.image}`);
    case 'failed': {
      const { reason, message } = seen.failure;
      const lastError = { reason, message: message.slice(0, 32_000), time: now.toISOString() };
      status = { ...status, environmentBuilds: attempt, lastError };
      if (attempt >= run.spec.agents.maxAttempts) {
        const text = `gave up after ${attempt} environment image builds: ${message}`;
        return {
          status: {
            ...status,
            phase: 'Failed',
            retryAfter: undefined,
            completedAt: now.toISOString(),
            conditions: withEnvCondition(status, 'False', reason, text, now, generation),
          },
          events: [{ type: 'Warning', reason, message: text }],
        };
      }
      const retryAfter = new Date(now.getTime() + retryDelayMs(attempt)).toISOString();
      return {
        status: {
          ...status,
          retryAfter,
          conditions: withEnvCondition(status, 'False', reason, message, now, generation),
        },
        requeueAfterMs: retryDelayMs(attempt),
        events: [
          {
            type: 'Warning',
            reason,
            message: `environment image build ${attempt} failed, retrying after ${retryAfter}: ${message}`,
          },
        ],
      };
    }
  }
}

/**
 * Retention (spec.environment.retention): once an instance is finished, its image is deleted
 * unless it is kept — `verified` keeps the images of Verified instances — or another
 * instance still uses the same digest (unfinished, or a kept one). Rejected instances' images
 * never outlive them. Pure.
 */
export function envImageToDelete(
  run: CurationRun,
  status: SWEInstanceStatus | undefined,
  others: readonly (SWEInstanceStatus | undefined)[],
): string | undefined {
  if (run.spec.environment.registry === undefined) return undefined;
  // A Verified instance still to be solved (spec.solve) runs its solve pods from the image.
  const kept = (s: SWEInstanceStatus | undefined) =>
    !(s?.phase !== undefined && TERMINAL_PHASES.has(s.phase)) ||
    (s.phase === 'Verified' &&
      (run.spec.environment.retention === 'verified' || wantsSolve(s, !!run.spec.solve)));
  if (kept(status)) return undefined;
  const digest = status?.environment?.digest;
  const image = status?.environment?.image;
  if (!digest || !image || !conditionTrue(status, ENV_IMAGE_CONDITION)) return undefined;
  return others.some((o) => o?.environment?.digest === digest && kept(o)) ? undefined : image;
}

/** Status after the image was deleted from the registry (the digest stays, for the record). */
export function markEnvImageDeleted(status: SWEInstanceStatus, now: Date): SWEInstanceStatus {
  return {
    ...status,
    conditions: withEnvCondition(
      status,
      'False',
      'Deleted',
      `deleted from the registry: the instance is ${status.phase}`,
      now,
      undefined,
    ),
  };
}
