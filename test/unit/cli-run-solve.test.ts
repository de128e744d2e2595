import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../support/cli.ts';
import {
  type ChatRequestBody,
  type OpenAIServer,
  type ScriptedReply,
  startOpenAIServer,
} from '../support/openai-server.ts';

// `scaleswe run -f` with spec.llm and spec.solve, end to end through the real CLI: a Python
// repository built here with three squash-merged PRs is curated (the PromptAgent and its judge
// answered by a scripted OpenAI-compatible server), then each Verified instance gets one solve
// attempt from the same server playing a coding agent: the right fix on the first, an edit of
// the wrong file on the second, the fix plus a broken PASS_TO_PASS test on the third. The grades
// and `scaleswe export`'s solves.jsonl (default, --all-solves, --solve-weights) must follow.

const scratch = mkdtempSync(join(tmpdir(), 'scaleswe-run-solve-'));
const repo = join(scratch, 'repo');
const state = join(scratch, 'state');
let server: OpenAIServer;
afterAll(async () => {
  await server?.close();
  rmSync(scratch, { recursive: true, force: true });
}, 120_000);

const MODULE = 'calc/__init__.py';
const BASE = `"""Small helpers."""


def clamp(value, low, high):
    if value < low:
        return low
    return value


def mean(values):
    return sum(values) / len(values)


def first_word(text):
    return text.split(" ")[0]


def slugify(text):
    return "-".join(text.lower().split())
`;
const TESTS = `from calc import clamp, first_word, mean, slugify


def test_clamp_below():
    assert clamp(-5, 0, 10) == 0


def test_mean():
    assert mean([1, 2, 3]) == 2


def test_first_word():
    assert first_word("hello world") == "hello"


def test_slugify():
    assert slugify("Hello  World") == "hello-world"
`;

interface Pr {
  number: number;
  title: string;
  body: string;
  /** Replaces `from` by `to` in the module; `test` is appended to the tests. */
  from: string;
  to: string;
  test: string;
  /** What the scripted PromptAgent writes: the symptom only (it must pass the leak checks). */
  statement: string;
}
const PRS: Pr[] = [
  {
    number: 1,
    title: 'Respect the upper bound in clamp',
    body: 'Values above the range came back unchanged.',
    from: '        return low\n    return value\n',
    to: '        return low\n    if value > high:\n        return high\n    return value\n',
    test: '\n\ndef test_clamp_above():\n    assert clamp(15, 0, 10) == 10\n',
    statement:
      'clamp(15, 0, 10) returns 15, but values above the maximum should come back as the maximum (10).',
  },
  {
    number: 2,
    title: 'mean of no values',
    body: 'mean([]) crashed.',
    from: '    return sum(values) / len(values)\n',
    to: '    if not values:\n        return 0.0\n    return sum(values) / len(values)\n',
    test: '\n\ndef test_mean_empty():\n    assert mean([]) == 0.0\n',
    statement: 'mean([]) raises ZeroDivisionError; the mean of an empty list should be 0.0.',
  },
  {
    number: 3,
    title: 'first_word ignores leading blanks',
    body: 'Text that starts with spaces gave an empty word.',
    from: '    return text.split(" ")[0]\n',
    to: '    return text.split()[0]\n',
    test: '\n\ndef test_first_word_leading_blanks():\n    assert first_word("  hello world") == "hello"\n',
    statement:
      'first_word("  hello world") returns an empty string instead of "hello" when the text starts with blanks.',
  },
];

function buildRepo(): void {
  mkdirSync(repo, { recursive: true });
  let tick = 0;
  const git = (...args: string[]) =>
    execFileSync('git', ['-c', 'init.defaultBranch=main', '-c', 'commit.gpgsign=false', ...args], {
      cwd: repo,
      encoding: 'utf8',
      env: {
        ...process.env,
        GIT_AUTHOR_NAME: 'A',
        GIT_AUTHOR_EMAIL: 'a@example.com',
        GIT_COMMITTER_NAME: 'M',
        GIT_COMMITTER_EMAIL: 'm@example.com',
        GIT_AUTHOR_DATE: `${1_700_000_000 + tick * 3600} +0000`,
        GIT_COMMITTER_DATE: `${1_700_000_000 + tick * 3600} +0000`,
      },
    });
  const write = (file: string, text: string) => {
    mkdirSync(dirname(join(repo, file)), { recursive: true });
    writeFileSync(join(repo, file), text);
  };
  git('init', '-q');
  write(
    'pyproject.toml',
    `[build-system]
requires = ["setuptools>=61"]
build-backend = "setuptools.build_meta"

[project]
name = "calc"
version = "0.1.0"
requires-python = ">=3.9"

[project.optional-dependencies]
test = ["pytest"]

[tool.setuptools]
packages = ["calc"]
`,
  );
  write(MODULE, BASE);
  write('tests/test_calc.py', TESTS);
  write('README.md', '# calc\n');
  git('add', '-A');
  git('commit', '-q', '-m', 'Initial commit');
  for (const pr of PRS) {
    tick++;
    const source = readFileSync(join(repo, MODULE), 'utf8');
    if (!source.includes(pr.from)) throw new Error(`PR #${pr.number}: ${MODULE} lacks ${pr.from}`);
    write(MODULE, source.replace(pr.from, pr.to));
    write('tests/test_calc.py', readFileSync(join(repo, 'tests/test_calc.py'), 'utf8') + pr.test);
    git('commit', '-q', '-a', '-m', `${pr.title} (#${pr.number})\n\n${pr.body}`);
  }
}

const call = (name: string, args: Record<string, unknown>): ScriptedReply => ({
  toolCalls: [{ name, arguments: args }],
});
const replace = (path: string, from: string, to: string) =>
  call('str_replace', { path, old_str: from, new_str: to });
const submit = call('submit', {});
/** The solve agent's turns per PR: resolved; the wrong file (F2P still fails); a P2P test broken. */
const SOLVER: Record<number, ScriptedReply[]> = {
  1: [
    call('view_file', { path: MODULE, start_line: 1, end_line: 10 }),
    replace(MODULE, PRS[0]!.from, PRS[0]!.to),
    submit,
  ],
  2: [replace('README.md', '# calc\n', '# calc\n\nmean([]) is 0.0.\n'), submit],
  3: [replace(MODULE, PRS[2]!.from, PRS[2]!.to), replace(MODULE, '"-".join', '"_".join'), submit],
};
const unexpected: string[] = [];

/** Answers each request by who asks (writer, judge, solver) and for which PR, in any order. */
function agent(request: ChatRequestBody): ScriptedReply {
  const text = (i: number) => String(request.messages[i]?.content ?? '');
  const prOf = (haystack: string) =>
    PRS.find((p) => haystack.includes(p.title) || haystack.includes(p.statement));
  if (request.tools?.some((t) => t.function.name === 'submit')) {
    const pr = prOf(request.messages.map((m) => String(m.content ?? '')).join('\n'));
    const turn = request.messages.filter((m) => m.role === 'assistant').length;
    if (pr) return SOLVER[pr.number]![turn] ?? submit;
  } else if (text(0).startsWith('You review the problem statement')) {
    return { content: '{"verdict": "ok", "reason": "symptom only"}' };
  } else {
    const pr = prOf(text(1));
    if (pr) return { content: pr.statement };
  }
  unexpected.push(JSON.stringify(request.messages).slice(0, 400));
  return { content: 'unexpected request' };
}

const jsonl = (file: string) =>
  readFileSync(file, 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l));
const ID = (n: number) => `fixtures__calc-${n}`;

beforeAll(async () => {
  buildRepo();
  server = await startOpenAIServer(Array.from({ length: 200 }, () => agent));
  const manifest = join(scratch, 'run.yaml');
  writeFileSync(
    manifest,
    JSON.stringify({
      apiVersion: 'scaleswe.dev/v1alpha1',
      kind: 'CurationRun',
      metadata: { name: 'calc' },
      spec: {
        source: { git: { url: repo, repo: 'fixtures/calc' } },
        llm: {
          baseURL: server.baseURL,
          model: 'solver-1',
          price: { inputPerMillion: 2, outputPerMillion: 8 },
        },
        solve: { attempts: 1, maxTurns: 6, maxTokens: 50_000 },
        verification: { reruns: 1 },
      },
    }),
  );
  const r = await runCli(['run', '-f', manifest, '--state-dir', state, '--isolation', 'bwrap']);
  expect(r.code, `${r.out}\n${r.err}`).toBe(0);
}, 1_200_000);

describe('scaleswe run with spec.solve', () => {
  it('curates the three PRs and grades the attempts resolved / unresolved (F2P) / unresolved (P2P)', () => {
    expect(unexpected).toEqual([]);
    const phases = [1, 2, 3].map(
      (n) => JSON.parse(readFileSync(join(state, 'instances', `${ID(n)}.json`), 'utf8')).status.phase,
    );
    expect(phases).toEqual(['Verified', 'Verified', 'Verified']);
    const grades = [1, 2, 3].map((n) => {
      const a = JSON.parse(readFileSync(join(state, 'solves', ID(n), 'attempt-1.json'), 'utf8'));
      return [a.ending, a.grade];
    });
    expect(grades).toEqual([
      [
        'Submitted',
        { resolved: true, failToPassPassed: 1, failToPassTotal: 1, passToPassBroken: 0, reason: 'Graded' },
      ],
      [
        'Submitted',
        { resolved: false, failToPassPassed: 0, failToPassTotal: 1, passToPassBroken: 0, reason: 'Graded' },
      ],
      [
        'Submitted',
        { resolved: false, failToPassPassed: 1, failToPassTotal: 1, passToPassBroken: 1, reason: 'Graded' },
      ],
    ]);
  });

  it("run.json keeps the run's cost as status.cost has it: $ in all, per Verified, per resolved solve", () => {
    const run = JSON.parse(readFileSync(join(state, 'run.json'), 'utf8'));
    const attempts = [1, 2, 3].map((n) =>
      JSON.parse(readFileSync(join(state, 'solves', ID(n), 'attempt-1.json'), 'utf8')),
    );
    const instances = [1, 2, 3].map(
      (n) => JSON.parse(readFileSync(join(state, 'instances', `${ID(n)}.json`), 'utf8')).status,
    );
    const usd = (records: { inputTokens?: number; outputTokens?: number }[]) =>
      records.reduce((d, r) => d + ((r.inputTokens ?? 0) * 2 + (r.outputTokens ?? 0) * 8) / 1e6, 0);
    const solveUsd = usd(attempts);
    const curationUsd = usd(instances);
    expect(solveUsd).toBeGreaterThan(0);
    expect(curationUsd).toBeGreaterThan(0);
    expect(Object.keys(run.cost).sort()).toEqual(
      [
        'inputTokens',
        'outputTokens',
        'usd',
        'curationUsd',
        'usdPerVerified',
        'solveUsd',
        'usdPerResolvedSolve',
      ].sort(),
    );
    expect(run.cost.solveUsd).toBeCloseTo(solveUsd, 6);
    expect(run.cost.usdPerResolvedSolve).toBeCloseTo(solveUsd, 6); // one resolved attempt
    expect(run.cost.usdPerVerified).toBeCloseTo(curationUsd / 3, 6);
    expect(run.cost.usd).toBeCloseTo(curationUsd + solveUsd, 5);
  });

  it('export: solves.jsonl holds only the resolved attempt; --all-solves all three, labelled', async () => {
    const out = join(scratch, 'export');
    const r = await runCli(['export', '--state-dir', state, '--out', out]);
    expect(r.code, `${r.out}\n${r.err}`).toBe(0);
    expect(jsonl(join(out, 'solves.meta.jsonl')).map((m) => [m.instance_id, m.resolved])).toEqual([
      [ID(1), true],
    ]);
    const [example] = jsonl(join(out, 'solves.jsonl'));
    expect(Object.keys(example).sort()).toEqual(['messages', 'tools']);
    expect(JSON.stringify(example)).toContain(PRS[0]!.statement);

    const all = join(scratch, 'export-all');
    const a = await runCli(['export', '--state-dir', state, '--out', all, '--all-solves', '--solve-weights']);
    expect(a.code, `${a.out}\n${a.err}`).toBe(0);
    const labels = jsonl(join(all, 'solves.meta.jsonl'));
    expect(
      labels
        .map((m) => [m.instance_id, m.resolved, m.fail_to_pass_passed, m.pass_to_pass_broken])
        .sort((x, y) => String(x[0]).localeCompare(String(y[0]))),
    ).toEqual([
      [ID(1), true, 1, 0],
      [ID(2), false, 0, 0],
      [ID(3), false, 1, 1],
    ]);
    // Line for line with the labels: assistant messages weigh 1 in the resolved one only.
    const examples = jsonl(join(all, 'solves.jsonl'));
    examples.forEach((e, i) => {
      const weights = (e.messages as { role: string; weight?: number }[])
        .filter((m) => m.role === 'assistant')
        .map((m) => m.weight);
      expect(weights.length).toBeGreaterThan(0);
      expect(new Set(weights), labels[i].instance_id).toEqual(new Set([labels[i].resolved ? 1 : 0]));
    });
  }, 120_000);
});
