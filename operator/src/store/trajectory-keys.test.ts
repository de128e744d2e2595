import { describe, expect, it } from 'vitest';
import { parseTrajectoryKey, trajectoryKey } from './trajectory-keys.ts';

describe('trajectory keys', () => {
  it('parse back into the instance, stage and attempt they were made of', () => {
    const parts = { instance: 'nightly.acme.calc-12', stage: 'verify', attempt: 2003 };
    expect(parseTrajectoryKey(trajectoryKey({ namespace: 'ns', run: 'nightly', ...parts }))).toEqual(parts);
  });

  it('other keys are not trajectories', () => {
    for (const key of [
      'instances/ns/nightly.acme.calc-12/0a1b.json',
      'trajectories/ns/nightly/x/env-1.json',
      'trajectories/ns/nightly/x/y/env-1.json.gz',
      'trajectories/ns/nightly/x/env-one.json.gz',
    ])
      expect(parseTrajectoryKey(key), key).toBeUndefined();
  });
});
