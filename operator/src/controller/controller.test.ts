import { describe, expect, it } from 'vitest';
import { CurationRun, type CurationRunStatus, type StageResultArg, SWEInstance } from '../api/index.ts';
import { encodeResultEnvelope } from '../sandbox/envelope.ts';
import { type DecodedStageResult, decodeStageResult } from '../sandbox/index.ts';
import { CreationExpectations } from './curation-run-reconciler.ts';
import { type ObservedStagePod, planInstance } from './instance-plan.ts';
import { PodExpectations } from './pod-expectations.ts';
import { computeRunStatus, miningCapacity, runCostOf, summarizeInstances } from './run-plan.ts';

const now = new Date('2026-03-01T12:00:00Z');
const later = (s: number) => new Date(now.getTime() + s * 1000);

const run = (spec: Record<string, unknown> = {}, status?: CurationRunStatus) =>
  CurationRun.parse({
    apiVersion: 'scaleswe.dev/v1alpha1',
    kind: 'CurationRun',
    metadata: { name: 'r', namespace: 'ns', generation: 3 },
    spec: { source: { git: { url: '/srv/a/b.git' } }, limits: { maxPRs: 10, maxParallel: 3 }, ...spec },
    ...(status && { status }),
  });

const instance = (status?: SWEInstance['status']) =>
  SWEInstance.parse({
    apiVersion: 'scaleswe.dev/v1alpha1',
    kind: 'SWEInstance',
    metadata: { name: 'r.a.b-7', namespace: 'ns', generation: 1, uid: 'u' },
    spec: {
      instanceId: 'a__b-7',
      runRef: 'r',
      repo: 'a/b',
      cloneURL: '/srv/a/b.git',
      pullNumber: 7,
      baseCommit: 'b'.repeat(40),
      patch: 'diff',
      createdAt: '2026-01-01T00:00:00Z',
      language: 'python',
    },
    ...(status && { status }),
  });

const pod = (name: string, status: ObservedStagePod['status'], created = now): ObservedStagePod => ({
  metadata: { name, creationTimestamp: created.toISOString() },
  status,
});

const ok = (stage: StageResultArg['stage'], extra: Partial<StageResultArg> = {}) =>
  decodeStageResult({
    terminationMessage: encodeResultEnvelope({
      stage,
      outcome: 'succeeded',
      reason: 'Done',
      message: '',
      durationMs: 1,
      ...extra,
    }),
  });

describe('planInstance', () => {
  it('initializes a new instance and creates the env pod in one step', () => {
    const plan = planInstance({ instance: instance(), run: run(), pods: [], now });
    expect(plan.createPod).toEqual({ stage: 'env', attempt: 1, name: 'r.a.b-7-env-1' });
    expect(plan.status).toMatchObject({ phase: 'Env', observedGeneration: 1, startedAt: now.toISOString() });
    expect(plan.status.conditions?.map((c) => c.status)).toEqual([
      'Unknown',
      'Unknown',
      'Unknown',
      'Unknown',
    ]);
  });

  it('does nothing while its run is not in the cache', () => {
    expect(planInstance({ instance: instance(), run: undefined, pods: [], now })).toMatchObject({
      deletePods: [],
    });
  });

  it('asks for the result of a succeeded pod, records it and starts the next stage (the finished pod waits)', () => {
    const started = planInstance({ instance: instance(), run: run(), pods: [], now }).status;
    const succeeded = pod('r.a.b-7-env-1', { phase: 'Succeeded' });
    const first = planInstance({ instance: instance(started), run: run(), pods: [succeeded], now });
    expect(first.readResultOf).toBe('r.a.b-7-env-1');
    expect(first.createPod).toBeUndefined();
    const results = new Map([
      [
        'r.a.b-7-env-1',
        ok('env', { recipe: { setupScript: 's', testCommand: 'pytest', resultFormat: 'pytest' } }),
      ],
    ]);
    const second = planInstance({ instance: instance(started), run: run(), pods: [succeeded], now, results });
    expect(second.status).toMatchObject({
      phase: 'Tests',
      attempts: { env: 1 },
      recipe: { testCommand: 'pytest' },
    });
    // Finished, it holds no node resources: it goes with the instance's other pods, in one request.
    expect([second.deletePods, second.deleteAllPods]).toEqual([[], []]);
    expect(second.createPod).toEqual({ stage: 'tests', attempt: 1, name: 'r.a.b-7-tests-1' });
  });

  it('treats a missing or wrong-stage result as a retryable failure', () => {
    const started = planInstance({ instance: instance(), run: run(), pods: [], now }).status;
    const succeeded = pod('r.a.b-7-env-1', { phase: 'Succeeded' });
    const missing = new Map([['r.a.b-7-env-1', decodeStageResult({ log: 'nothing' })]]);
    const plan = planInstance({
      instance: instance(started),
      run: run(),
      pods: [succeeded],
      now,
      results: missing,
    });
    expect(plan.status).toMatchObject({
      phase: 'Env',
      attempts: { env: 1 },
      lastError: { reason: 'ResultMissing' },
    });
    // Nothing in flight while the retry waits: the instance's pods go now, in one request.
    expect(plan.deleteAllPods).toEqual(['r.a.b-7-env-1']);
    expect(plan.createPod).toBeUndefined();
    expect(plan.requeueAfterMs).toBe(10_000);
    const wrong = new Map([['r.a.b-7-env-1', ok('verify')]]);
    expect(
      planInstance({ instance: instance(started), run: run(), pods: [succeeded], now, results: wrong }).status
        .lastError?.reason,
    ).toBe('ResultCorrupt');
  });

  it('retries an OOMKilled pod after the backoff with the next attempt, then fails at maxAttempts', () => {
    const r = run({ agents: { maxAttempts: 2 } });
    let status = planInstance({ instance: instance(), run: r, pods: [], now }).status;
    const oom = (name: string) =>
      pod(name, {
        phase: 'Failed',
        containerStatuses: [{ name: 'agent', state: { terminated: { reason: 'OOMKilled', exitCode: 137 } } }],
      });
    const failed = planInstance({ instance: instance(status), run: r, pods: [oom('r.a.b-7-env-1')], now });
    expect(failed.status).toMatchObject({ attempts: { env: 1 }, lastError: { reason: 'OOMKilled' } });
    expect(failed.events).toEqual([expect.objectContaining({ type: 'Warning', reason: 'OOMKilled' })]);
    status = failed.status;
    // Before retryAfter: wait. After: attempt 2.
    expect(planInstance({ instance: instance(status), run: r, pods: [], now: later(5) })).toMatchObject({
      requeueAfterMs: 5_000,
    });
    const retry = planInstance({ instance: instance(status), run: r, pods: [], now: later(11) });
    expect(retry.createPod).toEqual({ stage: 'env', attempt: 2, name: 'r.a.b-7-env-2' });
    const gaveUp = planInstance({
      instance: instance(retry.status),
      run: r,
      pods: [oom('r.a.b-7-env-2')],
      now: later(12),
    });
    expect(gaveUp.status).toMatchObject({
      phase: 'Failed',
      lastError: { reason: 'OOMKilled' },
      attempts: { env: 2 },
    });
    expect(gaveUp.deleteAllPods).toEqual(['r.a.b-7-env-2']);
  });

  it('reports each attempt it records as finished (for stage metrics), with its duration', () => {
    const started = planInstance({ instance: instance(), run: run(), pods: [], now }).status;
    expect(planInstance({ instance: instance(), run: run(), pods: [], now }).finished).toEqual([]);
    const succeeded = pod('r.a.b-7-env-1', { phase: 'Succeeded' });
    const results = new Map([['r.a.b-7-env-1', ok('env', { durationMs: 95_000 })]]);
    const recorded = planInstance({
      instance: instance(started),
      run: run(),
      pods: [succeeded],
      now,
      results,
    });
    expect(recorded.finished).toEqual([
      { stage: 'env', attempt: 1, outcome: 'succeeded', durationMs: 95_000 },
    ]);
    // Planned again from the written status: nothing new to report (observed once).
    const next = planInstance({ instance: instance(recorded.status), run: run(), pods: [], now });
    expect(next.finished).toEqual([]);
    // A pod that failed without a result: from its start to now.
    const oom = pod(
      'r.a.b-7-tests-1',
      {
        phase: 'Failed',
        startTime: later(-30).toISOString(),
        containerStatuses: [{ name: 'agent', state: { terminated: { reason: 'OOMKilled', exitCode: 137 } } }],
      },
      later(-40),
    );
    const failed = planInstance({ instance: instance(next.status), run: run(), pods: [oom], now });
    expect(failed.finished).toEqual([{ stage: 'tests', attempt: 1, outcome: 'failed', durationMs: 30_000 }]);
    expect(failed.status.stageDurationsMs).toMatchObject({ env: 95_000, tests: 30_000 });
  });

  it('times out a pod that never starts, and waits for it until then', () => {
    const status = planInstance({ instance: instance(), run: run(), pods: [], now }).status;
    const pending = pod('r.a.b-7-env-1', { phase: 'Pending' });
    const waiting = planInstance({ instance: instance(status), run: run(), pods: [pending], now: later(60) });
    expect(waiting.createPod).toBeUndefined();
    expect(waiting.requeueAfterMs).toBe(541_000); // 600 s pending timeout + 1 s slack
    // Its input Secret must exist: the operator may have died before creating it.
    expect(waiting.pendingPod).toEqual({ stage: 'env', attempt: 1, name: 'r.a.b-7-env-1' });
    const running = pod('r.a.b-7-env-1', { phase: 'Running' });
    expect(
      planInstance({ instance: instance(status), run: run(), pods: [running], now }).pendingPod,
    ).toBeUndefined();
    const timedOut = planInstance({
      instance: instance(status),
      run: run(),
      pods: [pending],
      now: later(601),
    });
    expect(timedOut.status.lastError?.reason).toBe('PendingTimeout');
    expect(timedOut.deleteAllPods).toEqual(['r.a.b-7-env-1']);
    expect(timedOut.pendingPod).toBeUndefined();
  });

  it('creates no pod while the run is suspended, and cleans up stray pods', () => {
    const status = planInstance({ instance: instance(), run: run(), pods: [], now }).status;
    const stray = pod('r.a.b-7-env-9', { phase: 'Running' });
    const plan = planInstance({
      instance: instance(status),
      run: run({ suspend: true }),
      pods: [stray],
      now,
    });
    expect(plan.createPod).toBeUndefined();
    expect(plan.deleteAllPods).toEqual(['r.a.b-7-env-9']);
  });

  it('keeps finished pods until nothing is in flight, then deletes them all in one request; an unwanted live pod goes at once', () => {
    let status = planInstance({ instance: instance(), run: run(), pods: [], now }).status;
    const pods: ReturnType<typeof pod>[] = [];
    const results = new Map<string, DecodedStageResult>();
    for (const stage of ['env', 'tests', 'prompt'] as const) {
      pods.push(pod(`r.a.b-7-${stage}-1`, { phase: 'Succeeded' }));
      results.set(`r.a.b-7-${stage}-1`, ok(stage));
      const plan = planInstance({ instance: instance(status), run: run(), pods, now, results });
      expect(plan.createPod?.stage).not.toBe(stage);
      expect([plan.deletePods, plan.deleteAllPods]).toEqual([[], []]);
      status = plan.status;
    }
    // A stray pod still running beside the attempt in flight: it holds a node's room, so it goes now.
    const stray = pod('r.a.b-7-env-9', { phase: 'Running' });
    const verifying = pod('r.a.b-7-verify-1', { phase: 'Running' });
    const inFlight = planInstance({
      instance: instance(status),
      run: run(),
      pods: [...pods, verifying, stray],
      now,
    });
    expect(inFlight.deletePods).toEqual(['r.a.b-7-env-9']);
    expect(inFlight.deleteAllPods).toEqual([]);
    // The verdict is recorded: every pod of the instance goes together.
    const verified = pod('r.a.b-7-verify-1', { phase: 'Succeeded' });
    results.set('r.a.b-7-verify-1', ok('verify', { FAIL_TO_PASS: ['t'], PASS_TO_PASS: [] }));
    const done = planInstance({
      instance: instance(status),
      run: run(),
      pods: [...pods, verified],
      now,
      results,
    });
    expect(done.status.phase).toBe('Verified');
    expect(done.deletePods).toEqual([]);
    expect(done.deleteAllPods).toEqual([
      'r.a.b-7-env-1',
      'r.a.b-7-tests-1',
      'r.a.b-7-prompt-1',
      'r.a.b-7-verify-1',
    ]);
    // Pods already being deleted are the API server's business.
    const gone = pods.map((p) => ({ ...p, metadata: { ...p.metadata, deletionTimestamp: now } }));
    expect(
      planInstance({ instance: instance(done.status), run: run(), pods: gone, now }).deleteAllPods,
    ).toEqual([]);
  });

  it('leaves a running pod alone', () => {
    const status = planInstance({ instance: instance(), run: run(), pods: [], now }).status;
    const plan = planInstance({
      instance: instance(status),
      run: run(),
      pods: [pod('r.a.b-7-env-1', { phase: 'Running' })],
      now,
    });
    expect(plan).toMatchObject({ deletePods: [], events: [] });
    expect(plan.createPod).toBeUndefined();
    expect(plan.status).toEqual(status);
  });
});

describe('run status', () => {
  const summary = (phases: Array<string | undefined>) =>
    summarizeInstances(
      phases.map((phase) => ({
        status: phase
          ? ({
              phase,
              ...(phase === 'Failed' && { lastError: { reason: 'OOMKilled', message: '', time: '' } }),
            } as SWEInstance['status'])
          : undefined,
      })),
    );

  it('counts instances by outcome and failure reason', () => {
    expect(summary(['Verified', 'Failed', 'Rejected', 'Env', undefined])).toEqual({
      instances: 5,
      running: 2,
      verified: 1,
      solving: 0,
      failed: 2,
      failedByReason: { OOMKilled: 1, Rejected: 1 },
    });
  });

  it('mines only within maxParallel and maxPRs, never when suspended or exhausted', () => {
    expect(miningCapacity(run(), summary(['Env']))).toBe(2);
    expect(miningCapacity(run(), summary(['Env', 'Env', 'Tests']))).toBe(0);
    expect(miningCapacity(run(), summary(Array(9).fill('Verified')))).toBe(1);
    expect(miningCapacity(run({ suspend: true }), summary([]))).toBe(0);
    expect(miningCapacity(run({}, { cursor: { git: 'abc', exhausted: true } }), summary([]))).toBe(0);
  });

  it('folds a mined page in exactly once (only from the cursor it was mined at)', () => {
    const page = {
      cursor: 'c2',
      exhausted: false,
      candidates: 2,
      rejected: [{ pullNumber: 1, reason: 'NoCodeChange' as const, detail: '' }],
    };
    const before = run(
      {},
      {
        cursor: { git: 'c1' },
        counts: { discovered: 4, rejected: 1, instances: 3, running: 0, verified: 3, failed: 0 },
      },
    );
    const s = computeRunStatus({
      run: before,
      summary: summary(['Env', 'Env']),
      mined: { fromCursor: 'c1', page },
      now,
    });
    expect(s).toMatchObject({
      phase: 'Mining',
      cursor: { git: 'c2', exhausted: false },
      counts: { discovered: 7, rejected: 2 },
      rejectedByReason: { NoCodeChange: 1 },
      observedGeneration: 3,
    });
    // The same page again (a retry after the cursor moved) changes nothing.
    const again = computeRunStatus({
      run: run({}, s),
      summary: summary(['Env', 'Env']),
      mined: { fromCursor: 'c1', page },
      now,
    });
    expect(again.counts).toEqual(s.counts);
  });

  it('succeeds when mining is done and every instance finished; conditions carry the reason', () => {
    const s = computeRunStatus({
      run: run({}, { cursor: { git: 'x', exhausted: true } }),
      summary: summary(['Verified', 'Failed']),
      now,
    });
    expect(s).toMatchObject({ phase: 'Succeeded', progress: '2/2', completedAt: now.toISOString() });
    expect(s.conditions?.find((c) => c.type === 'Succeeded')).toMatchObject({
      status: 'True',
      reason: 'AllInstancesFinished',
      observedGeneration: 3,
    });
    const running = computeRunStatus({
      run: run({}, { cursor: { git: 'x', exhausted: true } }),
      summary: summary(['Verified', 'Tests']),
      now,
    });
    expect(running).toMatchObject({ phase: 'Running', progress: '1/2' });
    expect(running.completedAt).toBeUndefined();
  });

  it("rolls the instances' cost into status.cost (numbers only), only for a run with an LLM", () => {
    const statuses = [
      {
        status: {
          phase: 'Verified',
          tokensUsed: 1_000_000,
          inputTokens: 1_000_000,
          outputTokens: 0,
          solve: { attempts: 2, resolved: 1, k: 2, failedAttempts: 0, inputTokens: 0, outputTokens: 100_000 },
        } as SWEInstance['status'],
      },
    ];
    const priced = run({
      llm: {
        baseURL: 'http://llm',
        model: 'm',
        apiKeySecretRef: { name: 'llm-key', key: 'apiKey' },
        price: { inputPerMillion: 3, outputPerMillion: 10 },
      },
    });
    const cost = runCostOf(priced, statuses);
    expect(cost).toEqual({
      inputTokens: 1_000_000,
      outputTokens: 100_000,
      usd: 4,
      curationUsd: 3,
      usdPerVerified: 3,
      solveUsd: 1,
      usdPerResolvedSolve: 1,
    });
    const s = computeRunStatus({ run: priced, summary: summary(['Verified']), cost, now });
    expect(s.cost).toEqual(cost);
    expect(JSON.stringify(s.cost)).not.toContain('llm-key');
    expect(CurationRun.parse({ ...priced, status: s }).status?.cost).toEqual(cost);
    // Kept from the last roll-up when an observation brings none.
    expect(computeRunStatus({ run: run({}, s), summary: summary(['Verified']), now }).cost).toEqual(cost);
    expect(runCostOf(run(), statuses)).toBeUndefined();
  });

  it('with spec.solve, a Verified instance still solving keeps the run Running', () => {
    const solved = { phase: 'Verified', solve: { attempts: 1, resolved: 1, k: 1, failedAttempts: 0 } };
    const instances = [{ status: { phase: 'Verified' } }, { status: solved }] as Array<
      Pick<SWEInstance, 'status'>
    >;
    expect(summarizeInstances(instances, true)).toMatchObject({ verified: 2, solving: 1, running: 0 });
    expect(summarizeInstances(instances, false).solving).toBe(0);
    const exhausted = run({}, { cursor: { git: 'x', exhausted: true } });
    const s = computeRunStatus({ run: exhausted, summary: summarizeInstances(instances, true), now });
    expect(s).toMatchObject({ phase: 'Running', progress: '2/2' });
    expect(s.conditions?.find((c) => c.type === 'Succeeded')?.message).toBe(
      '2/2 instances finished; 1 Verified still solving',
    );
    const done = computeRunStatus({
      run: exhausted,
      summary: summarizeInstances([instances[1]!], true),
      now,
    });
    expect(done.phase).toBe('Succeeded');
  });

  it('reports a failing source on Ready without losing progress', () => {
    const s = computeRunStatus({
      run: run(),
      summary: summary([]),
      sourceError: { reason: 'SourceError', message: 'clone failed' },
      now,
    });
    expect(s.conditions?.find((c) => c.type === 'Ready')).toMatchObject({
      status: 'False',
      reason: 'SourceError',
      message: 'clone failed',
    });
  });
});

describe('expectations', () => {
  it('pods: a created pod is not created again, a deleted pod is hidden, until the cache catches up', () => {
    const e = new PodExpectations();
    e.expectCreation('ns', 'p1');
    expect(e.creationPending('ns', 'p1')).toBe(true);
    e.observe({ metadata: { namespace: 'ns', name: 'p1' } }, false);
    expect(e.creationPending('ns', 'p1')).toBe(false);
    e.expectDeletion('ns', 'p1');
    const cached = [
      { metadata: { namespace: 'ns', name: 'p1' } },
      { metadata: { namespace: 'ns', name: 'p2' } },
    ];
    expect(e.visible(cached).map((p) => p.metadata.name)).toEqual(['p2']);
    e.observe({ metadata: { namespace: 'ns', name: 'p1' } }, true);
    expect(e.visible(cached)).toHaveLength(2);
  });

  it('instances: created names count until the cache has them', () => {
    const e = new CreationExpectations();
    e.expect('ns/r', 'a');
    e.expect('ns/r', 'b');
    expect(e.outstanding('ns/r', new Set(['a']))).toBe(1);
    expect(e.outstanding('ns/r', new Set(['a', 'b']))).toBe(0);
  });
});
