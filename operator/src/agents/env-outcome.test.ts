import { describe, expect, it } from 'vitest';
import { unworkableEnvOutcome, wholeSuiteJudges } from './env-agent.ts';
import type { TestStatus } from './parsers/types.ts';

// Real trial: a cold Go build ran past the test limit on a loaded machine and the instance was
// Rejected (EnvSetupFailed), a verdict from an infrastructure fault.
describe('env stage without a working recipe', () => {
  const rejection = { reason: 'EnvSetupFailed', message: 'no deterministic recipe worked' };

  it('is a rejection when every attempt is evidence', () => {
    expect(unworkableEnvOutcome([{ note: 'setup exited 1' }], rejection)).toEqual({
      outcome: 'rejected',
      ...rejection,
    });
  });

  it('is a retried TestsTimedOut when an attempt was cut off by its limit', () => {
    const out = unworkableEnvOutcome(
      [{ note: 'setup exited 1' }, { note: 'test command timed out', timedOut: true }],
      rejection,
    );
    expect(out.outcome).toBe('failed');
    expect(out.reason).toBe('TestsTimedOut');
    expect(out.message).toContain('test command timed out');
  });
});

// Real trial: filelock#345's test file held one test, failing at base (the bug the PR fixes);
// the scoped run alone rejected the environment ("all 1 test(s) that ran failed at base").
describe('the run of the PR test files at base', () => {
  const run = (statuses: TestStatus[], timedOut = false) => ({
    results: new Map(statuses.map((s, i) => [`t${i}`, s])),
    exitCode: statuses.every((s) => s === 'passed') ? 0 : 1,
    timedOut,
  });
  it('leaves the environment to the whole suite when it shows no working one', () => {
    expect(wholeSuiteJudges(run(['failed']), 0.5, true)).toBe(true);
    expect(wholeSuiteJudges(run(['skipped', 'skipped']), 0.5, true)).toBe(true);
    expect(wholeSuiteJudges(run([]), 0.5, true)).toBe(true);
    expect(wholeSuiteJudges(run(['error', 'error', 'passed']), 0.5, true)).toBe(true);
  });
  it('judges it alone when it does, or when it was cut off', () => {
    expect(wholeSuiteJudges(run(['failed', 'passed']), 0.5, true)).toBe(false);
    // The PR's own tests on a base without tests are expected to fail.
    expect(wholeSuiteJudges(run(['failed']), 0.5, false)).toBe(false);
    expect(wholeSuiteJudges(run(['failed'], true), 0.5, true)).toBe(false);
  });
});
