import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import type { TrajectoryStep } from '../api/index.ts';
import {
  decodeTrajectory,
  encodeTrajectory,
  type TrajectoryPayload,
  trajectoriesOf,
} from './trajectory-config-map.ts';

function step(system: string, user: string, padding = ''): TrajectoryStep {
  return {
    request: {
      model: 'm',
      messages: [
        { role: 'system', content: system },
        { role: 'user', content: user + padding },
      ],
    },
    response: { choices: [{ message: { role: 'assistant', content: 'ok' } }] },
    usage: { prompt_tokens: 1, completion_tokens: 1, total_tokens: 2 },
    startedAt: '2026-01-01T00:00:00.000Z',
    durationMs: 5,
  };
}

const base = { instanceId: 'o__r-1', stage: 'prompt' as const, attempt: 0, droppedSteps: 0 };

describe('trajectory ConfigMap payload', () => {
  it('round-trips steps', () => {
    const payload: TrajectoryPayload = { ...base, steps: [step('a', '1'), step('a', '2')] };
    const { data, payload: kept } = encodeTrajectory(payload);
    expect(kept.droppedSteps).toBe(0);
    expect(decodeTrajectory(data)).toEqual(payload);
  });

  it('drops the oldest steps to stay under the limit and counts them', () => {
    // Incompressible padding: 20 steps of ~10 KiB each, limit ~64 KiB.
    const steps = Array.from({ length: 20 }, (_, i) =>
      step('a', String(i), randomBytes(7000).toString('base64')),
    );
    const { data, payload } = encodeTrajectory({ ...base, steps }, 64 * 1024);
    expect(data.length).toBeLessThanOrEqual(64 * 1024);
    expect(payload.droppedSteps).toBeGreaterThan(0);
    expect(payload.droppedSteps + payload.steps.length).toBe(20);
    const decoded = decodeTrajectory(data)!;
    expect(decoded.droppedSteps).toBe(payload.droppedSteps);
    expect(decoded.steps.at(-1)).toEqual(steps.at(-1)); // the newest step is kept
  });

  it('corrupt data decodes to undefined', () => {
    expect(decodeTrajectory('not-gzip')).toBeUndefined();
    expect(decodeTrajectory(undefined)).toBeUndefined();
  });

  it('splits a stage into one trajectory per conversation', () => {
    const t = trajectoriesOf({
      ...base,
      steps: [step('prompt', '1'), step('judge', 'x'), step('prompt', '2')],
    });
    expect(t.map((x) => [x.agent, x.steps.length])).toEqual([
      ['PromptAgent', 2],
      ['PromptAgent#2', 1],
    ]);
  });
});
