/**
 * Runs that are no evidence must not mint labels: a run before the gold patch that can only
 * end by the time limit reports nothing, and every test it did not reach would otherwise
 * count as failing before (a false FAIL_TO_PASS for the whole suite).
 */
import { mkdtemp } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { buildPythonRepo } from '../../../test/fixtures/repos.ts';
import { runStage } from './run-stage.ts';

describe('run validity', () => {
  it('a timed-out test run is an infrastructure failure (retried), never FAIL_TO_PASS', async () => {
    const root = await mkdtemp(path.join(os.tmpdir(), 'scaleswe-validity-'));
    const fixture = await buildPythonRepo(root, { hangsBeforeFix: true, dirName: 'textutils-hang' });
    const env = await runStage({ stage: 'env', instance: fixture.spec }, { workDir: path.join(root, 'env') });
    expect(env, env.logTail).toMatchObject({ outcome: 'succeeded' });
    const tests = await runStage(
      {
        stage: 'tests',
        instance: fixture.spec,
        previous: { recipe: env.recipe! },
        config: { testTimeoutSeconds: 20 },
      },
      { workDir: path.join(root, 'tests') },
    );
    expect(tests, tests.logTail).toMatchObject({ outcome: 'failed', reason: 'TestsTimedOut' });
    expect(tests.FAIL_TO_PASS).toBeUndefined();
  }, 300_000);
});
