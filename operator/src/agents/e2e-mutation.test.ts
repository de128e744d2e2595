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
import { buildTruncateRepo, type TruncateVariant } from '../../../test/fixtures/truncate-repos.ts';
import { type OpenAIServer, startOpenAIServer } from '../../../test/support/openai-server.ts';
import type { MutationRecord, Recipe, StageInputArg, StageResult } from '../api/index.ts';
import { applyStageResult, initialStatus } from '../pipeline/pipeline.ts';
import { runStage } from './run-stage.ts';

type Lang = 'python' | 'node' | 'go';
type LlmSettings = NonNullable<NonNullable<StageInputArg['config']>['llm']>;

/** What each language's gold patch gives: its file, the changed lines and the mutants. */
const GOLD: Record<Lang, { file: string; lines: [number, number]; boundary: string; engine: string }> = {
  python: {
    file: 'textutils/__init__.py',
    lines: [17, 18],
    boundary: 'textutils/__init__.py:17 boundary: if len(text) > limit: → if len(text) >= limit:',
    engine: 'coverage.py',
  },
  node: {
    file: 'src/text.js',
    lines: [3, 4],
    boundary: 'src/text.js:3 boundary: if (text.length > limit) { → if (text.length >= limit) {',
    engine: 'v8',
  },
  go: {
    file: 'textx.go',
    lines: [7, 8],
    boundary: 'textx.go:7 boundary: if len(s) > n { → if len(s) >= n {',
    engine: 'go test -coverprofile',
  },
};

/**
 * The expected record, written by hand: Python has 3 countable mutants, JavaScript 4, Go 3
 * plus one that does not compile (`string - string`).
 */
function expected(lang: Lang, variant: TruncateVariant): MutationRecord {
  const { file, lines, boundary, engine } = GOLD[lang];
  const countable = lang === 'python' ? 3 : lang === 'node' ? 4 : 3;
  const survived = variant === 'strong' ? 0 : variant === 'weak' ? 1 : countable;
  const others: Record<Lang, string[]> = {
    python: [
      'textutils/__init__.py:18 arithmetic: return text[:limit] + "..." → return text[:limit] - "..."',
      'textutils/__init__.py:18 return: return text[:limit] + "..." → return None',
    ],
    node: [
      "src/text.js:4 arithmetic: return text.slice(0, limit) + '...'; → return text.slice(0, limit) - '...';",
      "src/text.js:4 constant: return text.slice(0, limit) + '...'; → return text.slice(1, limit) + '...';",
      "src/text.js:4 return: return text.slice(0, limit) + '...'; → return undefined;",
    ],
    go: [
      'textx.go:8 constant: return s[:n] + strings.Repeat(".", 3) → return s[:n] + strings.Repeat(".", 4)',
      'textx.go:8 constant: return s[:n] + strings.Repeat(".", 3) → return s[:n] + strings.Repeat(".", 2)',
    ],
  };
  const offTarget = variant === 'off-target';
  return {
    tried: countable + (lang === 'go' ? 1 : 0),
    killed: countable - survived,
    survived,
    notCompiling: lang === 'go' ? 1 : 0,
    errored: 0,
    equivalent: 0,
    score: Math.round(((countable - survived) / countable) * 1000) / 1000,
    survivors: variant === 'strong' ? [] : offTarget ? [boundary, ...others[lang]] : [boundary],
    diffCoverage: {
      covered: offTarget ? 0 : 2,
      total: 2,
      ratio: offTarget ? 0 : 1,
      engine,
      uncovered: offTarget ? lines.map((l) => `${file}:${l}`) : [],
    },
  };
}

/** The env stage once per language (every variant has the same layout), then per variant tests → verify. */
function curation(lang: Lang) {
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
        mutation: {
          enabled: true,
          maxMutants: 5,
          parallelism: 3,
          ...(minScore !== undefined && { minScore }),
        },
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
    const { verify, status } = await curate('strong', 1);
    expect(verify, verify.logTail).toMatchObject({ outcome: 'succeeded', reason: 'Verified' });
    expect(status.phase).toBe('Verified');
    expect(status.mutation).toEqual(expected(lang, 'strong'));
    expect(verify.message).toContain(`diff coverage 2/2 (${GOLD[lang].engine})`);
  }, 600_000);

  it('weak tests leave the boundary mutant alive; minScore rejects as WeakTests, the record kept', async () => {
    const { verify, status } = await curate('weak', 0.9);
    expect(verify, verify.logTail).toMatchObject({ outcome: 'rejected', reason: 'WeakTests' });
    expect(status.phase).toBe('Rejected');
    expect(status.lastError?.reason).toBe('WeakTests');
    expect(status.mutation).toEqual(expected(lang, 'weak'));
  }, 600_000);

  it('off-target tests run no changed line: diff coverage 0, every mutant survives', async () => {
    const { verify, status } = await curate('off-target');
    expect(verify, verify.logTail).toMatchObject({ outcome: 'succeeded', reason: 'Verified' });
    expect(status.mutation).toEqual(expected(lang, 'off-target'));
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
    expect(status.mutation).toEqual({ ...expected('python', 'strong'), survivors: [] });
    expect(status.FAIL_TO_PASS).toEqual(['tests/test_textutils.py::test_truncate_long']);
    expect(status.PASS_TO_PASS).toContain('tests/test_truncate_boundary.py::test_truncate_at_limit');
    expect(status.generatedTestPatch).toContain('+++ b/tests/test_truncate_boundary.py');
    expect(status.generatedTestPatch).not.toContain('test_textutils.py');
    expect(status.fullTestPatch).toContain('test_truncate_long');
    expect(status.fullTestPatch).toContain('test_truncate_at_limit');
  }, 600_000);
});
