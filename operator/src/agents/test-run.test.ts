import { describe, expect, it } from 'vitest';
import { countStatuses, exitNote } from './test-run.ts';

const run = (exitCode: number, statuses: string[], timedOut = false) => ({
  exitCode,
  timedOut,
  output: '',
  results: new Map(statuses.map((s, i) => [`t${i}`, s as 'passed'])),
  scoped: false,
});

describe('exit code next to parsed results', () => {
  it('flags a failing runner that reported no failing test', () => {
    expect(exitNote(run(2, ['passed', 'passed']))).toBe(' [runner exited 2 without a failing test]');
    expect(exitNote(run(1, ['passed', 'failed']))).toBe('');
    expect(exitNote(run(0, ['passed']))).toBe('');
    expect(exitNote(run(0, ['passed'], true))).toContain('timed out');
  });
  it('counts statuses', () => {
    expect(countStatuses(run(0, ['passed', 'failed', 'passed']).results)).toBe('2 passed, 1 failed');
    expect(countStatuses(new Map())).toBe('no tests');
  });
});
