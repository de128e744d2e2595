/**
 * A per-test limit (verification.perTestTimeoutSeconds, pytest-timeout here): the PR's test
 * that hangs before the fix fails alone, recorded as a timeout, and the run still labels the
 * instance — instead of the whole run hitting verification.testTimeoutSeconds.
 */
import { mkdtemp } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { buildPythonRepo } from '../../../test/fixtures/repos.ts';
import { runStage } from './run-stage.ts';

describe('per-test time limit', () => {
  it('a hanging test fails fast and the others label the instance', async () => {
    const root = await mkdtemp(path.join(os.tmpdir(), 'scaleswe-pertest-'));
    const fixture = await buildPythonRepo(root, { hangsBeforeFix: true, dirName: 'textutils-hang' });
    const config = { perTestTimeoutSeconds: 5, testTimeoutSeconds: 120 };
    const env = await runStage(
      { stage: 'env', instance: fixture.spec, config },
      { workDir: path.join(root, 'env') },
    );
    expect(env, env.logTail).toMatchObject({ outcome: 'succeeded' });
    expect(env.recipe!.testCommand).toContain('PYTEST_TIMEOUT=5 ');
    const tests = await runStage(
      { stage: 'tests', instance: fixture.spec, previous: { recipe: env.recipe! }, config },
      { workDir: path.join(root, 'tests') },
    );
    expect(tests, tests.logTail).toMatchObject({ outcome: 'succeeded', reason: 'TestsReady' });
    expect(tests.FAIL_TO_PASS).toEqual(fixture.expected.FAIL_TO_PASS);
    expect(tests.PASS_TO_PASS).toEqual(fixture.expected.PASS_TO_PASS);
  }, 400_000);
});
