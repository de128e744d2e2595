import { describe, expect, it } from 'vitest';
import { unworkableEnvOutcome } from './env-agent.ts';

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
