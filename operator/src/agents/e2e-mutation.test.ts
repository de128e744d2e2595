/**
 * Mutation testing of the gold patch on a real Python repository built in the test: real git,
 * venv, pytest. The PR fixes truncate(); its gold patch has three mutants. Strong tests kill
 * them all; weak tests (nothing at the limit) let the boundary mutant `>=` survive, and
 * verification.mutation.minScore rejects that instance as WeakTests, with the record in status.
 */
import { mkdtemp } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { buildPythonRepo } from '../../../test/fixtures/repos.ts';
import type { Recipe, StageInputArg, StageResult } from '../api/index.ts';
import { applyStageResult, initialStatus } from '../pipeline/pipeline.ts';
import { runStage } from './run-stage.ts';

let root: string;
let recipe: Recipe;
let envResult: StageResult;

beforeAll(async () => {
  root = await mkdtemp(path.join(os.tmpdir(), 'scaleswe-mut-'));
  const fixture = await buildPythonRepo(root, { truncate: 'strong', dirName: 'textutils-env' });
  const env = await runStage({ stage: 'env', instance: fixture.spec }, { workDir: path.join(root, 'env') });
  expect(env, env.logTail).toMatchObject({ outcome: 'succeeded', language: 'python' });
  recipe = env.recipe!;
  envResult = env;
}, 240_000);

/** tests → verify with mutation testing on; the verify result folded into a status. */
async function curate(strength: 'strong' | 'weak', minScore?: number) {
  const fixture = await buildPythonRepo(root, { truncate: strength, dirName: `textutils-${strength}` });
  const tests = await runStage(
    { stage: 'tests', instance: fixture.spec, previous: { recipe } },
    { workDir: path.join(root, `${strength}-tests`) },
  );
  expect(tests, tests.logTail).toMatchObject({ outcome: 'succeeded', ...fixture.expected });
  const input: StageInputArg = {
    stage: 'verify',
    instance: fixture.spec,
    previous: {
      recipe,
      testsSource: 'pr',
      FAIL_TO_PASS: tests.FAIL_TO_PASS,
      PASS_TO_PASS: tests.PASS_TO_PASS,
    },
    config: {
      reruns: 1,
      mutation: { enabled: true, maxMutants: 5, ...(minScore !== undefined && { minScore }) },
    },
  };
  const verify = await runStage(input, { workDir: path.join(root, `${strength}-verify`) });
  // The instance's status as the pipeline folds the stage results (the prompt stage stubbed).
  const prompt: StageResult = {
    stage: 'prompt',
    outcome: 'succeeded',
    reason: 'PromptReady',
    message: '',
    problemStatement: fixture.spec.title,
    tokensUsed: 0,
    durationMs: 1,
    trajectories: [],
  };
  const opts = { now: new Date(), maxAttempts: 3 };
  const status = [envResult, tests, prompt, verify].reduce(
    (st, r) => applyStageResult(st, r, opts),
    initialStatus(opts),
  );
  return { fixture, verify, status };
}

describe('mutation testing of the gold patch (python)', () => {
  it('strong tests kill every mutant: score 1, Verified', async () => {
    const { fixture, verify, status } = await curate('strong', 1);
    expect(fixture.patch).toContain('+    if len(text) > limit:');
    expect(verify, verify.logTail).toMatchObject({ outcome: 'succeeded', reason: 'Verified' });
    expect(status.phase).toBe('Verified');
    expect(status.mutation).toEqual({
      tried: 3,
      killed: 3,
      survived: 0,
      notCompiling: 0,
      errored: 0,
      score: 1,
      survivors: [],
    });
    expect(verify.message).toContain('mutation: 3 of 3 killed (score 1)');
  }, 300_000);

  it('weak tests leave the boundary mutant alive; minScore rejects as WeakTests, the record kept', async () => {
    const { verify, status } = await curate('weak', 0.9);
    expect(verify, verify.logTail).toMatchObject({ outcome: 'rejected', reason: 'WeakTests' });
    expect(status.phase).toBe('Rejected');
    expect(status.lastError?.reason).toBe('WeakTests');
    expect(status.mutation).toEqual({
      tried: 3,
      killed: 2,
      survived: 1,
      notCompiling: 0,
      errored: 0,
      score: 0.667,
      survivors: ['textutils/__init__.py:17 boundary: if len(text) > limit: → if len(text) >= limit:'],
    });
  }, 300_000);
});
