/**
 * Mutation testing and diff coverage of the gold patch on real repositories built in the test
 * (real git; venv + pytest, npm + vitest, go test): the truncate PR of
 * test/fixtures/truncate-repos.ts in Python, JavaScript and Go, with strong tests (every mutant
 * killed, every changed line run), weak tests (the boundary mutant survives;
 * verification.mutation.minScore rejects the instance as WeakTests, the record kept) and
 * off-target tests (no changed line runs: diff coverage 0, every mutant survives). Mutants run
 * three at once, so most run in workspace copies: the strong tests still killing every one shows
 * a copy tests its own mutant (not the original tree through an editable install or symlink).
 */
import { mkdtemp } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import {
  buildTruncateRepo,
  expectedTruncateMutation,
  TRUNCATE_GOLD,
  TRUNCATE_MIN_SCORE,
  TRUNCATE_MUTATION,
  type TruncateLanguage,
  type TruncateVariant,
} from '../../../test/fixtures/truncate-repos.ts';
import { type OpenAIServer, startOpenAIServer } from '../../../test/support/openai-server.ts';
import type { Recipe, StageInputArg, StageResult } from '../api/index.ts';
import { applyStageResult, initialStatus } from '../pipeline/pipeline.ts';
import { runStage } from './run-stage.ts';

type LlmSettings = NonNullable<NonNullable<StageInputArg['config']>['llm']>;

/** The env stage once per language (every variant has the same layout), then per variant tests → verify. */
function curation(lang: TruncateLanguage) {
  let root: string;
  let recipe: Recipe;
  let envResult: StageResult;
  beforeAll(async () => {
    root = await mkdtemp(path.join(os.tmpdir(), `scaleswe-mut-${lang}-`));
    const fixture = await buildTruncateRepo(root, lang, 'strong', `${lang}-env`);
    const env = await runStage({ stage: 'env', instance: fixture.spec }, { workDir: path.join(root, 'env') });
    expect(env, env.logTail).toMatchObject({ outcome: 'succeeded', language: lang });
    recipe = env.recipe!;
    envResult = env;
  }, 400_000);

  /** tests → verify with mutation testing on; the verify result folded into a status. */
  return async (variant: TruncateVariant, minScore?: number, llm?: LlmSettings) => {
    const fixture = await buildTruncateRepo(root, lang, variant);
    const tests = await runStage(
      { stage: 'tests', instance: fixture.spec, previous: { recipe } },
      { workDir: path.join(root, `${variant}-tests`) },
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
        ...(llm && { llm }),
        // Three at once: two run in workspace copies, which must test the mutant, not the original.
        mutation: { ...TRUNCATE_MUTATION, ...(minScore !== undefined && { minScore }) },
      },
    };
    const verify = await runStage(input, { workDir: path.join(root, `${variant}-verify`) });
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
    return { verify, status };
  };
}

describe.each(['python', 'node', 'go'] as const)('gold-patch mutants and diff coverage (%s)', (lang) => {
  const curate = curation(lang);

  it('strong tests kill every mutant and run every changed line: Verified', async () => {
    const { verify, status } = await curate('strong', TRUNCATE_MIN_SCORE.strong);
    expect(verify, verify.logTail).toMatchObject({ outcome: 'succeeded', reason: 'Verified' });
    expect(status.phase).toBe('Verified');
    expect(status.mutation).toEqual(expectedTruncateMutation(lang, 'strong'));
    expect(verify.message).toContain(`diff coverage 2/2 (${TRUNCATE_GOLD[lang].engine})`);
  }, 600_000);

  it('weak tests leave the boundary mutant alive; minScore rejects as WeakTests, the record kept', async () => {
    const { verify, status } = await curate('weak', TRUNCATE_MIN_SCORE.weak);
    expect(verify, verify.logTail).toMatchObject({ outcome: 'rejected', reason: 'WeakTests' });
    expect(status.phase).toBe('Rejected');
    expect(status.lastError?.reason).toBe('WeakTests');
    expect(status.mutation).toEqual(expectedTruncateMutation(lang, 'weak'));
  }, 600_000);

  it('off-target tests run no changed line: diff coverage 0, every mutant survives', async () => {
    const { verify, status } = await curate('off-target', TRUNCATE_MIN_SCORE['off-target']);
    expect(verify, verify.logTail).toMatchObject({ outcome: 'succeeded', reason: 'Verified' });
    expect(status.mutation).toEqual(expectedTruncateMutation(lang, 'off-target'));
  }, 600_000);
});

describe('TestAgent feedback from surviving mutants (python)', () => {
  const curate = curation('python');
  let server: OpenAIServer | undefined;
  afterEach(() => server?.close());

  it('given the weak tests and an LLM, TestAgent adds a boundary test that kills the survivor: Verified, score 1', async () => {
    const boundary = 'tests/test_truncate_boundary.py';
    const test =
      'from textutils import truncate\n\n\ndef test_truncate_at_limit():\n    assert truncate("abc", 3) == "abc"\n';
    server = await startOpenAIServer([
      { toolCalls: [{ name: 'write_file', arguments: { path: boundary, content: test } }] },
      { toolCalls: [{ name: 'finish', arguments: { summary: 'text exactly at the limit' } }] },
    ]);
    const llm = { baseURL: server.baseURL, model: 'scripted', apiKey: 'k', tokenBudget: 100_000 };
    const { verify, status } = await curate('weak', 0.9, llm);
    expect(verify, verify.logTail).toMatchObject({
      outcome: 'succeeded',
      reason: 'Verified',
      testsSource: 'generated',
    });
    expect(verify.message).toContain(
      'TestAgent added tests against surviving mutants (kills 1 of 1 surviving mutants)',
    );
    // TestAgent was shown the survivor as a diff.
    const brief = JSON.stringify(server.requests[0]!.messages);
    expect(brief).toContain('+    if len(text) >= limit:');
    expect(server.remaining()).toBe(0);
    expect(status.phase).toBe('Verified');
    expect(status.mutation).toEqual({ ...expectedTruncateMutation('python', 'strong'), survivors: [] });
    expect(status.FAIL_TO_PASS).toEqual(['tests/test_textutils.py::test_truncate_long']);
    expect(status.PASS_TO_PASS).toContain('tests/test_truncate_boundary.py::test_truncate_at_limit');
    expect(status.generatedTestPatch).toContain('+++ b/tests/test_truncate_boundary.py');
    expect(status.generatedTestPatch).not.toContain('test_textutils.py');
    expect(status.fullTestPatch).toContain('test_truncate_long');
    expect(status.fullTestPatch).toContain('test_truncate_at_limit');
  }, 600_000);
});
