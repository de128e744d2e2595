import { describe, expect, it } from 'vitest';
import type { RunEvent } from '../local/run.ts';
import {
  applyProgressEvent,
  formatDuration,
  initialProgress,
  progressSnapshot,
  stageLine,
  summaryLine,
} from './progress-model.ts';

function drive(events: RunEvent[], start = 0) {
  const state = initialProgress(start);
  for (const e of events) applyProgressEvent(state, e);
  return state;
}

const mined = (instances: number, rejected = 0): RunEvent => ({
  type: 'mined',
  discovered: instances + rejected,
  instances,
  rejected,
  exhausted: true,
});
const ran = (id: string, stage: 'env' | 'tests' | 'prompt' | 'verify'): RunEvent[] => [
  { type: 'stage-start', instanceId: id, stage, attempt: 1 },
  { type: 'stage-end', instanceId: id, stage, ok: true, reason: 'Done', durationMs: 1 },
];

describe('progress model', () => {
  it('before mining: no bar counts as full, the summary says mining', () => {
    const snap = progressSnapshot(drive([]), 5_000);
    expect(snap.stages.every((s) => s.need === 0 && s.done === 0)).toBe(true);
    expect(stageLine(snap.stages[0]!, snap.mined).counts).toBe('-/-');
    expect(summaryLine(snap)).toBe('elapsed 5s | mining…');
  });

  it('an instance rejected at tests no longer counts for prompt and verify', () => {
    const state = drive([
      mined(2, 7),
      ...ran('a-1', 'env'),
      ...ran('b-2', 'env'),
      ...ran('a-1', 'tests'),
      { type: 'stage-start', instanceId: 'b-2', stage: 'tests', attempt: 1 },
      {
        type: 'stage-end',
        instanceId: 'b-2',
        stage: 'tests',
        ok: true,
        reason: 'NoFailToPass',
        durationMs: 1,
      },
      { type: 'instance-done', instanceId: 'b-2', phase: 'Rejected', reason: 'NoFailToPass', stage: 'tests' },
      ...ran('a-1', 'prompt'),
      { type: 'stage-start', instanceId: 'a-1', stage: 'verify', attempt: 1 },
    ]);
    const snap = progressSnapshot(state, 60_000);
    const by = Object.fromEntries(snap.stages.map((s) => [s.stage, [s.done, s.need]]));
    expect(by).toEqual({ env: [2, 2], tests: [2, 2], prompt: [1, 1], verify: [0, 1] });
    expect(snap.stages[3]!.running).toEqual(['a-1']);
    expect(stageLine(snap.stages[3]!, true)).toEqual({ counts: '0/1', info: 'running: a-1' });
    // Rejects at mining and in the pipeline both show; one of two finished in 60 s → 60 s left.
    expect(summaryLine(snap)).toBe(
      'elapsed 1m00s, ETA 1m00s | 1/2 finished (Rejected=1) | mining rejected 7 PRs | rejected: NoFailToPass=1',
    );
  });

  it('on resume, instances finished earlier fill the bars but not the ETA', () => {
    const state = drive([
      mined(3),
      { type: 'instance-done', instanceId: 'a-1', phase: 'Verified', resumed: true },
      {
        type: 'instance-done',
        instanceId: 'b-2',
        phase: 'Failed',
        reason: 'AgentCrashed',
        stage: 'env',
        resumed: true,
      },
      ...ran('c-3', 'env'),
    ]);
    const snap = progressSnapshot(state, 10_000);
    const by = Object.fromEntries(snap.stages.map((s) => [s.stage, [s.done, s.need]]));
    expect(by).toEqual({ env: [3, 3], tests: [1, 2], prompt: [1, 2], verify: [1, 2] });
    expect(snap.etaMs).toBeUndefined();
    expect(summaryLine(snap)).toContain('2/3 finished (Verified=1 Failed=1)');
  });

  it('lists at most two running instances by name', () => {
    const state = drive([
      mined(3),
      ...['a-1', 'b-2', 'c-3'].map(
        (id): RunEvent => ({ type: 'stage-start', instanceId: id, stage: 'env', attempt: 1 }),
      ),
    ]);
    expect(stageLine(progressSnapshot(state, 0).stages[0]!, true).info).toBe('running: a-1, b-2 +1');
  });

  it('formats durations', () => {
    expect([formatDuration(4_400), formatDuration(75_000), formatDuration(3_725_000)]).toEqual([
      '4s',
      '1m15s',
      '1h02m',
    ]);
  });
});
