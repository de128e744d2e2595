import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { validateCurationRun } from '../api/index.ts';
import type { PrSource } from '../mining/types.ts';
import { runLocal } from './run.ts';
import { StateDir } from './state.ts';

const scratch = mkdtempSync(join(tmpdir(), 'scaleswe-runlocal-'));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

function spec(suspend = false) {
  const run = validateCurationRun({
    apiVersion: 'scaleswe.dev/v1alpha1',
    kind: 'CurationRun',
    metadata: { name: 'widgets' },
    spec: { source: { git: { url: 'http://127.0.0.1:9/org/widgets.git' } }, suspend },
  });
  if (!run.ok) throw new Error(run.errors.join('\n'));
  return run.value.spec;
}

function options(state: StateDir, source: PrSource, suspend = false) {
  return {
    name: 'widgets',
    spec: spec(suspend),
    state,
    source,
    parallel: 1,
    isolation: 'none' as const,
    signal: new AbortController().signal,
    onEvent: () => undefined,
  };
}

describe('runLocal records a run once its source has answered', () => {
  it('a source that cannot be opened leaves no run.json (nothing holds the name)', async () => {
    const state = new StateDir(join(scratch, 'unreachable'));
    const source: PrSource = {
      nextPage: () => Promise.reject(new Error('git clone http://127.0.0.1:9/org/widgets.git failed')),
    };
    await expect(runLocal(options(state, source))).rejects.toThrow(/git clone/);
    expect(await state.loadRun()).toBeUndefined();
    expect(existsSync(join(state.root, 'run.json'))).toBe(false);
  });

  it('the first page, even an empty one, records the run; a suspended run is recorded unmined', async () => {
    const state = new StateDir(join(scratch, 'empty'));
    const source: PrSource = {
      nextPage: async () => ({ candidates: [], rejected: [], cursor: 'c1', exhausted: true }),
    };
    await runLocal(options(state, source));
    expect(await state.loadRun()).toMatchObject({ name: 'widgets', cursor: 'c1', exhausted: true });

    const suspended = new StateDir(join(scratch, 'suspended'));
    const never: PrSource = { nextPage: () => Promise.reject(new Error('not called when suspended')) };
    await runLocal(options(suspended, never, true));
    const run = await suspended.loadRun();
    expect(run?.name).toBe('widgets');
    expect(await suspended.hasMined(run!)).toBe(false);
  });
});
