import { createHash } from 'node:crypto';
import {
  type CurationRun,
  type Evaluation,
  type EvaluationSpec,
  type EvaluationStatus,
  FINAL_PREDICTION_STATUSES,
  type InfraFailure,
  MAX_EVAL_PREDICTIONS,
  MAX_FAILED_TESTS,
  MAX_RESULT_MESSAGE,
  type PredictionResult,
  type SWEInstance,
  setCondition,
  TERMINAL_PHASES,
} from '../api/index.ts';
import { type InstanceVerdict, type Prediction, pairPredictions, verdictOf } from '../export/eval.ts';
import type { InstanceEvent } from '../pipeline/instance-plan.ts';
import { retryDelayMs } from '../pipeline/pipeline.ts';
import { type DecodedStageResult, gradePodName } from '../sandbox/index.ts';
import { type ObservedStagePod, observePod } from './instance-plan.ts';

/**
 * The Evaluation's decisions (pure): which instances are the dataset, which prediction gets a
 * grading pod next, and what each ended pod means — the same pairing and verdicts as
 * `scaleswe eval` (export/eval.ts), one pod per prediction instead of one process. Status is
 * the record: a prediction with a verdict there is never graded again, and its pod name is
 * derived from (evaluation, instance, patch, attempt), so a restarted operator finds the pod
 * it created instead of creating another.
 */

/** An instance predictions can be graded against: Verified, with the run whose sandbox it uses. */
export interface GradeTarget {
  instance: SWEInstance;
  /** Its CurationRun, parsed with the operator's environment defaults. */
  run: CurationRun;
}

export type Dataset =
  | { ready: true; targets: ReadonlyMap<string, GradeTarget>; ids: readonly string[] }
  | { ready: false; reason: string; message: string };

export type PredictionsRead =
  | { ok: true; predictions: readonly Prediction[] }
  /** terminal: the input itself is wrong (a spec or ConfigMap edit is needed); else it may appear. */
  | { ok: false; reason: string; message: string; terminal: boolean };

/** How often a waiting Evaluation looks again (the run finishing, the ConfigMap appearing). */
export const EVAL_RECHECK_MS = 10_000;

const RUN_DONE = new Set(['Succeeded', 'Failed']);

/**
 * The dataset of an Evaluation: the Verified instances it names, once none of them (and, for
 * runRef, not the run) is still in progress. Instances are given with their runs; a run that
 * is gone leaves its instance out. Pure.
 */
export function datasetOf(input: {
  instances: EvaluationSpec['instances'];
  /** The named run (runRef), undefined when it does not exist. */
  run?: CurationRun | undefined;
  candidates: ReadonlyArray<{ instance: SWEInstance; run: CurationRun | undefined }>;
}): Dataset {
  const { runRef } = input.instances;
  if (runRef !== undefined) {
    if (!input.run)
      return { ready: false, reason: 'RunNotFound', message: `no CurationRun ${runRef} in this namespace` };
    const phase = input.run.status?.phase;
    if (!phase || !RUN_DONE.has(phase))
      return {
        ready: false,
        reason: 'WaitingForRun',
        message: `CurationRun ${runRef} is ${phase ?? 'Pending'}: grading starts when it has finished`,
      };
  }
  const unfinished = input.candidates.filter(
    (c) => !(c.instance.status?.phase && TERMINAL_PHASES.has(c.instance.status.phase)),
  );
  if (unfinished.length)
    return {
      ready: false,
      reason: 'WaitingForInstances',
      message: `${unfinished.length} instance(s) not finished, e.g. ${unfinished[0]!.instance.metadata.name}`,
    };
  const targets = new Map<string, GradeTarget>();
  for (const { instance, run } of input.candidates) {
    if (instance.status?.phase !== 'Verified' || !run) continue;
    if (!targets.has(instance.spec.instanceId)) targets.set(instance.spec.instanceId, { instance, run });
  }
  return { ready: true, targets, ids: [...targets.keys()].sort() };
}

export interface EvaluationObservation {
  evaluation: Evaluation;
  predictions: PredictionsRead;
  dataset: Dataset;
  /** Grading pods owned by the Evaluation (informer cache, minus those we deleted). */
  pods: readonly ObservedStagePod[];
  /** Results read from ended pods, by pod name. */
  results?: ReadonlyMap<string, DecodedStageResult>;
  now: Date;
}

export interface GradePodToCreate {
  name: string;
  instanceId: string;
  attempt: number;
  modelPatch: string;
}

/**
 * In this order: write `status`, delete `deletePods` (their outcome is in status), create
 * `createPods` (each with its input Secret). `readResultsOf`: read these ended pods' results
 * and plan again.
 */
export interface EvaluationPlan {
  status: EvaluationStatus;
  createPods: GradePodToCreate[];
  /** Created and not started: their input Secret must exist. */
  pendingPods: GradePodToCreate[];
  deletePods: string[];
  readResultsOf: string[];
  /** Verdicts this plan records from a pod: keep their logs first (before status). */
  logs: GradeLog[];
  requeueAfterMs?: number;
  events: InstanceEvent[];
}

/** What `scaleswe eval` writes to logs/<instance_id>/, for one graded pod. */
export interface GradeLog {
  podName: string;
  attempt: number;
  patchDigest: string;
  verdict: InstanceVerdict;
  testOutput: string;
  /** The grading run's log tail (StageResult.logTail): the environment it adopted, its commands. */
  runLog: string;
}

/** Identifies what was graded: an edited prediction (patch or model) is another one. */
export function patchDigest(prediction: Pick<Prediction, 'model_patch' | 'model_name_or_path'>): string {
  return createHash('sha256')
    .update(`${prediction.model_name_or_path}\0${prediction.model_patch ?? ''}`)
    .digest('hex')
    .slice(0, 16);
}

const cut = (text: string) =>
  text.length <= MAX_RESULT_MESSAGE ? text : `${text.slice(0, MAX_RESULT_MESSAGE - 1)}…`;

/** A verdict as a status entry: counts and a few failing test ids, never the test output. */
export function resultOfVerdict(v: InstanceVerdict, digest: string, attempts: number): PredictionResult {
  const tests = v.tests;
  const failed = tests ? [...tests.FAIL_TO_PASS.failure, ...tests.PASS_TO_PASS.failure] : [];
  return {
    instanceId: v.instanceId,
    modelName: v.modelName,
    patchDigest: digest,
    status: v.status,
    resolved: v.status === 'resolved',
    reason: v.reason,
    message: cut(v.message),
    patchApplied: v.patchApplied,
    ...(tests && {
      failToPassPassed: tests.FAIL_TO_PASS.success.length,
      failToPassTotal: tests.FAIL_TO_PASS.success.length + tests.FAIL_TO_PASS.failure.length,
      passToPassBroken: tests.PASS_TO_PASS.failure.length,
      passToPassTotal: tests.PASS_TO_PASS.success.length + tests.PASS_TO_PASS.failure.length,
      ...(failed.length && { failedTests: failed.slice(0, MAX_FAILED_TESTS) }),
    }),
    attempts,
  };
}

function failureVerdict(prediction: Prediction, failure: InfraFailure): InstanceVerdict {
  return {
    instanceId: prediction.instance_id,
    modelName: prediction.model_name_or_path,
    status: 'error',
    reason: failure.reason,
    message: failure.message,
    patch: prediction.model_patch ?? '',
    patchApplied: false,
  };
}

function waiting(
  obs: EvaluationObservation,
  why: { reason: string; message: string; terminal: boolean },
): EvaluationPlan {
  const { evaluation, now } = obs;
  const prev = evaluation.status ?? {};
  const generation = evaluation.metadata.generation;
  const phase = why.terminal ? 'Failed' : 'Pending';
  const status: EvaluationStatus = {
    ...prev,
    ...(generation !== undefined && { observedGeneration: generation }),
    phase,
    conditions: setCondition(
      prev.conditions ?? [],
      {
        type: 'Ready',
        status: 'False',
        reason: why.reason,
        message: why.message,
        observedGeneration: generation,
      },
      now,
    ),
    ...(why.terminal && { completedAt: prev.completedAt ?? now.toISOString() }),
  };
  const events: InstanceEvent[] =
    prev.phase !== phase || findReason(prev) !== why.reason
      ? [{ type: why.terminal ? 'Warning' : 'Normal', reason: why.reason, message: why.message }]
      : [];
  // Pods in flight keep running: the predictions may be readable again on the next look.
  return {
    status,
    createPods: [],
    pendingPods: [],
    deletePods: [],
    readResultsOf: [],
    logs: [],
    ...(!why.terminal && { requeueAfterMs: EVAL_RECHECK_MS }),
    events,
  };
}

const findReason = (s: EvaluationStatus) => s.conditions?.find((c) => c.type === 'Ready')?.reason;

export function planEvaluation(obs: EvaluationObservation): EvaluationPlan {
  const { evaluation, now } = obs;
  if (!obs.predictions.ok) return waiting(obs, obs.predictions);
  if (!obs.dataset.ready) return waiting(obs, { ...obs.dataset, terminal: false });
  const predictions = obs.predictions.predictions;
  if (predictions.length > MAX_EVAL_PREDICTIONS)
    return waiting(obs, {
      reason: 'TooManyPredictions',
      message: `${predictions.length} predictions; an Evaluation grades at most ${MAX_EVAL_PREDICTIONS} (its status holds one result each): split them`,
      terminal: true,
    });
  const { spec, metadata } = evaluation;
  const prev = evaluation.status ?? {};
  const name = metadata.name ?? '';
  const live = obs.pods.filter((p) => !p.metadata?.deletionTimestamp);
  const targets = obs.dataset.targets;

  const results: PredictionResult[] = [];
  const keep = new Set<string>();
  const readResultsOf: string[] = [];
  const candidates: Array<{ index: number } & GradePodToCreate> = [];
  const pendingPods: GradePodToCreate[] = [];
  const logs: GradeLog[] = [];
  const rechecks: number[] = [];
  const events: InstanceEvent[] = [];
  let inFlight = 0;

  for (const planned of pairPredictions(targets, predictions)) {
    if (planned.kind === 'decided') {
      const v = planned.verdict;
      results.push(
        resultOfVerdict(v, patchDigest({ model_patch: v.patch, model_name_or_path: v.modelName }), 0),
      );
      continue;
    }
    const { prediction, row: target } = planned;
    const id = prediction.instance_id;
    const digest = patchDigest(prediction);
    const prior = prev.results?.find((r) => r.instanceId === id && r.patchDigest === digest);
    if (prior && FINAL_PREDICTION_STATUSES.has(prior.status)) {
      results.push(prior);
      continue;
    }
    const ended = prior?.attempts ?? 0;
    const attempt = ended + 1;
    const podName = gradePodName(name, id, digest, attempt);
    const pending: PredictionResult = {
      instanceId: id,
      modelName: prediction.model_name_or_path,
      patchDigest: digest,
      status: 'pending',
      resolved: false,
      reason: prior?.reason ?? '',
      message: prior?.message ?? '',
      patchApplied: false,
      attempts: ended,
      ...(prior?.retryAfter && { retryAfter: prior.retryAfter }),
    };
    const pod = live.find((p) => p.metadata?.name === podName);
    const observed = observePod(pod, obs.results?.get(podName), {
      now,
      pendingTimeoutSeconds: target.run.spec.sandbox.pendingTimeoutSeconds,
    });
    if (observed.state === 'running' || observed.state === 'ended') {
      keep.add(podName);
      inFlight++;
      if (observed.state === 'ended') readResultsOf.push(podName);
      if (observed.state === 'running' && (pod?.status?.phase ?? 'Pending') === 'Pending')
        pendingPods.push({ name: podName, instanceId: id, attempt, modelPatch: prediction.model_patch });
      if (observed.state === 'running' && observed.recheckAfterMs !== undefined)
        rechecks.push(observed.recheckAfterMs);
      results.push({ ...pending, status: 'running' });
      continue;
    }
    if (observed.state === 'absent') {
      const notBefore = prior?.retryAfter ? Date.parse(prior.retryAfter) : Number.NaN;
      if (notBefore > now.getTime()) rechecks.push(notBefore - now.getTime());
      else
        candidates.push({
          index: results.length,
          name: podName,
          instanceId: id,
          attempt,
          modelPatch: prediction.model_patch,
        });
      results.push(pending);
      continue;
    }
    // Ended with an outcome: a verdict, or an infrastructure failure retried with backoff.
    const failure: InfraFailure | undefined =
      observed.state === 'failed'
        ? observed.failure
        : observed.result.outcome === 'failed'
          ? ({ reason: observed.result.reason, message: observed.result.message } as InfraFailure)
          : undefined;
    if (failure && attempt < spec.maxAttempts) {
      const delay = retryDelayMs(attempt);
      rechecks.push(delay);
      events.push({
        type: 'Warning',
        reason: 'GradingRetried',
        message: `${id}: grading pod ${podName} failed (${failure.reason}): ${cut(failure.message)}`,
      });
      results.push({
        ...pending,
        attempts: attempt,
        reason: failure.reason,
        message: cut(failure.message),
        retryAfter: new Date(now.getTime() + delay).toISOString(),
      });
      continue;
    }
    const verdict =
      observed.state === 'result'
        ? verdictOf(prediction, observed.result)
        : failureVerdict(prediction, failure!);
    results.push(resultOfVerdict(verdict, digest, attempt));
    const r = observed.state === 'result' ? observed.result : undefined;
    logs.push({
      podName,
      attempt,
      patchDigest: digest,
      verdict,
      testOutput:
        r?.grade?.testOutput ??
        `${verdict.reason}: ${verdict.message}\n${r?.logTail ? `\n${r.logTail}\n` : ''}`,
      runLog: r?.logTail ? `${r.logTail}\n` : '',
    });
  }

  // Start what fits under maxParallel, in the predictions' order.
  const room = Math.max(0, spec.maxParallel - inFlight);
  const createPods: GradePodToCreate[] = [];
  for (const c of candidates.slice(0, room)) {
    const { index, ...pod } = c;
    const { retryAfter: _, ...rest } = results[index]!;
    results[index] = { ...rest, status: 'running' };
    createPods.push(pod);
  }

  const by = (s: PredictionResult['status']) => results.filter((r) => r.status === s).length;
  const open = results.filter((r) => !FINAL_PREDICTION_STATUSES.has(r.status)).length;
  const done = open === 0;
  const generation = metadata.generation;
  const resolved = by('resolved');
  let conditions = setCondition(
    prev.conditions ?? [],
    {
      type: 'Ready',
      status: 'True',
      reason: done ? 'Graded' : 'Grading',
      message: `${obs.dataset.ids.length} Verified instance(s); ${results.length} prediction(s)`,
      observedGeneration: generation,
    },
    now,
  );
  conditions = setCondition(
    conditions,
    done
      ? {
          type: 'Succeeded',
          status: 'True',
          reason: 'AllGraded',
          message: `${resolved}/${results.length} resolved`,
          observedGeneration: generation,
        }
      : {
          type: 'Succeeded',
          status: 'False',
          reason: 'Grading',
          message: `${open} prediction(s) without a verdict`,
          observedGeneration: generation,
        },
    now,
  );
  if (done && prev.phase !== 'Succeeded')
    events.push({
      type: 'Normal',
      reason: 'Succeeded',
      message: `${resolved}/${results.length} predictions resolved (${by('unresolved')} unresolved, ${by('empty_patch')} empty, ${by('error')} errors)`,
    });
  const { completedAt: _completed, ...prevRest } = prev;
  const status: EvaluationStatus = {
    ...prevRest,
    ...(generation !== undefined && { observedGeneration: generation }),
    phase: done ? 'Succeeded' : 'Running',
    conditions,
    datasetInstances: obs.dataset.ids.length,
    total: results.length,
    resolved,
    unresolved: by('unresolved'),
    emptyPatch: by('empty_patch'),
    errors: by('error'),
    pending: open,
    progress: `${results.length - open}/${results.length}`,
    results,
    startedAt: prev.startedAt ?? now.toISOString(),
    ...(done && { completedAt: prev.completedAt ?? now.toISOString() }),
  };
  const liveNames = live.map((p) => p.metadata?.name ?? '');
  return {
    status,
    createPods,
    pendingPods,
    deletePods: liveNames.filter((n) => !keep.has(n)),
    readResultsOf,
    logs,
    ...(rechecks.length && { requeueAfterMs: Math.max(1000, Math.min(...rechecks)) }),
    events,
  };
}
