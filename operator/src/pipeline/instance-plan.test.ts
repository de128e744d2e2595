import { describe, expect, it } from 'vitest';
import type { StageResult, SWEInstanceStatus } from '../api/index.ts';
import { type ObservedAttempt, type PlanInput, planAttempt } from './instance-plan.ts';
import { applyStageResult, initialStatus, retryDelayMs, retryFailed } from './pipeline.ts';

// The planner both drivers obey: the operator maps pods to observed attempts, the local run
// maps recorded result files and processes. These cases are the behaviour both modes share.

const now = new Date('2026-04-01T00:00:00Z');
const settings = { maxAttempts: 2, suspend: false };

function result(stage: StageResult['stage'], partial: Partial<StageResult> = {}): StageResult {
  return {
    stage,
    outcome: 'succeeded',
    reason: 'Done',
    message: '',
    tokensUsed: 0,
    durationMs: 1500,
    trajectories: [],
    ...partial,
  };
}

function plan(
  status: SWEInstanceStatus | undefined,
  seen: Record<string, ObservedAttempt>,
  extra: Partial<PlanInput> = {},
) {
  return planAttempt({
    status,
    settings,
    observe: ({ stage, attempt }) => seen[`${stage}-${attempt}`] ?? { state: 'absent' },
    now,
    ...extra,
  });
}

describe('planAttempt', () => {
  it('starts env attempt 1 of a new instance, with every condition Unknown', () => {
    const p = plan(undefined, {});
    expect(p.start).toEqual({ stage: 'env', attempt: 1 });
    expect(p.status.phase).toBe('Env');
    expect(p.status.conditions?.map((c) => [c.type, c.status])).toEqual([
      ['EnvReady', 'Unknown'],
      ['TestsReady', 'Unknown'],
      ['PromptReady', 'Unknown'],
      ['Verified', 'Unknown'],
    ]);
  });

  it('folds a recorded result and starts the next stage in the same step, recording its duration', () => {
    const started = plan(undefined, {}).status;
    const recipe = { setupScript: 's', testCommand: 't', resultFormat: 'pytest' as const };
    const p = plan(started, { 'env-1': { state: 'result', result: result('env', { recipe }) } });
    expect(p.start).toEqual({ stage: 'tests', attempt: 1 });
    expect(p.status).toMatchObject({ phase: 'Tests', recipe, stageDurationsMs: { env: 1500 } });
    expect(p.status.attempts).toEqual({ env: 1, tests: 0, prompt: 0, verify: 0 });
  });

  it('carries only what a stage row yields: a tests result cannot overwrite the recipe', () => {
    const status = plan(undefined, {
      'env-1': {
        state: 'result',
        result: result('env', { recipe: { setupScript: 'a', testCommand: 'b', resultFormat: 'pytest' } }),
      },
    }).status;
    const p = plan(status, {
      'tests-1': {
        state: 'result',
        result: result('tests', {
          FAIL_TO_PASS: ['t1'],
          recipe: { setupScript: 'evil', testCommand: 'x', resultFormat: 'tap' },
        }),
      },
    });
    expect(p.status.recipe?.setupScript).toBe('a');
    expect(p.status.FAIL_TO_PASS).toEqual(['t1']);
  });

  it('a verify rejection (WeakTests) keeps its mutation record, not its labels', () => {
    const mutation = {
      tried: 3,
      killed: 2,
      survived: 1,
      notCompiling: 0,
      errored: 0,
      equivalent: 0,
      score: 0.667,
      survivors: [],
    };
    const rejected = result('verify', {
      outcome: 'rejected',
      reason: 'WeakTests',
      mutation,
      FAIL_TO_PASS: ['x'],
    });
    const status = applyStageResult({ phase: 'Verify', FAIL_TO_PASS: ['t1'] }, rejected, {
      now,
      maxAttempts: 2,
    });
    expect(status).toMatchObject({ phase: 'Rejected', mutation, FAIL_TO_PASS: ['t1'] });
    expect(status.lastError?.reason).toBe('WeakTests');
    // Other stages' rejections carry nothing.
    const tests = result('tests', { outcome: 'rejected', reason: 'NoFailToPass', FAIL_TO_PASS: ['y'] });
    expect(applyStageResult({ phase: 'Tests' }, tests, { now, maxAttempts: 2 }).FAIL_TO_PASS).toBeUndefined();
  });

  it('does not start anything while suspended; a running attempt is still followed', () => {
    const suspended = { settings: { ...settings, suspend: true } };
    const fresh = plan(undefined, {}, suspended);
    expect(fresh.start).toBeUndefined();
    expect(fresh.requeueAfterMs).toBeUndefined();
    const running = plan(plan(undefined, {}).status, { 'env-1': { state: 'running' } }, suspended);
    expect(running.running).toEqual({ stage: 'env', attempt: 1 });
  });

  it('backs off after an infrastructure failure, then starts attempt 2, then gives up as Failed', () => {
    const started = plan(undefined, {}).status;
    const failure = { reason: 'OOMKilled' as const, message: 'ran out of memory' };
    const first = plan(started, { 'env-1': { state: 'failed', failure } });
    expect(first.start).toBeUndefined();
    expect(first.requeueAfterMs).toBe(retryDelayMs(1));
    expect(first.status.retryAfter).toBe(new Date(now.getTime() + retryDelayMs(1)).toISOString());
    expect(first.events).toEqual([expect.objectContaining({ type: 'Warning', reason: 'OOMKilled' })]);

    // Before the delay: wait (the rest of it). After it: attempt 2.
    const early = plan(first.status, {}, { now: new Date(now.getTime() + 1000) });
    expect(early.start).toBeUndefined();
    expect(early.requeueAfterMs).toBe(retryDelayMs(1) - 1000);
    const later = new Date(now.getTime() + retryDelayMs(1));
    const second = plan(first.status, {}, { now: later });
    expect(second.start).toEqual({ stage: 'env', attempt: 2 });

    const gaveUp = plan(second.status, { 'env-2': { state: 'failed', failure } }, { now: later });
    expect(gaveUp.status.phase).toBe('Failed');
    expect(gaveUp.status.lastError?.reason).toBe('OOMKilled');
    expect(gaveUp.start).toBeUndefined();
    expect(gaveUp.requeueAfterMs).toBeUndefined();
  });

  it('a user retry of a Failed instance runs the next attempt number with a fresh budget', () => {
    const failure = { reason: 'OOMKilled' as const, message: 'ran out of memory' };
    const later = new Date(now.getTime() + retryDelayMs(1));
    // env attempts 1 and 2 failed: Failed.
    let status = plan(undefined, {}).status;
    status = plan(status, { 'env-1': { state: 'failed', failure } }).status;
    status = plan(status, { 'env-2': { state: 'failed', failure } }, { now: later }).status;
    expect(status.phase).toBe('Failed');
    // Rejected and Verified instances are not retried.
    expect(retryFailed({ ...status, phase: 'Rejected' }, later).phase).toBe('Rejected');

    const retried = retryFailed(status, later);
    expect(retried.phase).toBe('Env');
    expect(retried.conditions?.find((c) => c.type === 'EnvReady')).toMatchObject({
      status: 'Unknown',
      reason: 'RetryRequested',
    });
    // The recorded attempts 1 and 2 are never recalled: attempt 3 starts.
    const again = plan(retried, {
      'env-1': { state: 'failed', failure },
      'env-2': { state: 'failed', failure },
    });
    expect(again.start).toEqual({ stage: 'env', attempt: 3 });
    // maxAttempts (2) counts from the retry: one more failure backs off, the next gives up.
    const third = plan(again.status, { 'env-3': { state: 'failed', failure } });
    expect(third.status.phase).toBe('Env');
    expect(third.status.retryAfter).toBeDefined();
    const fourth = plan(
      third.status,
      { 'env-4': { state: 'failed', failure } },
      { now: new Date(now.getTime() + 3_600_000) },
    );
    expect(fourth.status.phase).toBe('Failed');
  });

  it('a failed result (the agent reported it) is retried like a pod failure', () => {
    const started = plan(undefined, {}).status;
    const p = plan(started, {
      'env-1': { state: 'result', result: result('env', { outcome: 'failed', reason: 'LlmUnavailable' }) },
    });
    expect(p.status.phase).toBe('Env');
    expect(p.status.lastError?.reason).toBe('LlmUnavailable');
    expect(p.status.stageDurationsMs).toEqual({ env: 1500 });
  });

  it('a rejection is terminal and starts nothing more', () => {
    const started = plan(undefined, {}).status;
    const p = plan(started, {
      'env-1': { state: 'result', result: result('env', { outcome: 'rejected', reason: 'EnvSetupFailed' }) },
    });
    expect(p.status.phase).toBe('Rejected');
    expect(p.start).toBeUndefined();
    expect(p.events).toEqual([expect.objectContaining({ type: 'Normal', reason: 'EnvSetupFailed' })]);
    expect(plan(p.status, {})).toEqual({ status: p.status, events: [] });
  });

  it("a result for another stage is ResultCorrupt, not that stage's outcome", () => {
    const started = plan(undefined, {}).status;
    const p = plan(started, { 'env-1': { state: 'result', result: result('verify') } });
    expect(p.status.lastError).toMatchObject({ stage: 'env', reason: 'ResultCorrupt' });
    expect(p.status.conditions?.find((c) => c.type === 'Verified')?.status).toBe('Unknown');
  });

  it('asks for the result of an ended attempt, and passes a running attempt’s recheck on', () => {
    const started = plan(undefined, {}).status;
    expect(plan(started, { 'env-1': { state: 'ended' } }).readResult).toEqual({ stage: 'env', attempt: 1 });
    const running = plan(started, { 'env-1': { state: 'running', recheckAfterMs: 5000 } });
    expect(running).toMatchObject({ running: { stage: 'env', attempt: 1 }, requeueAfterMs: 5000 });
    expect(running.start).toBeUndefined();
  });

  it('walks all four stages to Verified with the generation recorded', () => {
    let status: SWEInstanceStatus | undefined = initialStatus({ now, maxAttempts: 2 });
    const seen: Record<string, ObservedAttempt> = {};
    for (const stage of ['env', 'tests', 'prompt', 'verify'] as const) {
      const p = plan(status, seen, { generation: 4 });
      expect(p.start?.stage).toBe(stage);
      status = p.status;
      seen[`${stage}-1`] = { state: 'result', result: result(stage, { FAIL_TO_PASS: ['t'] }) };
    }
    const done = plan(status, seen, { generation: 4 });
    expect(done.status).toMatchObject({ phase: 'Verified', observedGeneration: 4, FAIL_TO_PASS: ['t'] });
    expect(done.events).toEqual([expect.objectContaining({ reason: 'Verified' })]);
  });
});
