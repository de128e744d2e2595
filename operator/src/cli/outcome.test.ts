import { describe, expect, it } from 'vitest';
import type { LocalInstance } from '../local/state.ts';
import { failedInstancesMessage } from './outcome.ts';

const instance = (id: string, phase: string, reason?: string): LocalInstance =>
  ({
    spec: { instanceId: id },
    status: { phase, ...(reason && { lastError: { stage: 'env', reason, message: '', time: '' } }) },
    stageDurationsMs: {},
  }) as unknown as LocalInstance;

describe('the CLI run outcome', () => {
  it('verified and rejected instances are a clean finish', () => {
    expect(
      failedInstancesMessage([instance('a-1', 'Verified'), instance('a-2', 'Rejected', 'NoFailToPass')]),
    ).toBeUndefined();
  });

  it('failed instances are named with their reasons', () => {
    expect(
      failedInstancesMessage([
        instance('a-1', 'Verified'),
        instance('a-2', 'Failed', 'CloneFailed'),
        instance('a-3', 'Failed', 'LlmUnavailable'),
      ]),
    ).toBe(
      '2 of 3 instances failed after their retries (a-2: CloneFailed, a-3: LlmUnavailable); the export holds the rest; these are infrastructure failures: rerun the same command once the cause is fixed and they continue',
    );
  });
});
