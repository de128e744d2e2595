import type { CurationRun, InstanceRecord, SWEInstance, SWEInstanceStatus } from '../api/index.ts';
import {
  type AttemptRef,
  type FinishedAttempt,
  type InstanceEvent,
  planAttempt,
} from '../pipeline/instance-plan.ts';
import { isTerminal } from '../pipeline/pipeline.ts';
import { wantsSolve } from '../pipeline/solve.ts';
import { type DecodedStageResult, type ObservedPod, stagePodName } from '../sandbox/index.ts';
import { awaitingEnvImage, type EnvImageStep, planEnvImage } from './env-image.ts';
import { isPending, type ObservedStagePod, observePod } from './observe-pod.ts';
import { planSolve, type SolvePlan } from './solve-plan.ts';

export type { FinishedAttempt, InstanceEvent } from '../pipeline/instance-plan.ts';
export { type ObservedStagePod, observePod } from './observe-pod.ts';

export interface InstanceObservation {
  instance: SWEInstance;
  /** The other instances of the namespace, whose environment images may be adopted. */
  envImageDonors?: readonly InstanceRecord[] | undefined;
  /** Its CurationRun (parsed, defaults applied); undefined while not in the cache. */
  run: CurationRun | undefined;
  /** Pods owned by the instance. */
  pods: readonly ObservedStagePod[];
  /** Results read from succeeded pods (log, termination message), by pod name. */
  results?: ReadonlyMap<string, DecodedStageResult>;
  now: Date;
}

/**
 * What the SWEInstance reconciler should do, in this order: write `status` (when it
 * differs), then delete `deletePods` one by one, or all of `deleteAllPods` in one request (a
 * pod goes only after its result is in status), then create `createPod` (then its input
 * Secret, unless the input is in the pod's annotation). `readResultOf`: read this succeeded pod's
 * result and plan again. `pendingPod`: the current pod has not started; its input Secret must
 * exist (an operator that died between creating the pod and the Secret left none).
 */
export interface InstancePlan {
  status: SWEInstanceStatus;
  createPod?: { stage: AttemptRef['stage']; attempt: number; name: string };
  /** Create this environment image build pod (controller/env-image.ts). */
  createEnvImagePod?: { attempt: number; name: string };
  pendingPod?: { stage: AttemptRef['stage']; attempt: number; name: string };
  /** Pods no longer wanted that still hold a node's resources (pending or running): each goes at once. */
  deletePods: string[];
  /**
   * Nothing of the instance is in flight or about to start: every pod of the instance goes in
   * one `deletecollection` (these are the ones the cache shows, for the expectations).
   */
  deleteAllPods: string[];
  readResultOf?: string;
  requeueAfterMs?: number;
  events: InstanceEvent[];
  /** Stage attempts whose outcome `status` records for the first time (stage metrics). */
  finished: FinishedAttempt[];
  /** A Verified instance's solve stage (spec.solve): its pods to create, ensure and read. */
  solve?: Pick<SolvePlan, 'createPods' | 'pendingPods' | 'readResultsOf'>;
}

export const AGENT_CONTAINER = 'agent';

export function terminationMessageOf(pod: ObservedPod): string | undefined {
  const container = pod.status?.containerStatuses?.find((c) => c.name === AGENT_CONTAINER);
  return container?.state?.terminated?.message;
}

/**
 * A finished instance with nothing left to do: no pods of its own, its spec generation
 * observed, and no environment image in a registry (whose retention may still delete it).
 * planInstance would return its status unchanged, so the reconcile (every resync, for every
 * finished instance) need not read its content back from the dataset store. Pure.
 */
export function settled(
  instance: SWEInstance,
  run: CurationRun | undefined,
  pods: readonly ObservedStagePod[],
): boolean {
  const status = instance.status;
  if (!isTerminal(status) || pods.length > 0) return false;
  // A Verified instance the run still solves (spec.solve) has attempts to start.
  if (wantsSolve(status, run?.spec.solve !== undefined)) return false;
  const generation = instance.metadata.generation;
  if (generation !== undefined && status?.observedGeneration !== generation) return false;
  return !(run?.spec.environment.registry !== undefined && status?.environment?.digest !== undefined);
}

/**
 * The SWEInstance stage machine in the cluster: the pipeline's planner decides; this maps
 * pods to observed attempts and the plan back to pod actions. Pure.
 */
export function planInstance(obs: InstanceObservation): InstancePlan {
  const { instance, run, pods, now } = obs;
  const name = instance.metadata.name ?? '';
  const live = pods.filter((p) => !p.metadata?.deletionTimestamp);
  if (!run)
    return { status: instance.status ?? {}, deletePods: [], deleteAllPods: [], events: [], finished: [] }; // owner not cached yet (or gone: GC deletes us)

  const podName = (a: AttemptRef) => stagePodName(name, a.stage, a.attempt);
  const attemptPlan = (status: SWEInstance['status']) =>
    planAttempt({
      status,
      generation: instance.metadata.generation,
      settings: { maxAttempts: run.spec.agents.maxAttempts, suspend: run.spec.suspend },
      observe: (a) => {
        const pod = live.find((p) => p.metadata?.name === podName(a));
        return observePod(pod, obs.results?.get(podName(a)), {
          now,
          pendingTimeoutSeconds: run.spec.sandbox.pendingTimeoutSeconds,
        });
      },
      now,
    });
  let plan = attemptPlan(instance.status);
  let build: EnvImageStep | undefined;
  // While the environment image is wanted and missing, the build replaces whatever later
  // stage the pipeline would start: every stage after env runs from the image.
  if (awaitingEnvImage(run, plan.status)) {
    build = planEnvImage({ instance, run, status: plan.status, pods: live, donors: obs.envImageDonors, now });
    const events = [...plan.events, ...build.events];
    const finished = plan.finished ?? [];
    if (awaitingEnvImage(run, build.status)) {
      const requeueAfterMs = build.requeueAfterMs ?? plan.requeueAfterMs;
      plan = {
        status: build.status,
        events,
        finished,
        ...(requeueAfterMs !== undefined && { requeueAfterMs }),
      };
    } else {
      // Pushed (or adopted, or given up): the next stage starts in the same step, from the image.
      const next = attemptPlan(build.status);
      plan = {
        ...next,
        events: [...events, ...next.events],
        finished: [...finished, ...(next.finished ?? [])],
      };
    }
  }

  // Verified with spec.solve and no summary yet: the solve attempts' pods (a measurement;
  // the verdict stays as it is).
  const solve =
    run.spec.solve && wantsSolve(plan.status, true)
      ? planSolve({
          instanceName: name,
          status: plan.status,
          settings: run.spec.solve,
          maxAttempts: run.spec.agents.maxAttempts,
          pendingTimeoutSeconds: run.spec.sandbox.pendingTimeoutSeconds,
          suspend: run.spec.suspend,
          pods: live,
          results: obs.results,
          now,
        })
      : undefined;

  // Every pod but the one still in flight (or whose result is being read) is done with.
  const keep = plan.running ?? plan.readResult;
  const keepNames = new Set(
    [keep && podName(keep), build?.keepPod, ...(solve?.keepPods ?? [])].filter((n) => n !== undefined),
  );
  const requeues = [plan.requeueAfterMs, solve?.requeueAfterMs].filter((n) => n !== undefined);
  const out: InstancePlan = {
    status: solve?.status ?? plan.status,
    deletePods: [],
    deleteAllPods: [],
    events: [...plan.events, ...(solve?.events ?? [])],
    finished: plan.finished ?? [],
    ...(requeues.length && { requeueAfterMs: Math.min(...requeues) }),
    ...(solve && {
      solve: {
        createPods: solve.createPods,
        pendingPods: solve.pendingPods,
        readResultsOf: solve.readResultsOf,
      },
    }),
  };
  if (build?.createPod) out.createEnvImagePod = build.createPod;
  if (plan.start) out.createPod = { ...plan.start, name: podName(plan.start) };
  if (plan.readResult) out.readResultOf = podName(plan.readResult);
  if (plan.running) {
    const pod = live.find((p) => p.metadata?.name === podName(plan.running!));
    if (pod && isPending(pod)) out.pendingPod = { ...plan.running, name: podName(plan.running) };
  }
  const done = live.filter((p) => !keepNames.has(p.metadata?.name ?? ''));
  const starting = out.createPod || out.createEnvImagePod || (solve?.createPods.length ?? 0) > 0;
  if (done.length && keepNames.size === 0 && !starting) out.deleteAllPods = done.map(nameOf);
  // A finished pod holds no CPU or memory (quota counts only pods not yet finished): it waits
  // for the collection above. One still pending or running is not left to take a node's room.
  else out.deletePods = done.filter((p) => !isFinished(p)).map(nameOf);
  return out;
}

const nameOf = (pod: ObservedStagePod) => pod.metadata?.name ?? '';

function isFinished(pod: ObservedStagePod): boolean {
  return pod.status?.phase === 'Succeeded' || pod.status?.phase === 'Failed';
}
