import { describe, expect, it } from 'vitest';
import type { StageResult } from '../api/index.ts';
import {
  applyStageFailure,
  applyStageResult,
  initialStatus,
  isTerminal,
  nextStage,
  retryDelayMs,
} from './pipeline.ts';

const now = new Date('2026-02-01T00:00:00Z');
const opts = { now, generation: 1, maxAttempts: 3 };

function result(partial: Partial<StageResult> & Pick<StageResult, 'stage'>): StageResult {
  return {
    outcome: 'succeeded',
    reason: 'Done',
    message: '',
    tokensUsed: 0,
    durationMs: 1,
    trajectories: [],
    ...partial,
  };
}

describe('pipeline', () => {
  it('walks env → tests → prompt → verify to Verified', () => {
    let status = initialStatus(opts);
    expect(nextStage(status)).toBe('env');
    status = applyStageResult(
      status,
      result({ stage: 'env', recipe: { setupScript: 's', testCommand: 't', resultFormat: 'pytest' } }),
      opts,
    );
    expect(status.phase).toBe('Tests');
    expect(nextStage(status)).toBe('tests');
    status = applyStageResult(
      status,
      result({ stage: 'tests', FAIL_TO_PASS: ['a'], PASS_TO_PASS: ['b', 'c'] }),
      opts,
    );
    expect(nextStage(status)).toBe('prompt');
    status = applyStageResult(
      status,
      result({ stage: 'prompt', problemStatement: 'bug', tokensUsed: 7 }),
      opts,
    );
    expect(status.phase).toBe('Verify');
    status = applyStageResult(status, result({ stage: 'verify', PASS_TO_PASS: ['b'], tokensUsed: 3 }), opts);
    expect(status).toMatchObject({
      phase: 'Verified',
      FAIL_TO_PASS: ['a'],
      PASS_TO_PASS: ['b'],
      problemStatement: 'bug',
      tokensUsed: 10,
      attempts: { env: 1, tests: 1, prompt: 1, verify: 1 },
      completedAt: now.toISOString(),
    });
    expect(status.recipe?.testCommand).toBe('t');
    expect(isTerminal(status)).toBe(true);
    expect(nextStage(status)).toBeUndefined();
    expect(status.conditions?.every((c) => c.status === 'True' && c.observedGeneration === 1)).toBe(true);
  });

  it('adds input and output tokens apart once a stage reported them (llm.price prices them)', () => {
    let status = initialStatus(opts);
    const recipe = { setupScript: 's', testCommand: 't', resultFormat: 'pytest' as const };
    status = applyStageResult(status, result({ stage: 'env', recipe }), opts);
    expect(status).not.toHaveProperty('inputTokens');
    status = applyStageResult(
      status,
      result({ stage: 'tests', FAIL_TO_PASS: ['a'], tokensUsed: 40, inputTokens: 30, outputTokens: 10 }),
      opts,
    );
    status = applyStageResult(
      status,
      result({
        stage: 'prompt',
        outcome: 'rejected',
        reason: 'Leak',
        tokensUsed: 7,
        inputTokens: 5,
        outputTokens: 2,
      }),
      opts,
    );
    expect(status).toMatchObject({ phase: 'Rejected', tokensUsed: 47, inputTokens: 35, outputTokens: 12 });
  });

  it('a rejection is terminal and keeps its reason', () => {
    const status = applyStageResult(
      initialStatus(opts),
      result({ stage: 'env', outcome: 'rejected', reason: 'NoTestRunner', message: 'no tests found' }),
      opts,
    );
    expect(status.phase).toBe('Rejected');
    expect(status.lastError).toMatchObject({ stage: 'env', reason: 'NoTestRunner' });
    expect(status.conditions?.find((c) => c.type === 'EnvReady')).toMatchObject({
      status: 'False',
      reason: 'NoTestRunner',
    });
    expect(nextStage(status)).toBeUndefined();
  });

  it('retries infrastructure failures with backoff, then fails', () => {
    let status = applyStageFailure(initialStatus(opts), 'env', 'OOMKilled', 'container OOMKilled', opts);
    expect(status).toMatchObject({ phase: 'Env', attempts: { env: 1 } });
    expect(Date.parse(status.retryAfter!) - now.getTime()).toBe(retryDelayMs(1));
    expect(nextStage(status)).toBe('env');
    status = applyStageFailure(status, 'env', 'DeadlineExceeded', 'pod deadline', opts);
    expect(Date.parse(status.retryAfter!) - now.getTime()).toBe(2 * retryDelayMs(1));
    status = applyStageFailure(status, 'env', 'ResultCorrupt', 'bad envelope', opts);
    expect(status).toMatchObject({
      phase: 'Failed',
      attempts: { env: 3 },
      lastError: { reason: 'ResultCorrupt' },
    });
    expect(status.retryAfter).toBeUndefined();
  });

  it('caps the backoff', () => {
    expect(retryDelayMs(30)).toBe(600_000);
  });
});
