/**
 * How test runs label an instance. Runs that are no evidence must not mint labels: a run
 * before the gold patch that can only end by the time limit reports nothing, and every test
 * it did not reach would otherwise count as failing before (a false FAIL_TO_PASS for the
 * whole suite). And which tests label it: those of the files its test patch touches, as
 * SWE-bench runs it, or the whole suite when asked.
 */
import { mkdtemp } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { buildPythonRepo } from '../../../test/fixtures/repos.ts';
import { runStage } from './run-stage.ts';

describe('test runs', () => {
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

  it('scope files labels by the touched test files only; scope suite by every test', async () => {
    const root = await mkdtemp(path.join(os.tmpdir(), 'scaleswe-scope-'));
    const fixture = await buildPythonRepo(root, { otherTestFile: true, dirName: 'textutils-scope' });
    const env = await runStage({ stage: 'env', instance: fixture.spec }, { workDir: path.join(root, 'env') });
    expect(env, env.logTail).toMatchObject({ outcome: 'succeeded' });
    const labels = async (testScope: 'files' | 'suite') => {
      const r = await runStage(
        { stage: 'tests', instance: fixture.spec, previous: { recipe: env.recipe! }, config: { testScope } },
        { workDir: path.join(root, `tests-${testScope}`) },
      );
      expect(r, r.logTail).toMatchObject({ outcome: 'succeeded' });
      return { FAIL_TO_PASS: r.FAIL_TO_PASS, PASS_TO_PASS: r.PASS_TO_PASS, log: r.logTail ?? '' };
    };
    const files = await labels('files');
    expect(files).toMatchObject(fixture.expected);
    expect(files.log).not.toContain('test_other');
    const suite = await labels('suite');
    expect(suite.FAIL_TO_PASS).toEqual(fixture.expected.FAIL_TO_PASS);
    expect(suite.PASS_TO_PASS).toEqual(
      [...fixture.expected.PASS_TO_PASS, 'tests/test_other.py::test_other'].sort(),
    );
  }, 400_000);
});
