/**
 * Benchmark: the wall time mutation testing (and diff coverage) adds to an instance. A Python
 * fixture whose gold patch offers more than MUTANTS mutants (grade(): comparisons, constants,
 * arithmetic, `and`, returns) runs env and tests once, then the verify stage twice in this
 * process: without mutation testing, and with `verification.mutation { enabled, maxMutants }`
 * twice: one mutant at a time (parallelism 1) and as many at once as there are CPUs (the
 * default). Prints the wall times, the time added per instance and its ratio to the plain
 * verify stage (issue #20's goal: at most 2 for 20 mutants).
 * Rounds are interleaved (plain, parallel, one at a time) and each figure is its fastest round.
 *   node bench/mutation-cost.ts [MUTANTS] [ROUNDS]
 */
import { mkdtemp } from 'node:fs/promises';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { runStage } from '../operator/src/agents/run-stage.ts';
import { cpuBudget } from '../operator/src/agents/workspace-copies.ts';
import type { StageInputArg } from '../operator/src/api/index.ts';
import { buildRepo } from '../test/fixtures/repos.ts';

const maxMutants = Number(process.argv[2] ?? 20);
const root = await mkdtemp(join(tmpdir(), 'scaleswe-bench-mutation-'));

const pyproject = `[build-system]
requires = ["setuptools>=61"]
build-backend = "setuptools.build_meta"

[project]
name = "grades"
version = "0.1.0"

[project.optional-dependencies]
test = ["pytest"]

[tool.setuptools]
packages = ["grades"]
`;
const head =
  '"""Grades."""\n\n\ndef grade(points, total, bonus=False):\n    """Letter grade for points out of total."""\n';
const fixture = await buildRepo({
  root,
  name: 'grades',
  language: 'python',
  base: {
    'pyproject.toml': pyproject,
    'grades/__init__.py': `${head}    return "F"\n`,
    'tests/test_grades.py':
      'from grades import grade\n\n\ndef test_fail():\n    assert grade(10, 100) == "F"\n',
  },
  fix: {
    'grades/__init__.py': `${head}    if total <= 0:
        return "n/a"
    ratio = points * 100 // total
    if bonus and ratio < 100:
        ratio = ratio + 5
    if ratio >= 90:
        return "A"
    if ratio >= 75:
        return "B"
    if ratio >= 50 and points > 0:
        return "C"
    return "F"
`,
  },
  tests: {
    'tests/test_grades.py': `from grades import grade


def test_fail():
    assert grade(10, 100) == "F"


def test_letters():
    assert [grade(p, 100) for p in (95, 90, 89, 80, 75, 74, 60, 50, 49)] == list("AABBBCCCF")


def test_bonus_and_empty():
    assert grade(86, 100, bonus=True) == "A"
    assert grade(1, 0) == "n/a"
`,
  },
  isTest: (f) => f.startsWith('tests/'),
  title: 'grade: letters by ratio',
  expected: { FAIL_TO_PASS: [], PASS_TO_PASS: [] },
  opts: {},
});

const env = await runStage({ stage: 'env', instance: fixture.spec }, { workDir: join(root, 'env') });
if (env.outcome !== 'succeeded') throw new Error(`env stage: ${env.reason}: ${env.message}`);
const tests = await runStage(
  { stage: 'tests', instance: fixture.spec, previous: { recipe: env.recipe! } },
  { workDir: join(root, 'tests') },
);
if (tests.outcome !== 'succeeded') throw new Error(`tests stage: ${tests.reason}: ${tests.message}`);

async function verify(mutation: boolean, parallelism?: number) {
  const input: StageInputArg = {
    stage: 'verify',
    instance: fixture.spec,
    previous: {
      recipe: env.recipe!,
      testsSource: 'pr',
      FAIL_TO_PASS: tests.FAIL_TO_PASS,
      PASS_TO_PASS: tests.PASS_TO_PASS,
    },
    config: { reruns: 3, mutation: { enabled: mutation, maxMutants, ...(parallelism && { parallelism }) } },
  };
  const started = Date.now();
  const dir = mutation ? `verify-mutation-${parallelism ?? 'auto'}` : 'verify-plain';
  const r = await runStage(input, { workDir: join(root, dir) });
  if (r.outcome !== 'succeeded') throw new Error(`verify stage: ${r.reason}: ${r.message}`);
  return { ms: Date.now() - started, result: r };
}

// Interleaved rounds on a shared machine: each figure is the fastest of its rounds.
const rounds = Number(process.argv[3] ?? 2);
const runs: Record<'plain' | 'oneByOne' | 'parallel', Awaited<ReturnType<typeof verify>>[]> = {
  plain: [],
  oneByOne: [],
  parallel: [],
};
for (let r = 0; r < rounds; r++) {
  runs.plain.push(await verify(false));
  runs.parallel.push(await verify(true));
  runs.oneByOne.push(await verify(true, 1));
}
const fastest = (xs: { ms: number }[]) => Math.min(...xs.map((x) => x.ms));
const plain = fastest(runs.plain);
const oneByOne = fastest(runs.oneByOne);
const parallel = fastest(runs.parallel);
const m = runs.parallel[0]!.result.mutation!;
const s = (ms: number) => `${(ms / 1000).toFixed(1)}s`;
const all = (xs: { ms: number }[]) => xs.map((x) => s(x.ms)).join(' ');
console.log(
  `mutants:                        ${m.tried} tried (${m.killed} killed, ${m.survived} survived, ${m.equivalent} equivalent, score ${m.score})`,
);
console.log(
  `diff coverage:                  ${m.diffCoverage?.covered}/${m.diffCoverage?.total} (${m.diffCoverage?.engine ?? m.diffCoverage?.skipped})`,
);
console.log(`CPUs for mutants:               ${cpuBudget()} (load ${loadavg()[0]!.toFixed(1)} at the end)`);
console.log(`verify stage (reruns 3):        ${s(plain)}   (rounds: ${all(runs.plain)})`);
console.log(`with mutation, one at a time:   ${s(oneByOne)}   (rounds: ${all(runs.oneByOne)})`);
console.log(`with mutation, in parallel:     ${s(parallel)}   (rounds: ${all(runs.parallel)})`);
console.log(`added / verify, one at a time:  ${((oneByOne - plain) / plain).toFixed(2)}`);
console.log(
  `added per instance, parallel:   ${s(parallel - plain)} (${s((parallel - plain) / Math.max(1, m.tried))} per mutant)`,
);
console.log(
  `added / verify stage, parallel: ${((parallel - plain) / plain).toFixed(2)}   (goal ≤ 2 for 20 mutants)`,
);
