import { describe, expect, it } from 'vitest';
import {
  CurationRun,
  SolveSettings,
  StageResult,
  type StageResultArg,
  SWEInstance,
  type SWEInstanceStatus,
} from '../api/index.ts';
import { solveAttemptOf, solveGrant, solveOfGrant } from '../pipeline/solve.ts';
import { solvePodName } from '../sandbox/index.ts';
import { planInstance } from './instance-plan.ts';
import type { ObservedStagePod } from './observe-pod.ts';
import { MAX_SOLVE_PATCH_BYTES, planSolve, type SolveObservation } from './solve-plan.ts';

const now = new Date('2026-12-01T00:00:00Z');
const NAME = 'widgets.acme.widgets-1';
const verified: SWEInstanceStatus = {
  phase: 'Verified',
  FAIL_TO_PASS: ['t::f'],
  PASS_TO_PASS: ['t::p'],
  problemStatement: 'f is wrong',
};
const patch = 'diff --git a/m.py b/m.py\n--- a/m.py\n+++ b/m.py\n@@ -1 +1 @@\n-x\n+y\n';

function observe(over: Partial<SolveObservation> = {}): SolveObservation {
  return {
    instanceName: NAME,
    status: verified,
    settings: SolveSettings.parse({ attempts: 2 }),
    maxAttempts: 2,
    pendingTimeoutSeconds: 600,
    suspend: false,
    pods: [],
    now,
    ...over,
  };
}

const pod = (name: string, phase: string): ObservedStagePod => ({
  metadata: { name, creationTimestamp: now },
  status: { phase, startTime: now },
});

const result = (r: Partial<StageResultArg>) =>
  ({
    ok: true,
    result: StageResult.parse({
      stage: 'verify',
      outcome: 'succeeded',
      reason: 'Submitted',
      message: '',
      durationMs: 40,
      ...r,
    }),
  }) as const;

const solved = (p: string) =>
  result({
    solve: { patch: p, ending: 'Submitted', turns: 3 },
    tokensUsed: 120,
    inputTokens: 100,
    outputTokens: 20,
  });
const graded = (f2pPass: boolean, p2pBroken = false) =>
  result({
    reason: 'Graded',
    grade: {
      FAIL_TO_PASS: f2pPass ? { success: ['t::f'], failure: [] } : { success: [], failure: ['t::f'] },
      PASS_TO_PASS: p2pBroken ? { success: [], failure: ['t::p'] } : { success: ['t::p'], failure: [] },
      testOutput: '',
    },
  });

describe('planSolve', () => {
  it('starts the first attempts (bounded per instance) with deterministic pod names', () => {
    const plan = planSolve(observe({ settings: SolveSettings.parse({ attempts: 3 }) }));
    expect(plan.createPods.map((p) => p.name)).toEqual([
      solvePodName(NAME, 'solve', 1, 1),
      solvePodName(NAME, 'solve', 2, 1),
    ]);
    expect(plan.createPods[0]!.name).toBe(`${NAME}-solve-1-1`);
    expect(plan.status.solveAttempts?.map((a) => a.phase)).toEqual(['Solving', 'Solving', 'Solving']);
    expect(plan.status.solve).toBeUndefined();
    expect(plan.status.phase).toBe('Verified');
  });

  it('a running pod is kept and not created again; a pending one has its Secret ensured', () => {
    const name = solvePodName(NAME, 'solve', 1, 1);
    const plan = planSolve(
      observe({ settings: SolveSettings.parse({ attempts: 1 }), pods: [pod(name, 'Pending')] }),
    );
    expect(plan.createPods).toEqual([]);
    expect(plan.keepPods).toEqual([name]);
    expect(plan.pendingPods.map((p) => p.name)).toEqual([name]);
  });

  it('an ended solve pod is read, then its patch goes to a grading pod in the same step', () => {
    const name = solvePodName(NAME, 'solve', 1, 1);
    const obs = observe({ settings: SolveSettings.parse({ attempts: 1 }), pods: [pod(name, 'Succeeded')] });
    expect(planSolve(obs).readResultsOf).toEqual([name]);
    const plan = planSolve({ ...obs, results: new Map([[name, solved(patch)]]) });
    expect(plan.keepPods).toEqual([]);
    expect(plan.status.solveAttempts).toEqual([
      {
        attempt: 1,
        phase: 'Grading',
        tries: 0,
        solveTry: 1,
        ending: 'Submitted',
        patch,
        tokensUsed: 120,
        inputTokens: 100,
        outputTokens: 20,
        durationMs: 40,
      },
    ]);
    expect(plan.createPods).toEqual([
      { kind: 'grade', attempt: 1, podTry: 1, name: solvePodName(NAME, 'grade', 1, 1), patch },
    ]);
  });

  it('grades: resolved, unresolved by F2P, unresolved by a broken P2P; the summary when all are Done', () => {
    const grading = (attempt: number) => ({
      attempt,
      phase: 'Grading' as const,
      tries: 0,
      patch,
      tokensUsed: 10,
      durationMs: 1,
      solveTry: 1,
    });
    const names = [1, 2, 3].map((a) => solvePodName(NAME, 'grade', a, 1));
    const plan = planSolve(
      observe({
        settings: SolveSettings.parse({ attempts: 3 }),
        status: { ...verified, solveAttempts: [grading(1), grading(2), grading(3)] },
        pods: names.map((n) => pod(n, 'Succeeded')),
        results: new Map([
          [names[0]!, graded(true)],
          [names[1]!, graded(false)],
          [names[2]!, graded(true, true)],
        ]),
      }),
    );
    expect(plan.status.solveAttempts?.map((a) => [a.phase, a.grade?.resolved, a.grade?.reason])).toEqual([
      ['Done', true, 'Graded'],
      ['Done', false, 'Graded'],
      ['Done', false, 'Graded'],
    ]);
    expect(plan.status.solveAttempts?.[2]?.grade?.passToPassBroken).toBe(1);
    expect(plan.status.solve).toEqual({
      attempts: 3,
      resolved: 1,
      solveRate: 1 / 3,
      k: 3,
      passAtK: 1,
      failedAttempts: 0,
      // Every attempt's tokens (10 each here), what status.cost prices.
      tokensUsed: 30,
      inputTokens: 0,
      outputTokens: 0,
    });
    expect(plan.keepPods).toEqual([]);
    expect(plan.events.map((e) => e.reason)).toEqual(['Solved']);
  });

  it('an empty patch is unresolved without a grading pod; an oversized one too', () => {
    const names = [1, 2].map((a) => solvePodName(NAME, 'solve', a, 1));
    const plan = planSolve(
      observe({
        pods: names.map((n) => pod(n, 'Succeeded')),
        results: new Map([
          [names[0]!, solved('')],
          [names[1]!, solved(`${patch}${'+'.repeat(MAX_SOLVE_PATCH_BYTES)}`)],
        ]),
      }),
    );
    expect(plan.createPods).toEqual([]);
    expect(plan.status.solveAttempts?.map((a) => a.grade?.reason)).toEqual(['EmptyPatch', 'PatchTooLarge']);
    expect(plan.status.solveAttempts?.[1]?.patch).toBeUndefined();
    expect(plan.status.solve?.resolved).toBe(0);
    expect(plan.status.solve?.attempts).toBe(2);
  });

  it('infrastructure failures are retried with backoff, then the attempt ends ungraded (not unresolved)', () => {
    const settings = SolveSettings.parse({ attempts: 1 });
    const first = solvePodName(NAME, 'solve', 1, 1);
    const failed: ObservedStagePod = {
      metadata: { name: first, creationTimestamp: now },
      status: { phase: 'Failed', reason: 'Evicted', message: 'node pressure', startTime: now },
    };
    const retry = planSolve(observe({ settings, pods: [failed] }));
    const record = retry.status.solveAttempts![0]!;
    expect(record).toMatchObject({ phase: 'Solving', tries: 1 });
    expect(Date.parse(record.retryAfter!)).toBeGreaterThan(now.getTime());
    expect(retry.createPods).toEqual([]);
    expect(retry.requeueAfterMs).toBeGreaterThan(0);
    expect(retry.events.map((e) => e.reason)).toEqual(['SolveRetried']);

    // After the backoff: the second pod (another name), which fails too: maxAttempts (2) used up.
    const later = new Date(Date.parse(record.retryAfter!) + 1);
    const again = planSolve(observe({ settings, status: retry.status, now: later }));
    const second = solvePodName(NAME, 'solve', 1, 2);
    expect(again.createPods.map((p) => p.name)).toEqual([second]);
    const gaveUp = planSolve(
      observe({
        settings,
        status: again.status,
        now: later,
        pods: [pod(second, 'Succeeded')],
        results: new Map([
          [second, result({ outcome: 'failed', reason: 'LlmUnavailable', message: 'down' })],
        ]),
      }),
    );
    expect(gaveUp.status.solveAttempts![0]).toMatchObject({
      phase: 'Done',
      error: { reason: 'LlmUnavailable', message: 'down' },
    });
    expect(gaveUp.status.solve).toMatchObject({
      attempts: 0,
      resolved: 0,
      k: 1,
      failedAttempts: 1,
      tokensUsed: 0,
    });
  });

  it('a grading run without evidence is an infrastructure failure, retried', () => {
    const name = solvePodName(NAME, 'grade', 1, 1);
    const plan = planSolve(
      observe({
        settings: SolveSettings.parse({ attempts: 1 }),
        status: {
          ...verified,
          solveAttempts: [{ attempt: 1, phase: 'Grading', tries: 0, patch, tokensUsed: 0, durationMs: 0 }],
        },
        pods: [pod(name, 'Succeeded')],
        results: new Map([[name, result({ outcome: 'failed', reason: 'SetupFailed', message: 'pip' })]]),
      }),
    );
    expect(plan.status.solveAttempts![0]).toMatchObject({ phase: 'Grading', tries: 1, patch });
    expect(plan.status.solve).toBeUndefined();
  });

  it('suspended: nothing new starts', () => {
    expect(planSolve(observe({ suspend: true })).createPods).toEqual([]);
  });
});

describe('planInstance with spec.solve', () => {
  const run = (solve?: object) =>
    CurationRun.parse({
      apiVersion: 'scaleswe.dev/v1alpha1',
      kind: 'CurationRun',
      metadata: { name: 'widgets', namespace: 'ns' },
      spec: {
        source: { git: { url: '/srv/widgets.git', repo: 'acme/widgets' } },
        llm: { baseURL: 'http://llm/v1', model: 'm' },
        ...(solve && { solve }),
      },
    });
  const instance = (status: SWEInstanceStatus) =>
    SWEInstance.parse({
      apiVersion: 'scaleswe.dev/v1alpha1',
      kind: 'SWEInstance',
      metadata: { name: NAME, namespace: 'ns', generation: 1 },
      spec: {
        instanceId: 'acme__widgets-1',
        runRef: 'widgets',
        repo: 'acme/widgets',
        cloneURL: '/srv/widgets.git',
        pullNumber: 1,
        baseCommit: 'a'.repeat(40),
        patch: 'diff --git a/x b/x\n',
        createdAt: '2026-01-01T00:00:00Z',
        language: 'python',
      },
      status,
    });

  it('a Verified instance of a solving run gets solve pods and keeps them; the verdict is unchanged', () => {
    const name = solvePodName(NAME, 'solve', 1, 1);
    const plan = planInstance({
      instance: instance(verified),
      run: run({ attempts: 2 }),
      pods: [pod(name, 'Running')],
      now,
    });
    expect(plan.status.phase).toBe('Verified');
    expect([plan.deletePods, plan.deleteAllPods]).toEqual([[], []]);
    expect(plan.solve?.createPods.map((p) => p.name)).toEqual([solvePodName(NAME, 'solve', 2, 1)]);
  });

  it('without spec.solve, or once solved, no solve pod is made and leftovers go', () => {
    const name = solvePodName(NAME, 'solve', 1, 1);
    const none = planInstance({ instance: instance(verified), run: run(), pods: [], now });
    expect(none.solve).toBeUndefined();
    const done = planInstance({
      instance: instance({ ...verified, solve: { attempts: 1, resolved: 1, k: 1, failedAttempts: 0 } }),
      run: run({ attempts: 1 }),
      pods: [pod(name, 'Succeeded')],
      now,
    });
    expect(done.solve).toBeUndefined();
    expect(done.deleteAllPods).toEqual([name]);
  });
});

describe('solve grants and export records', () => {
  it('grant numbers are apart from the verify stage and name the try', () => {
    expect(solveGrant(1)).toBe(1001);
    expect(solveGrant(7, 2)).toBe(2007);
    expect(solveOfGrant(2007)).toEqual({ attempt: 7, podTry: 2 });
    expect(solveOfGrant(3)).toBeUndefined();
  });

  it('a Done attempt becomes the export record with its SolveAgent trajectory', () => {
    const trajectory = {
      instanceId: 'acme__widgets-1',
      stage: 'verify' as const,
      agent: 'VerifyAgent',
      steps: [],
    };
    const grade = {
      resolved: true,
      failToPassPassed: 1,
      failToPassTotal: 1,
      passToPassBroken: 0,
      reason: 'Graded',
    };
    expect(
      solveAttemptOf(
        'acme__widgets-1',
        {
          attempt: 2,
          phase: 'Done',
          tries: 0,
          patch,
          grade,
          tokensUsed: 5,
          durationMs: 3,
          ending: 'Submitted',
        },
        trajectory,
      ),
    ).toEqual({
      instanceId: 'acme__widgets-1',
      attempt: 2,
      ending: 'Submitted',
      patch,
      grade,
      tokensUsed: 5,
      durationMs: 3,
      trajectory: { ...trajectory, agent: 'SolveAgent' },
    });
    expect(
      solveAttemptOf(
        'x',
        { attempt: 1, phase: 'Grading', tries: 0, tokensUsed: 0, durationMs: 0 },
        undefined,
      ),
    ).toBeUndefined();
  });
});
