import { describe, expect, it } from 'vitest';
import {
  CurationRun,
  Evaluation,
  type EvaluationSpecInput,
  type EvaluationStatus,
  StageResult,
  type StageResultArg,
  SWEInstance,
} from '../api/index.ts';
import type { Prediction } from '../export/eval.ts';
import { gradePodName } from '../sandbox/index.ts';
import {
  type Dataset,
  datasetOf,
  type EvaluationObservation,
  type EvaluationPlan,
  patchDigest,
  planEvaluation,
} from './evaluation-plan.ts';
import type { ObservedStagePod } from './instance-plan.ts';

const now = new Date('2026-12-01T00:00:00Z');
const run = CurationRun.parse({
  apiVersion: 'scaleswe.dev/v1alpha1',
  kind: 'CurationRun',
  metadata: { name: 'widgets', namespace: 'ns' },
  spec: { source: { git: { url: '/srv/widgets.git', repo: 'acme/widgets' } } },
  status: { phase: 'Succeeded' },
});

function instance(pr: number, phase: string) {
  return SWEInstance.parse({
    apiVersion: 'scaleswe.dev/v1alpha1',
    kind: 'SWEInstance',
    metadata: { name: `widgets.acme.widgets-${pr}`, namespace: 'ns' },
    spec: {
      instanceId: `acme__widgets-${pr}`,
      runRef: 'widgets',
      repo: 'acme/widgets',
      cloneURL: '/srv/widgets.git',
      pullNumber: pr,
      baseCommit: 'a'.repeat(40),
      patch: 'diff --git a/x b/x\n',
      createdAt: '2026-01-01T00:00:00Z',
      language: 'python',
    },
    status: { phase, FAIL_TO_PASS: ['t::f'], PASS_TO_PASS: ['t::p'] },
  });
}

const A = 'acme__widgets-1';
const B = 'acme__widgets-2';
const patchA = 'diff --git a/a b/a\n+fix\n';
const patchB = 'diff --git a/b b/b\n+fix\n';

function evaluation(spec: Partial<EvaluationSpecInput> = {}, status?: EvaluationStatus) {
  return Evaluation.parse({
    apiVersion: 'scaleswe.dev/v1alpha1',
    kind: 'Evaluation',
    metadata: { name: 'e', namespace: 'ns', generation: 1 },
    spec: {
      instances: { runRef: 'widgets' },
      predictions: { inline: [] },
      ...spec,
    },
    ...(status && { status }),
  });
}

const readyDataset = (): Dataset =>
  datasetOf({
    instances: { runRef: 'widgets' },
    run,
    candidates: [1, 2, 3].map((pr) => ({ instance: instance(pr, pr === 3 ? 'Rejected' : 'Verified'), run })),
  });

const preds = (...items: Array<[string, string | null]>): Prediction[] =>
  items.map(([instance_id, model_patch]) => ({ instance_id, model_patch, model_name_or_path: 'm' }));

function plan(o: Partial<EvaluationObservation> & { evaluation: EvaluationObservation['evaluation'] }) {
  return planEvaluation({
    predictions: { ok: true, predictions: preds([A, patchA], [B, patchB]) },
    dataset: readyDataset(),
    pods: [],
    now,
    ...o,
  });
}

const podOf = (instanceId: string, patch: string, attempt: number) =>
  gradePodName('e', instanceId, patchDigest({ model_patch: patch, model_name_or_path: 'm' }), attempt);

function pod(name: string, phase?: string, extra: object = {}): ObservedStagePod {
  return {
    metadata: { name, creationTimestamp: now.toISOString() },
    status: { ...(phase && { phase }), ...extra },
  } as ObservedStagePod;
}

const graded = (f2pFailed: string[], p2pFailed: string[]): StageResultArg => ({
  stage: 'verify',
  outcome: 'succeeded',
  reason: 'Graded',
  message: 'graded',
  durationMs: 1,
  grade: {
    FAIL_TO_PASS: { success: f2pFailed.length ? [] : ['t::f'], failure: f2pFailed },
    PASS_TO_PASS: { success: p2pFailed.length ? [] : ['t::p'], failure: p2pFailed },
    testOutput: 'out',
  },
});
const result = (r: StageResultArg) => ({ ok: true as const, result: StageResult.parse(r) });

/** Plans again from the status the last plan wrote (what the next reconcile reads). */
const next = (p: EvaluationPlan, o: Partial<EvaluationObservation> = {}) =>
  plan({ evaluation: evaluation({}, p.status), ...o });

describe('datasetOf', () => {
  it('waits for the run and its instances, then keeps the Verified ones', () => {
    expect(datasetOf({ instances: { runRef: 'widgets' }, candidates: [] })).toMatchObject({
      ready: false,
      reason: 'RunNotFound',
    });
    expect(
      datasetOf({
        instances: { runRef: 'widgets' },
        run: { ...run, status: { phase: 'Running' } },
        candidates: [],
      }),
    ).toMatchObject({ ready: false, reason: 'WaitingForRun' });
    expect(
      datasetOf({ instances: { names: ['x'] }, candidates: [{ instance: instance(1, 'Tests'), run }] }),
    ).toMatchObject({ ready: false, reason: 'WaitingForInstances' });
    const ready = readyDataset();
    expect(ready.ready && ready.ids).toEqual([A, B]);
  });
});

describe('planEvaluation', () => {
  it('decides unknown, duplicate and empty predictions without a pod; grades the rest up to maxParallel', () => {
    const p = plan({
      evaluation: evaluation({ maxParallel: 1 }),
      predictions: {
        ok: true,
        predictions: preds(
          [A, patchA],
          [B, patchB],
          ['acme__widgets-3', patchA],
          ['acme__widgets-9', ''],
          ['acme__widgets-9', patchA],
        ),
      },
    });
    expect(p.status.results?.map((r) => [r.instanceId, r.status, r.reason])).toEqual([
      [A, 'running', ''],
      [B, 'pending', ''],
      ['acme__widgets-3', 'error', 'UnknownInstance'], // Rejected: not in the dataset
      ['acme__widgets-9', 'error', 'DuplicatePrediction'],
    ]);
    expect(p.createPods).toEqual([
      { name: podOf(A, patchA, 1), instanceId: A, attempt: 1, modelPatch: patchA },
    ]);
    expect(p.status).toMatchObject({ phase: 'Running', total: 4, errors: 2, pending: 2, progress: '2/4' });

    const empty = plan({
      evaluation: evaluation(),
      predictions: { ok: true, predictions: preds([A, null], [B, ' ']) },
    });
    expect(empty.createPods).toEqual([]);
    expect(empty.status).toMatchObject({ phase: 'Succeeded', emptyPatch: 2, resolved: 0, progress: '2/2' });
    expect(empty.events.map((e) => e.reason)).toEqual(['Succeeded']);
  });

  it('keeps running pods, reads ended ones, records verdicts with counts, then deletes their pods', () => {
    const first = plan({ evaluation: evaluation() });
    expect(first.createPods.map((c) => c.name)).toEqual([podOf(A, patchA, 1), podOf(B, patchB, 1)]);
    const [podA, podB] = [podOf(A, patchA, 1), podOf(B, patchB, 1)];
    // Pending pods need their input Secret ensured; nothing is created twice.
    const pending = next(first, { pods: [pod(podA), pod(podB, 'Running')] });
    expect(pending.createPods).toEqual([]);
    expect(pending.pendingPods.map((c) => c.name)).toEqual([podA]);
    expect(pending.deletePods).toEqual([]);
    const ended = next(pending, { pods: [pod(podA, 'Succeeded'), pod(podB, 'Succeeded')] });
    expect(ended.readResultsOf).toEqual([podA, podB]);
    const done = next(pending, {
      pods: [pod(podA, 'Succeeded'), pod(podB, 'Succeeded')],
      results: new Map([
        [podA, result({ ...graded([], []), logTail: '==> environment\nenvironment abc adopted at /env' })],
        [podB, result(graded([], ['t::p']))],
      ]),
    });
    expect(done.status.results).toEqual([
      expect.objectContaining({
        instanceId: A,
        status: 'resolved',
        resolved: true,
        reason: 'Resolved',
        failToPassPassed: 1,
        failToPassTotal: 1,
        passToPassBroken: 0,
        passToPassTotal: 1,
        attempts: 1,
      }),
      expect.objectContaining({
        instanceId: B,
        status: 'unresolved',
        reason: 'PassToPassBroken',
        passToPassBroken: 1,
        failedTests: ['t::p'],
      }),
    ]);
    expect(done.status).toMatchObject({
      phase: 'Succeeded',
      resolved: 1,
      unresolved: 1,
      completedAt: now.toISOString(),
    });
    // Their logs are kept (before status) for eval-report: the test output, the verdict.
    expect(done.logs.map((l) => [l.podName, l.attempt, l.verdict.status, l.testOutput])).toEqual([
      [podA, 1, 'resolved', 'out'],
      [podB, 1, 'unresolved', 'out'],
    ]);
    // And the grading run's own log tail (the pod's log goes with the pod): what it adopted.
    expect(done.logs.map((l) => l.runLog)).toEqual([
      '==> environment\nenvironment abc adopted at /env\n',
      '',
    ]);
    // Deleted by the plan that records their verdicts (the shell writes status first).
    expect(done.deletePods).toEqual([podA, podB]);
    const after = next(done, { pods: [pod(podA, 'Succeeded'), pod(podB, 'Succeeded')] });
    expect(after.deletePods).toEqual([podA, podB]);
    expect(after.readResultsOf).toEqual([]);
    expect(after.status).toEqual(done.status);
  });

  it('retries an infrastructure failure with backoff, then makes it the verdict (never unresolved)', () => {
    const ev = evaluation({ maxAttempts: 2 });
    const p1 = plan({ evaluation: ev, predictions: { ok: true, predictions: preds([A, patchA]) } });
    const podA1 = podOf(A, patchA, 1);
    const oom = pod(podA1, 'Failed', {
      containerStatuses: [{ name: 'agent', state: { terminated: { reason: 'OOMKilled', exitCode: 137 } } }],
    });
    const again = (p: EvaluationPlan, o: Partial<EvaluationObservation>) =>
      plan({
        evaluation: evaluation({ maxAttempts: 2 }, p.status),
        predictions: { ok: true, predictions: preds([A, patchA]) },
        ...o,
      });
    const retried = again(p1, { pods: [oom] });
    expect(retried.status.results?.[0]).toMatchObject({
      status: 'pending',
      attempts: 1,
      reason: 'OOMKilled',
      retryAfter: new Date(now.getTime() + 10_000).toISOString(),
    });
    expect(retried.createPods).toEqual([]);
    expect(retried.requeueAfterMs).toBe(10_000);
    expect(retried.events.map((e) => e.reason)).toEqual(['GradingRetried']);
    const later = again(retried, { pods: [oom], now: new Date(now.getTime() + 11_000) });
    expect(later.createPods.map((c) => c.name)).toEqual([podOf(A, patchA, 2)]);
    expect(later.deletePods).toEqual([podA1]);
    const crashed: StageResultArg = {
      stage: 'verify',
      outcome: 'failed',
      reason: 'TestsTimedOut',
      message: 'cut off',
      durationMs: 1,
    };
    const podA2 = podOf(A, patchA, 2);
    const final = again(later, {
      pods: [pod(podA2, 'Succeeded')],
      results: new Map([[podA2, result(crashed)]]),
    });
    expect(final.status.results?.[0]).toMatchObject({
      status: 'error',
      reason: 'TestsTimedOut',
      attempts: 2,
    });
    expect(final.status.phase).toBe('Succeeded');
    expect(final.logs.map((l) => l.testOutput)).toEqual(['TestsTimedOut: cut off\n']);
    expect(retried.logs).toEqual([]);
  });

  it('an edited prediction is graded again in a pod of its own; the old one is deleted', () => {
    const p1 = plan({ evaluation: evaluation(), predictions: { ok: true, predictions: preds([A, patchA]) } });
    const edited = 'diff --git a/a b/a\n+better fix\n';
    const p2 = plan({
      evaluation: evaluation({}, p1.status),
      predictions: { ok: true, predictions: preds([A, edited]) },
      pods: [pod(podOf(A, patchA, 1), 'Running')],
    });
    expect(p2.createPods.map((c) => c.name)).toEqual([podOf(A, edited, 1)]);
    expect(p2.deletePods).toEqual([podOf(A, patchA, 1)]);
  });

  it('waits (Pending) for the dataset or a missing ConfigMap; unusable predictions fail the Evaluation', () => {
    const waiting = plan({
      evaluation: evaluation(),
      dataset: { ready: false, reason: 'WaitingForRun', message: 'run is Running' },
    });
    expect(waiting.status.phase).toBe('Pending');
    expect(waiting.status.conditions?.[0]).toMatchObject({
      type: 'Ready',
      status: 'False',
      reason: 'WaitingForRun',
    });
    expect(waiting.requeueAfterMs).toBeGreaterThan(0);
    const invalid = plan({
      evaluation: evaluation(),
      predictions: { ok: false, reason: 'InvalidPredictions', message: 'line 2: not JSON', terminal: true },
    });
    expect(invalid.status).toMatchObject({ phase: 'Failed', completedAt: now.toISOString() });
    expect(invalid.requeueAfterMs).toBeUndefined();
    expect(invalid.events).toEqual([
      { type: 'Warning', reason: 'InvalidPredictions', message: 'line 2: not JSON' },
    ]);
    const many = plan({
      evaluation: evaluation(),
      predictions: {
        ok: true,
        predictions: Array.from({ length: 1001 }, (_, i) => preds([`acme__widgets-${i + 10}`, patchA])[0]!),
      },
    });
    expect(many.status.conditions?.[0]).toMatchObject({ reason: 'TooManyPredictions' });
  });
});
