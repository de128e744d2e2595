import { describe, expect, it } from 'vitest';
import { type SolveAttempt, type StageResult, validateCurationRun } from '../api/index.ts';
import { attemptGrade, gradeOf, passAtK, solveSummary, wantsSolve } from './solve.ts';

/** pass@k by brute force: the fraction of k-subsets of n samples holding a correct one. */
function bruteForce(n: number, c: number, k: number): number {
  const choose = (a: number, b: number): number => {
    let r = 1;
    for (let i = 0; i < b; i++) r = (r * (a - i)) / (i + 1);
    return r;
  };
  return 1 - choose(n - c, k) / choose(n, k);
}

describe('passAtK (unbiased estimator)', () => {
  it('matches 1 - C(n-c,k)/C(n,k) and its edge cases', () => {
    for (const [n, c, k] of [
      [10, 3, 1],
      [10, 3, 5],
      [5, 0, 2],
      [20, 1, 10],
      [7, 6, 3],
    ] as const)
      expect(passAtK(n, c, k)).toBeCloseTo(bruteForce(n, c, k), 12);
    expect(passAtK(4, 1, 1)).toBe(0.25);
    expect(passAtK(4, 0, 4)).toBe(0);
    expect(passAtK(4, 4, 4)).toBe(1);
    expect(passAtK(3, 2, 2)).toBe(1); // n - c < k: every k-subset holds a correct one
  });
  it('is undefined with fewer samples than k, or impossible counts', () => {
    expect(passAtK(2, 1, 3)).toBeUndefined();
    expect(passAtK(2, 3, 1)).toBeUndefined();
    expect(passAtK(2, 1, 0)).toBeUndefined();
  });
});

const split = (success: string[], failure: string[]) => ({ success, failure });
const result = (over: Partial<StageResult>): StageResult => ({
  stage: 'verify',
  outcome: 'succeeded',
  reason: 'Graded',
  message: '',
  tokensUsed: 0,
  durationMs: 1,
  trajectories: [],
  ...over,
});

describe('attempt grades', () => {
  const labels = { FAIL_TO_PASS: ['t::a', 't::b'] };
  it('resolved only when every FAIL_TO_PASS passes and no PASS_TO_PASS breaks', () => {
    expect(
      gradeOf({ FAIL_TO_PASS: split(['a', 'b'], []), PASS_TO_PASS: split(['c'], []), testOutput: '' }),
    ).toEqual({
      resolved: true,
      failToPassPassed: 2,
      failToPassTotal: 2,
      passToPassBroken: 0,
      reason: 'Graded',
    });
    expect(
      gradeOf({ FAIL_TO_PASS: split(['a'], ['b']), PASS_TO_PASS: split(['c'], []), testOutput: '' }),
    ).toMatchObject({ resolved: false, failToPassPassed: 1, failToPassTotal: 2, passToPassBroken: 0 });
    expect(
      gradeOf({ FAIL_TO_PASS: split(['a', 'b'], []), PASS_TO_PASS: split([], ['c']), testOutput: '' }),
    ).toMatchObject({ resolved: false, failToPassPassed: 2, passToPassBroken: 1 });
  });
  it('an empty patch or one that does not apply is unresolved; a run without evidence is an error', () => {
    expect(attemptGrade('  \n', undefined, labels)).toEqual({
      grade: {
        resolved: false,
        failToPassPassed: 0,
        failToPassTotal: 2,
        passToPassBroken: 0,
        reason: 'EmptyPatch',
      },
    });
    expect(
      attemptGrade('diff', result({ outcome: 'rejected', reason: 'PatchDoesNotApply' }), labels),
    ).toMatchObject({ grade: { resolved: false, reason: 'PatchDoesNotApply' } });
    expect(
      attemptGrade('diff', result({ outcome: 'failed', reason: 'TestsTimedOut', message: 'cut' }), labels),
    ).toEqual({ error: { reason: 'TestsTimedOut', message: 'cut' } });
    expect(
      attemptGrade(
        'diff',
        result({
          grade: { FAIL_TO_PASS: split(['t::a', 't::b'], []), PASS_TO_PASS: split([], []), testOutput: '' },
        }),
        labels,
      ),
    ).toMatchObject({ grade: { resolved: true } });
  });
});

describe('solveSummary', () => {
  const attempt = (n: number, resolved: boolean | undefined): SolveAttempt => ({
    instanceId: 'o__r-1',
    attempt: n,
    patch: '',
    tokensUsed: 30,
    inputTokens: 20,
    outputTokens: 10,
    durationMs: 0,
    ...(resolved === undefined
      ? { error: { reason: 'LlmUnavailable', message: '' } }
      : {
          grade: { resolved, failToPassPassed: 0, failToPassTotal: 1, passToPassBroken: 0, reason: 'Graded' },
        }),
  });
  it('counts graded attempts only; pass@k once there are k of them', () => {
    expect(solveSummary([attempt(1, true), attempt(2, false), attempt(3, undefined)], 2)).toEqual({
      attempts: 2,
      resolved: 1,
      solveRate: 0.5,
      k: 2,
      passAtK: 1,
      failedAttempts: 1,
      // The failed attempt's tokens too: it was paid for.
      tokensUsed: 90,
      inputTokens: 60,
      outputTokens: 30,
    });
    expect(solveSummary([attempt(1, false), attempt(2, undefined)], 2)).toEqual({
      attempts: 1,
      resolved: 0,
      solveRate: 0,
      k: 2,
      failedAttempts: 1,
      tokensUsed: 60,
      inputTokens: 40,
      outputTokens: 20,
    });
    expect(solveSummary([], 1)).toEqual({
      attempts: 0,
      resolved: 0,
      k: 1,
      failedAttempts: 0,
      tokensUsed: 0,
      inputTokens: 0,
      outputTokens: 0,
    });
  });
  it('only Verified instances without a summary are solved', () => {
    expect(wantsSolve({ phase: 'Verified' }, true)).toBe(true);
    expect(wantsSolve({ phase: 'Verified' }, false)).toBe(false);
    expect(wantsSolve({ phase: 'Rejected' }, true)).toBe(false);
    expect(
      wantsSolve({ phase: 'Verified', solve: { attempts: 1, resolved: 0, k: 1, failedAttempts: 0 } }, true),
    ).toBe(false);
  });
});

describe('spec.solve', () => {
  const run = (spec: Record<string, unknown>) =>
    validateCurationRun({
      apiVersion: 'scaleswe.dev/v1alpha1',
      kind: 'CurationRun',
      metadata: { name: 'r' },
      spec: { source: { git: { url: 'https://example.com/o/r.git' } }, ...spec },
    });
  it('needs an llm section; defaults to one attempt', () => {
    const bad = run({ solve: { attempts: 3 } });
    expect(bad.ok).toBe(false);
    expect(bad.ok ? '' : bad.errors.join('\n')).toMatch(/solve needs an llm section/);
    const good = run({ solve: {}, llm: { baseURL: 'http://127.0.0.1:1/v1', model: 'm' } });
    expect(good.ok && good.value.spec.solve).toEqual({ attempts: 1, maxTurns: 50, maxTokens: 200000 });
    const none = run({});
    expect(none.ok && none.value.spec.solve).toBeUndefined();
  });
});
