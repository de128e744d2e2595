import type { SolveAttemptStatus, SolveSettings, SWEInstanceStatus } from '../api/index.ts';
import type { InstanceEvent } from '../pipeline/instance-plan.ts';
import { retryDelayMs } from '../pipeline/pipeline.ts';
import { attemptGrade, solveSummary } from '../pipeline/solve.ts';
import { type DecodedStageResult, type SolvePodKind, solvePodName } from '../sandbox/index.ts';
import { type ObservedStagePod, observePod } from './observe-pod.ts';

/**
 * The solve stage in the cluster (spec.solve), pure: for a Verified instance, each of the k
 * attempts runs the solving agent in a pod, then its patch is graded in a fresh pod (the
 * grader of verification and Evaluations), and is recorded in status.solveAttempts; when all
 * are Done, status.solve holds the summary. Status is the record: a pod name is derived from
 * (instance, agent or grading, attempt, try), so a restarted operator finds the pod it created
 * instead of creating another. Infrastructure failures are retried with backoff up to
 * agents.maxAttempts, then the attempt is Done with an error (not counted as unresolved).
 */

/** Solve and grading pods one instance runs at once (k may be 100). */
export const MAX_SOLVE_PODS_PER_INSTANCE = 2;

/** A patch kept in status (and a grading pod's input) is at most this; a larger one is unresolved. */
export const MAX_SOLVE_PATCH_BYTES = 32 * 1024;

export interface SolveObservation {
  instanceName: string;
  /** The instance's status as planned so far (Verified). */
  status: SWEInstanceStatus;
  settings: SolveSettings;
  /** agents.maxAttempts: pods per attempt and phase before infrastructure ends it. */
  maxAttempts: number;
  pendingTimeoutSeconds: number;
  suspend: boolean;
  /** Live pods owned by the instance. */
  pods: readonly ObservedStagePod[];
  results?: ReadonlyMap<string, DecodedStageResult> | undefined;
  now: Date;
}

export interface SolvePodToCreate {
  kind: SolvePodKind;
  attempt: number;
  podTry: number;
  name: string;
  /** For a grading pod: the patch to grade. */
  patch?: string;
}

/**
 * In this order: write `status`, delete the instance's pods not in `keepPods`, create
 * `createPods` (each with its input Secret); `pendingPods` have not started (their Secret must
 * exist). `readResultsOf`: read these ended pods' results and plan again.
 */
export interface SolvePlan {
  status: SWEInstanceStatus;
  createPods: SolvePodToCreate[];
  pendingPods: SolvePodToCreate[];
  keepPods: string[];
  readResultsOf: string[];
  requeueAfterMs?: number;
  events: InstanceEvent[];
}

const fresh = (attempt: number): SolveAttemptStatus => ({
  attempt,
  phase: 'Solving',
  tries: 0,
  tokensUsed: 0,
  durationMs: 0,
});

export function planSolve(obs: SolveObservation): SolvePlan {
  const { status, settings, now } = obs;
  const live = obs.pods.filter((p) => !p.metadata?.deletionTimestamp);
  const prev = status.solveAttempts ?? [];
  const records: SolveAttemptStatus[] = [];
  const keepPods: string[] = [];
  const readResultsOf: string[] = [];
  const pendingPods: SolvePodToCreate[] = [];
  const candidates: SolvePodToCreate[] = [];
  const rechecks: number[] = [];
  const events: InstanceEvent[] = [];
  let inFlight = 0;

  const podOf = (r: SolveAttemptStatus): SolvePodToCreate => {
    const kind: SolvePodKind = r.phase === 'Solving' ? 'solve' : 'grade';
    const podTry = r.tries + 1;
    return {
      kind,
      attempt: r.attempt,
      podTry,
      name: solvePodName(obs.instanceName, kind, r.attempt, podTry),
      ...(kind === 'grade' && { patch: r.patch ?? '' }),
    };
  };
  const done = (r: SolveAttemptStatus): SolveAttemptStatus => {
    const { retryAfter: _, ...rest } = r;
    return { ...rest, phase: 'Done', tries: 0 };
  };
  /** An infrastructure failure of the attempt's current pod: retried, or the attempt ends. */
  const infra = (r: SolveAttemptStatus, pod: string, failure: { reason: string; message: string }) => {
    const tries = r.tries + 1;
    if (tries >= obs.maxAttempts) {
      events.push({
        type: 'Warning',
        reason: 'SolveAttemptFailed',
        message: `solve attempt ${r.attempt}: ${pod} failed (${failure.reason}) ${tries} time(s): not graded`,
      });
      return done({ ...r, error: { reason: failure.reason, message: failure.message.slice(0, 1000) } });
    }
    const delay = retryDelayMs(tries);
    rechecks.push(delay);
    events.push({
      type: 'Warning',
      reason: 'SolveRetried',
      message: `solve attempt ${r.attempt}: ${pod} failed (${failure.reason}); retried`,
    });
    return { ...r, tries, retryAfter: new Date(now.getTime() + delay).toISOString() };
  };

  for (let attempt = 1; attempt <= settings.attempts; attempt++) {
    let r = prev.find((a) => a.attempt === attempt) ?? fresh(attempt);
    if (r.phase === 'Done') {
      records.push(r);
      continue;
    }
    const pod = podOf(r);
    const observed = observePod(
      live.find((p) => p.metadata?.name === pod.name),
      obs.results?.get(pod.name),
      { now, pendingTimeoutSeconds: obs.pendingTimeoutSeconds },
    );
    if (observed.state === 'running' || observed.state === 'ended') {
      keepPods.push(pod.name);
      inFlight++;
      if (observed.state === 'ended') readResultsOf.push(pod.name);
      else {
        const phase = live.find((p) => p.metadata?.name === pod.name)?.status?.phase;
        if (phase === undefined || phase === 'Pending') pendingPods.push(pod);
        if (observed.recheckAfterMs !== undefined) rechecks.push(observed.recheckAfterMs);
      }
      records.push(r);
      continue;
    }
    if (observed.state === 'absent') {
      const notBefore = r.retryAfter ? Date.parse(r.retryAfter) : Number.NaN;
      if (notBefore > now.getTime()) rechecks.push(notBefore - now.getTime());
      else candidates.push(pod);
      records.push(r);
      continue;
    }
    if (observed.state === 'failed') {
      r = infra(r, pod.name, observed.failure);
    } else if (pod.kind === 'solve') {
      const res = observed.result;
      if (res.outcome === 'failed') r = infra(r, pod.name, res);
      else {
        const spent = {
          tokensUsed: res.tokensUsed,
          ...(res.inputTokens !== undefined && { inputTokens: res.inputTokens }),
          ...(res.outputTokens !== undefined && { outputTokens: res.outputTokens }),
          durationMs: res.durationMs,
          solveTry: pod.podTry,
        };
        const patch = res.solve?.patch ?? '';
        if (res.outcome !== 'succeeded' || !res.solve)
          // The agent itself refused (not infrastructure): recorded as the local driver does.
          r = done({ ...r, ...spent, error: { reason: res.reason, message: res.message.slice(0, 1000) } });
        else if (Buffer.byteLength(patch) > MAX_SOLVE_PATCH_BYTES)
          r = done({
            ...r,
            ...spent,
            ending: res.solve.ending,
            grade: {
              resolved: false,
              failToPassPassed: 0,
              failToPassTotal: status.FAIL_TO_PASS?.length ?? 0,
              passToPassBroken: 0,
              reason: 'PatchTooLarge',
            },
          });
        else {
          const graded = attemptGrade(patch, undefined, status);
          // An empty patch is unresolved without a grading pod; any other goes to one.
          r =
            'grade' in graded
              ? done({ ...r, ...spent, ending: res.solve.ending, patch, grade: graded.grade })
              : { ...r, ...spent, ending: res.solve.ending, patch, phase: 'Grading', tries: 0 };
          if (r.phase === 'Grading') {
            const { retryAfter: _, ...rest } = r;
            r = rest;
            candidates.push(podOf(r));
          }
        }
      }
    } else {
      const graded = attemptGrade(r.patch ?? '', observed.result, status);
      r = 'grade' in graded ? done({ ...r, grade: graded.grade }) : infra(r, pod.name, graded.error);
    }
    records.push(r);
  }

  const createPods = obs.suspend
    ? []
    : candidates.slice(0, Math.max(0, MAX_SOLVE_PODS_PER_INSTANCE - inFlight));
  // A candidate not started now is looked at again when a pod ends (its pod event wakes us).
  let next: SWEInstanceStatus = { ...status, solveAttempts: records };
  if (records.every((r) => r.phase === 'Done')) {
    const solve = solveSummary(records, settings.attempts);
    next = { ...next, solve };
    events.push({
      type: 'Normal',
      reason: 'Solved',
      message: `${solve.resolved}/${solve.attempts} solve attempt(s) resolved${solve.failedAttempts ? `; ${solve.failedAttempts} failed on infrastructure` : ''}`,
    });
  }
  return {
    status: next,
    createPods,
    pendingPods,
    keepPods,
    readResultsOf,
    ...(rechecks.length && { requeueAfterMs: Math.max(1000, Math.min(...rechecks)) }),
    events,
  };
}
