/**
 * The LLM paths end to end: the real runner and the real `openai` client against a local
 * OpenAI-compatible server that replays scripted tool calls (test/support/openai-server.ts).
 */
import { mkdtemp } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { buildPythonRepo, type FixtureRepo } from '../../../test/fixtures/repos.ts';
import {
  type OpenAIServer,
  type ScriptStep,
  startOpenAIServer,
} from '../../../test/support/openai-server.ts';
import type { Recipe, StageResult, SWEInstanceSpecInput } from '../api/index.ts';
import { runStage } from './run-stage.ts';

let root: string;
let fixture: FixtureRepo;
let recipe: Recipe;
let server: OpenAIServer | undefined;

async function llmWith(script: ScriptStep[], tokenBudget = 100_000) {
  server = await startOpenAIServer(script);
  return { baseURL: server.baseURL, model: 'scripted', apiKey: 'pod-token', tokenBudget };
}

beforeAll(async () => {
  root = await mkdtemp(path.join(os.tmpdir(), 'scaleswe-llm-'));
  fixture = await buildPythonRepo(root);
  const env = await runStage({ stage: 'env', instance: fixture.spec }, { workDir: path.join(root, 'env') });
  expect(env, env.logTail).toMatchObject({ outcome: 'succeeded' });
  recipe = env.recipe!;
}, 180_000);

afterEach(async () => {
  await server?.close();
  server = undefined;
});

const GENERATED = 'tests/test_generated_clamp.py';
const weakTest = 'from textutils import clamp\n\n\ndef test_clamp_low():\n    assert clamp(-1, 0, 10) == 0\n';
const goodTest =
  'from textutils import clamp\n\n\ndef test_clamp_respects_upper_bound():\n    assert clamp(11, 0, 10) == 10\n';

/** The verifier on the tests stage's generated labels: it applies the full test patch, as the export does. */
async function expectVerified(
  spec: SWEInstanceSpecInput,
  tests: StageResult,
  reruns: number,
  dir: string,
): Promise<void> {
  const verify = await runStage(
    {
      stage: 'verify',
      instance: spec,
      previous: {
        recipe,
        testsSource: 'generated',
        fullTestPatch: tests.fullTestPatch!,
        FAIL_TO_PASS: tests.FAIL_TO_PASS,
        PASS_TO_PASS: tests.PASS_TO_PASS,
      },
      config: { reruns },
    },
    { workDir: path.join(root, dir) },
  );
  expect(verify, verify.logTail).toMatchObject({
    outcome: 'succeeded',
    reason: 'Verified',
    testsSource: 'generated',
    FAIL_TO_PASS: tests.FAIL_TO_PASS,
    PASS_TO_PASS: tests.PASS_TO_PASS,
  });
}

describe('TestAgent writes tests for a PR without tests', () => {
  it('generates, gets feedback, fixes, and the verifier accepts the generated tests', async () => {
    const noTests = await buildPythonRepo(root, { withoutTests: true, dirName: 'textutils-gen' });
    const llm = await llmWith([
      { content: 'Looking around.', toolCalls: [{ name: 'list_dir', arguments: { path: 'tests' } }] },
      { toolCalls: [{ name: 'write_file', arguments: { path: GENERATED, content: weakTest } }] },
      { toolCalls: [{ name: 'finish', arguments: { summary: 'first try' } }] },
      { toolCalls: [{ name: 'write_file', arguments: { path: GENERATED, content: goodTest } }] },
      {
        toolCalls: [
          {
            name: 'run_command',
            arguments: { cmd: `.venv/bin/python -m pytest -q -p no:cacheprovider ${GENERATED}`, timeout: 60 },
          },
        ],
      },
      { toolCalls: [{ name: 'finish', arguments: { summary: 'upper bound test' } }] },
    ]);
    const tests = await runStage(
      { stage: 'tests', instance: noTests.spec, previous: { recipe }, config: { llm } },
      { workDir: path.join(root, 'gen-tests') },
    );
    expect(tests, tests.logTail).toMatchObject({
      outcome: 'succeeded',
      testsSource: 'generated',
      FAIL_TO_PASS: [`${GENERATED}::test_clamp_respects_upper_bound`],
      // verification.scope files: the instance's test files are the generated one alone.
      PASS_TO_PASS: [],
    });
    expect(tests.generatedTestPatch).toContain(`+++ b/${GENERATED}`);
    expect(tests.generatedTestPatch).toContain('test_clamp_respects_upper_bound');
    expect(tests.generatedTestPatch).not.toContain('textutils/__init__.py');
    const reqs = server!.requests;
    expect(reqs).toHaveLength(6);
    expect(reqs[1]!.messages.at(-1)).toMatchObject({
      role: 'tool',
      content: expect.stringContaining('test_textutils.py'),
    });
    expect(reqs[3]!.messages.at(-1)).toMatchObject({
      content: expect.stringContaining('No test fails before the fix'),
    });
    expect(reqs[5]!.messages.at(-1)).toMatchObject({ content: expect.stringContaining('1 passed') });
    expect(tests.trajectories).toHaveLength(1);
    expect(tests.trajectories[0]).toMatchObject({
      agent: 'TestAgent',
      stage: 'tests',
      instanceId: noTests.spec.instanceId,
    });
    expect(tests.trajectories[0]!.steps).toHaveLength(6);
    expect(tests.tokensUsed).toBe(
      tests.trajectories[0]!.steps.reduce((n, s) => n + (s.usage?.total_tokens ?? 0), 0),
    );

    await expectVerified(noTests.spec, tests, 2, 'gen-verify');
  }, 300_000);

  it('generated tests may only touch test paths: a helper in a source file is rejected', async () => {
    const noTests = await buildPythonRepo(root, { withoutTests: true, dirName: 'textutils-outside' });
    const helper = 'textutils/_testing.py';
    const usesHelper =
      'from textutils import clamp\nfrom textutils._testing import TOP\n\n\ndef test_clamp_respects_upper_bound():\n    assert clamp(11, 0, TOP) == TOP\n';
    const llm = await llmWith([
      { toolCalls: [{ name: 'write_file', arguments: { path: helper, content: 'TOP = 10\n' } }] },
      { toolCalls: [{ name: 'write_file', arguments: { path: GENERATED, content: usesHelper } }] },
      { toolCalls: [{ name: 'finish', arguments: {} }] },
      { toolCalls: [{ name: 'run_command', arguments: { cmd: `rm ${helper}`, timeout: 30 } }] },
      { toolCalls: [{ name: 'write_file', arguments: { path: GENERATED, content: goodTest } }] },
      { toolCalls: [{ name: 'finish', arguments: {} }] },
    ]);
    const tests = await runStage(
      { stage: 'tests', instance: noTests.spec, previous: { recipe }, config: { llm } },
      { workDir: path.join(root, 'outside-tests') },
    );
    expect(server!.requests[3]!.messages.at(-1)).toMatchObject({
      role: 'tool',
      content: expect.stringContaining(
        `Rejected: generated tests may only touch test paths, and these are not: ${helper}`,
      ),
    });
    expect(tests, tests.logTail).toMatchObject({
      outcome: 'succeeded',
      testsSource: 'generated',
      FAIL_TO_PASS: [`${GENERATED}::test_clamp_respects_upper_bound`],
    });
    expect(tests.generatedTestPatch).not.toContain(helper);
    expect(tests.fullTestPatch).not.toContain(helper);
  }, 300_000);

  it("also when the PR's own tests give no FAIL_TO_PASS; both sets stay applied", async () => {
    const weak = await buildPythonRepo(root, { weakTests: true, dirName: 'textutils-weak' });
    expect(weak.testPatch).toContain('test_clamp_inside');
    expect(weak.testPatch).not.toContain('test_clamp_above');
    const llm = await llmWith([
      { toolCalls: [{ name: 'write_file', arguments: { path: GENERATED, content: goodTest } }] },
      { toolCalls: [{ name: 'finish', arguments: {} }] },
    ]);
    const tests = await runStage(
      { stage: 'tests', instance: weak.spec, previous: { recipe }, config: { llm } },
      { workDir: path.join(root, 'weak-tests') },
    );
    expect(tests, tests.logTail).toMatchObject({
      outcome: 'succeeded',
      testsSource: 'generated',
      FAIL_TO_PASS: [`${GENERATED}::test_clamp_respects_upper_bound`],
      PASS_TO_PASS: weak.expected.PASS_TO_PASS,
    });
    expect(tests.generatedTestPatch).not.toContain('test_clamp_inside');
    // What the export's test_patch holds: both sets, one patch at base — PASS_TO_PASS names
    // test_clamp_inside, which only the PR's tests define.
    expect(tests.fullTestPatch).toContain('test_clamp_inside');
    expect(tests.fullTestPatch).toContain('test_clamp_respects_upper_bound');
    expect(tests.PASS_TO_PASS?.some((id) => id.endsWith('::test_clamp_inside'))).toBe(true);
    await expectVerified(weak.spec, tests, 1, 'weak-verify');
    expect(JSON.stringify(server!.requests[0]!.messages)).toContain('Respect the upper bound');
  }, 300_000);

  it('stops with TokenBudgetExhausted when the budget is spent', async () => {
    const noTests = await buildPythonRepo(root, { withoutTests: true, dirName: 'textutils-budget' });
    const llm = await llmWith(
      [
        {
          toolCalls: [{ name: 'list_dir', arguments: {} }],
          usage: { prompt_tokens: 900, completion_tokens: 200 },
        },
      ],
      1000,
    );
    const tests = await runStage(
      { stage: 'tests', instance: noTests.spec, previous: { recipe }, config: { llm } },
      { workDir: path.join(root, 'budget') },
    );
    expect(tests).toMatchObject({ outcome: 'rejected', reason: 'TokenBudgetExhausted', tokensUsed: 1100 });
    expect(tests.message).toContain('used 1100 of 1000');
    expect(server!.requests).toHaveLength(1);
  }, 300_000);
});

describe('EnvAgent tool loop', () => {
  it('takes over when the standard recipes fail; its replayed recipe drives the tests stage', async () => {
    const repo = await buildPythonRepo(root, { needsConfigure: true, dirName: 'textutils-configure' });
    const test = '.venv/bin/python -m pytest -rA -p no:cacheprovider';
    const llm = await llmWith([
      { toolCalls: [{ name: 'read_file', arguments: { path: 'tests/conftest.py' } }] },
      {
        toolCalls: [
          {
            name: 'finish',
            arguments: {
              setup_script: 'python3 -m venv .venv\n.venv/bin/pip install -q pytest\n',
              test_command: test,
              result_format: 'pytest',
            },
          },
        ],
      },
      {
        toolCalls: [
          {
            name: 'finish',
            arguments: {
              setup_script:
                'set -euo pipefail\npython3 -m venv .venv\n.venv/bin/pip install -q -e . pytest\n.venv/bin/python configure.py\n',
              test_command: test,
              result_format: 'pytest',
            },
          },
        ],
      },
    ]);
    const env = await runStage(
      { stage: 'env', instance: repo.spec, config: { llm } },
      { workDir: path.join(root, 'cfg-env') },
    );
    expect(env, env.logTail).toMatchObject({
      outcome: 'succeeded',
      reason: 'EnvReady',
      recipe: { source: 'llm', testCommand: test },
    });
    expect(env.recipe!.setupScript).toContain('configure.py');
    expect(env.message).toContain('4 attempt(s)'); // two standard recipes, the rejected submission, the accepted one
    const reqs = server!.requests;
    expect(reqs[0]!.messages[1]).toMatchObject({
      role: 'user',
      content: expect.stringContaining('Standard recipes were tried'),
    });
    expect(reqs[1]!.messages.at(-1)).toMatchObject({ content: expect.stringContaining('_settings') });
    expect(reqs[2]!.messages.at(-1)).toMatchObject({
      content: expect.stringContaining('Replaying your recipe'),
    });
    expect(env.trajectories.map((t) => [t.agent, t.steps.length])).toEqual([['EnvAgent', 3]]);

    const tests = await runStage(
      { stage: 'tests', instance: repo.spec, previous: { recipe: env.recipe! } },
      { workDir: path.join(root, 'cfg-tests') },
    );
    expect(tests, tests.logTail).toMatchObject({
      outcome: 'succeeded',
      FAIL_TO_PASS: repo.expected.FAIL_TO_PASS,
      PASS_TO_PASS: repo.expected.PASS_TO_PASS,
    });
  }, 300_000);
});

describe('PromptAgent with an LLM', () => {
  const symptom =
    'clamp(15, 0, 10) returns 15, but values above the maximum should come back as the maximum (10).';

  it('writes the statement from the PR, then the judge clears it', async () => {
    const llm = await llmWith([
      { content: symptom },
      { content: '{"verdict": "ok", "reason": "symptom only"}' },
    ]);
    const prompt = await runStage(
      { stage: 'prompt', instance: fixture.spec, config: { llm } },
      { workDir: path.join(root, 'p1') },
    );
    expect(prompt).toMatchObject({
      outcome: 'succeeded',
      reason: 'PromptReady',
      problemStatement: symptom,
      problemStatementSource: 'llm',
      statementVerdict: 'ok',
    });
    expect(prompt.trajectories.map((t) => t.agent)).toEqual(['PromptAgent', 'LeakJudge']);
    expect(prompt.message).toContain('LLM judge: ok (symptom only)');
    // The judge sees the tests the statement must support, not only the fix.
    const judged = JSON.stringify(server!.requests[1]!.messages);
    expect(judged).toContain('def test_clamp_above');
    expect(judged).toContain('tests-need-more-than-stated');
    const first = JSON.stringify(server!.requests[0]!.messages);
    expect(first).toContain(fixture.spec.title);
    expect(first).toContain('if value > high:'); // the writer sees the diff…
  }, 60_000);

  it('a synthesized statement quoting the fix is rejected by the pure check', async () => {
    const llm = await llmWith([{ content: 'clamp is wrong; add `if value > high:` and return high.' }]);
    const prompt = await runStage(
      { stage: 'prompt', instance: fixture.spec, config: { llm } },
      { workDir: path.join(root, 'p2') },
    );
    expect(prompt).toMatchObject({
      outcome: 'rejected',
      reason: 'StatementLeaksSolution',
      problemStatementSource: 'llm',
    });
    expect(server!.requests).toHaveLength(1); // no judge needed
  }, 60_000);

  it('an LLM error is a retryable failure, not a rejection', async () => {
    const llm = await llmWith([]); // the server answers 400: nothing scripted
    const prompt = await runStage(
      { stage: 'prompt', instance: fixture.spec, config: { llm } },
      { workDir: path.join(root, 'p4') },
    );
    expect(prompt).toMatchObject({ outcome: 'failed', reason: 'LlmUnavailable' });
    expect(prompt.message).toContain('script exhausted');
  }, 60_000);

  it('the judge can reject what the pure check lets through', async () => {
    const llm = await llmWith([
      { content: 'clamp must compare against the upper bound too and return it when exceeded.' },
      { content: 'Verdict: {"verdict": "solution-in-text", "reason": "spells out the fix"}' },
    ]);
    const prompt = await runStage(
      { stage: 'prompt', instance: fixture.spec, config: { llm } },
      { workDir: path.join(root, 'p3') },
    );
    expect(prompt).toMatchObject({
      outcome: 'rejected',
      reason: 'StatementLeaksSolution',
      statementVerdict: 'solution-in-text',
    });
    expect(prompt.message).toContain('spells out the fix');
  }, 60_000);

  it.each([
    ['vague', 'StatementVague', 'clamp is broken.'],
    [
      'tests-need-more-than-stated',
      'TestsNeedMoreThanStated',
      'clamp misbehaves for some inputs near the bounds.',
    ],
  ])(
    'only ok passes: the judge says %s',
    async (verdict, reason, statement) => {
      const llm = await llmWith([
        { content: statement },
        { content: JSON.stringify({ verdict, reason: 'the tests check clamp(15, 0, 10) == 10' }) },
      ]);
      const prompt = await runStage(
        { stage: 'prompt', instance: fixture.spec, config: { llm } },
        { workDir: path.join(root, `p-${verdict}`) },
      );
      expect(prompt).toMatchObject({ outcome: 'rejected', reason, statementVerdict: verdict });
      expect(prompt.message).toBe(`LLM judge: ${verdict} (the tests check clamp(15, 0, 10) == 10)`);
    },
    60_000,
  );

  it('a feature statement may name the interface the tests use; the judge decides the rest', async () => {
    const feature = await buildPythonRepo(root, { importsNewApi: true, dirName: 'textutils-feature' });
    const statement =
      'textutils has no way to wrap a value into a range. Add wrap(value, low, high) so that wrap(12, 0, 10) == 2; also clamp(15, 0, 10) returns 15 instead of 10.';
    const llm = await llmWith([
      { content: statement },
      { content: '{"verdict": "ok", "reason": "names the tested interface, not the fix"}' },
    ]);
    const prompt = await runStage(
      { stage: 'prompt', instance: feature.spec, config: { llm } },
      { workDir: path.join(root, 'p-feature') },
    );
    expect(prompt, prompt.message).toMatchObject({
      outcome: 'succeeded',
      problemStatement: statement,
      statementVerdict: 'ok',
    });
  }, 60_000);

  it('an unreadable verdict does not pass: retried as an LLM failure', async () => {
    const llm = await llmWith([{ content: symptom }, { content: 'Looks fine to me.' }]);
    const prompt = await runStage(
      { stage: 'prompt', instance: fixture.spec, config: { llm } },
      { workDir: path.join(root, 'p-unreadable') },
    );
    expect(prompt).toMatchObject({ outcome: 'failed', reason: 'LlmUnavailable' });
    expect(prompt.message).toBe('LeakJudge gave no readable verdict');
  }, 60_000);
});
