/**
 * End to end on a real Python repository built in the test: the real runner, real git,
 * real venv/pip/pytest, no LLM (the deterministic path).
 */
import { mkdtemp, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { buildPythonRepo, type FixtureRepo } from '../../../test/fixtures/repos.ts';
import type { Recipe } from '../api/index.ts';
import { runStage } from './run-stage.ts';

let root: string;
let fixture: FixtureRepo;
let recipe: Recipe;

beforeAll(async () => {
  root = await mkdtemp(path.join(os.tmpdir(), 'scaleswe-py-'));
  fixture = await buildPythonRepo(root);
  const env = await runStage({ stage: 'env', instance: fixture.spec }, { workDir: path.join(root, 'env') });
  expect(env, env.logTail).toMatchObject({ outcome: 'succeeded', reason: 'EnvReady', language: 'python' });
  recipe = env.recipe!;
}, 180_000);

describe('python fixture, no LLM', () => {
  it('env recipe is deterministic and replayable', () => {
    expect(recipe.source).toBe('deterministic');
    expect(recipe.resultFormat).toBe('pytest');
    expect(recipe.setupScript).toContain("\npi '.[test]' pytest\npe\n");
    // The interpreter was discovered in the sandbox and is recorded with its absolute path.
    expect(recipe.toolchain?.python).toMatch(/^3\.\d+\.\d+$/);
    expect(recipe.setupScript).toMatch(/^PY=\/\S+python3[.\d]*$/m);
  }, 240_000);

  it('tests → prompt → verify give the exact FAIL_TO_PASS / PASS_TO_PASS', async () => {
    const tests = await runStage(
      { stage: 'tests', instance: fixture.spec, previous: { recipe } },
      { workDir: path.join(root, 'tests') },
    );
    expect(tests, tests.logTail).toMatchObject({
      outcome: 'succeeded',
      reason: 'TestsReady',
      testsSource: 'pr',
      FAIL_TO_PASS: fixture.expected.FAIL_TO_PASS,
      PASS_TO_PASS: fixture.expected.PASS_TO_PASS,
      tokensUsed: 0,
      trajectories: [],
    });
    const prompt = await runStage(
      { stage: 'prompt', instance: fixture.spec },
      { workDir: path.join(root, 'prompt') },
    );
    expect(prompt).toMatchObject({
      outcome: 'succeeded',
      problemStatementSource: 'pr',
      problemStatement: `${fixture.spec.title}\n${fixture.spec.body}`,
    });
    const verify = await runStage(
      {
        stage: 'verify',
        instance: fixture.spec,
        previous: {
          recipe,
          testsSource: 'pr',
          FAIL_TO_PASS: tests.FAIL_TO_PASS,
          PASS_TO_PASS: tests.PASS_TO_PASS,
        },
        config: { reruns: 2 },
      },
      { workDir: path.join(root, 'verify') },
    );
    expect(verify, verify.logTail).toMatchObject({
      outcome: 'succeeded',
      reason: 'Verified',
      FAIL_TO_PASS: fixture.expected.FAIL_TO_PASS,
      PASS_TO_PASS: fixture.expected.PASS_TO_PASS,
    });
    expect(verify.logTail).toContain('run 2/2');
  }, 240_000);

  it('a flaky test is caught by the reruns and dropped', async () => {
    const control = path.join(root, 'flaky-control');
    const flaky = await buildPythonRepo(root, { flakyControlDir: control, dirName: 'textutils-flaky' });
    const timing = 'tests/test_timing.py::test_responds_in_time';
    // The timing test lives in a file the PR does not touch: label by the whole suite.
    const tests = await runStage(
      { stage: 'tests', instance: flaky.spec, previous: { recipe }, config: { testScope: 'suite' } },
      { workDir: path.join(root, 'flaky-tests') },
    );
    expect(tests, tests.logTail).toMatchObject({
      outcome: 'succeeded',
      FAIL_TO_PASS: fixture.expected.FAIL_TO_PASS,
    });
    expect(tests.PASS_TO_PASS).toEqual([...fixture.expected.PASS_TO_PASS, timing].sort());
    // From now on the timing test fails on every other run.
    await writeFile(path.join(control, 'flaky'), '');
    const verify = await runStage(
      {
        stage: 'verify',
        instance: flaky.spec,
        previous: {
          recipe,
          testsSource: 'pr',
          FAIL_TO_PASS: tests.FAIL_TO_PASS,
          PASS_TO_PASS: tests.PASS_TO_PASS,
        },
        config: { reruns: 3, testScope: 'suite' },
      },
      { workDir: path.join(root, 'flaky-verify') },
    );
    expect(verify, verify.logTail).toMatchObject({
      outcome: 'succeeded',
      FAIL_TO_PASS: fixture.expected.FAIL_TO_PASS,
      PASS_TO_PASS: fixture.expected.PASS_TO_PASS,
    });
    expect(verify.message).toContain(`flaky: ${timing}`);
  }, 240_000);

  it('a base that does not collect with the PR tests: FAIL_TO_PASS is the tests the PR adds', async () => {
    const broken = await buildPythonRepo(root, { importsNewApi: true, dirName: 'textutils-newapi' });
    const tests = await runStage(
      { stage: 'tests', instance: broken.spec, previous: { recipe } },
      { workDir: path.join(root, 'newapi-tests') },
    );
    expect(tests, tests.logTail).toMatchObject({
      outcome: 'succeeded',
      FAIL_TO_PASS: broken.expected.FAIL_TO_PASS,
      PASS_TO_PASS: broken.expected.PASS_TO_PASS,
    });
    // The instance records why the old tests of the file are not labelled.
    expect(tests.message).toContain('the base does not build or collect 2 test(s)');
    expect(tests.message).toContain('FAIL_TO_PASS limited to the 3 test(s) the test patch adds or changes');
    const verify = await runStage(
      {
        stage: 'verify',
        instance: broken.spec,
        previous: { recipe, testsSource: 'pr', FAIL_TO_PASS: tests.FAIL_TO_PASS, PASS_TO_PASS: [] },
        config: { reruns: 1 },
      },
      { workDir: path.join(root, 'newapi-verify') },
    );
    expect(verify, verify.logTail).toMatchObject({
      outcome: 'succeeded',
      FAIL_TO_PASS: broken.expected.FAIL_TO_PASS,
      PASS_TO_PASS: [],
    });
  }, 240_000);

  it("the PR's test file fails at base alone: the whole suite judges the environment (filelock#345)", async () => {
    const failing = await buildPythonRepo(root, { prFileFailsAtBase: true, dirName: 'textutils-failing' });
    const env = await runStage(
      { stage: 'env', instance: failing.spec },
      { workDir: path.join(root, 'failing-env') },
    );
    // Before: rejected from the scoped run alone, "all 1 test(s) that ran failed at base".
    expect(env, env.logTail).toMatchObject({ outcome: 'succeeded', reason: 'EnvReady' });
    const tests = await runStage(
      { stage: 'tests', instance: failing.spec, previous: { recipe: env.recipe! } },
      { workDir: path.join(root, 'failing-tests') },
    );
    expect(tests, tests.logTail).toMatchObject({ outcome: 'succeeded', ...failing.expected });
  }, 240_000);

  it('a PR without tests is rejected when no LLM can write them', async () => {
    const noTests = await buildPythonRepo(root, { withoutTests: true, dirName: 'textutils-notests' });
    expect(noTests.testPatch).toBe('');
    const tests = await runStage(
      { stage: 'tests', instance: noTests.spec, previous: { recipe } },
      { workDir: path.join(root, 'notests') },
    );
    // generateTests defaults to true: the reason says what is missing, the LLM.
    expect(tests).toMatchObject({ outcome: 'rejected', reason: 'NoTestsAndNoLlm' });
    expect(tests.message).toContain('no llm is configured');
    const disabled = await runStage(
      { stage: 'tests', instance: noTests.spec, previous: { recipe }, config: { generateTests: false } },
      { workDir: path.join(root, 'notests-disabled') },
    );
    expect(disabled).toMatchObject({ outcome: 'rejected', reason: 'NoTestsAndGenerationDisabled' });
  }, 240_000);

  it('verify rejects when the tests no longer fail before the fix (NoFailToPass)', async () => {
    // Claim the P2P tests were F2P: the verifier must not take the label on trust.
    const verify = await runStage(
      {
        stage: 'verify',
        instance: fixture.spec,
        previous: { recipe, FAIL_TO_PASS: ['tests/test_textutils.py::test_slugify'] },
        config: { reruns: 1 },
      },
      { workDir: path.join(root, 'verify-nof2p') },
    );
    expect(verify).toMatchObject({ outcome: 'rejected', reason: 'NoFailToPass', FAIL_TO_PASS: [] });
  }, 240_000);

  it('verify rejects a gold patch that breaks a passing test (PassToFail)', async () => {
    const careless = await buildPythonRepo(root, { fixBreaksSlugify: true, dirName: 'textutils-careless' });
    const verify = await runStage(
      { stage: 'verify', instance: careless.spec, previous: { recipe }, config: { reruns: 2 } },
      { workDir: path.join(root, 'verify-p2f') },
    );
    expect(verify, verify.logTail).toMatchObject({ outcome: 'rejected', reason: 'PassToFail' });
    expect(verify.message).toContain('tests/test_textutils.py::test_slugify');
  }, 240_000);

  it('a gold patch that does not apply is a rejection, not a crash', async () => {
    // The context line right after the change differs from the repository.
    const spec = {
      ...fixture.spec,
      patch: fixture.spec.patch.replace(' return value\n', ' return value + 1\n'),
    };
    expect(spec.patch).not.toBe(fixture.spec.patch);
    const tests = await runStage(
      { stage: 'tests', instance: spec, previous: { recipe } },
      { workDir: path.join(root, 'badpatch') },
    );
    expect(tests).toMatchObject({ outcome: 'rejected', reason: 'GoldPatchDoesNotApply' });
  }, 240_000);
});
