/**
 * Benchmark: what verification.scope buys on a repository with a large suite. A Python
 * fixture gets EXTRA test files (each with TESTS tests doing a little work) that its PR does
 * not touch; the whole pipeline runs in this process twice — scope `suite` (every run executes
 * the whole suite) and scope `files` (runs execute the files the test patch touches) — and
 * prints test executions and wall time per verified instance, and their ratio.
 *   node bench/test-scope.ts [EXTRA_FILES [TESTS]]
 */

import { execFileSync } from 'node:child_process';
import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildPythonRepo } from '../test/fixtures/repos.ts';
import { runPipeline } from '../test/support/in-process-pipeline.ts';

const extraFiles = Number(process.argv[2] ?? 40);
const testsPerFile = Number(process.argv[3] ?? 25);

const root = await mkdtemp(join(tmpdir(), 'scaleswe-bench-scope-'));
const fixture = await buildPythonRepo(root);
// The untouched part of the suite lives at the base commit: rebuild history with it there.
const test = (i: number, j: number) =>
  `def test_case_${j}():\n    assert sum(range(${2000 + i * 10 + j})) >= 0\n    __import__("time").sleep(0.02)\n`;
for (let i = 0; i < extraFiles; i++) {
  const body = Array.from({ length: testsPerFile }, (_, j) => test(i, j)).join('\n\n');
  await writeFile(join(fixture.dir, 'tests', `test_bulk_${i}.py`), `${body}\n`);
}
// Every executed test appends a byte to $BENCH_COUNTER (tests/conftest.py, part of the base).
await writeFile(
  join(fixture.dir, 'tests', 'conftest.py'),
  'import os\n\n\ndef pytest_runtest_call(item):\n    with open(os.environ.get("BENCH_COUNTER", os.devnull), "a") as f:\n        f.write("x")\n',
);
// Move the bulk files and the counter into the base: a branch from base with them, the PR on top.
const git = (...args: string[]) => execFileSync('git', args, { cwd: fixture.dir, encoding: 'utf8' }).trim();
const who = ['-c', 'user.name=bench', '-c', 'user.email=bench@example.com'];
git('stash', '-u');
git('checkout', '-q', '-b', 'bench', fixture.baseCommit);
git('stash', 'pop');
git('add', '-A');
git(...who, 'commit', '-q', '-m', 'bulk tests');
const base = git('rev-parse', 'HEAD');
git(...who, 'cherry-pick', fixture.mergeCommit);
const spec = { ...fixture.spec, baseCommit: base, mergeCommit: git('rev-parse', 'HEAD') };

interface Figures {
  ms: number;
  executions: number;
  verified: boolean;
}

async function measure(scope: 'files' | 'suite'): Promise<Figures> {
  const counter = join(root, `executions-${scope}`);
  await writeFile(counter, '');
  process.env.BENCH_COUNTER = counter;
  const started = Date.now();
  const { status } = await runPipeline(
    spec,
    { verification: { reruns: 2, scope } },
    { workDir: join(root, `work-${scope}`) },
  );
  const ms = Date.now() - started;
  return { ms, executions: (await readFile(counter, 'utf8')).length, verified: status.phase === 'Verified' };
}

const suite = await measure('suite');
const files = await measure('files');
const total = extraFiles * testsPerFile + 4;
console.log(`suite of ${total} tests (${extraFiles} untouched files × ${testsPerFile}, plus the PR's file)`);
for (const [name, f] of [
  ['scope suite', suite],
  ['scope files', files],
] as const)
  console.log(
    `${name}: verified=${f.verified}  test executions ${f.executions}  wall ${(f.ms / 1000).toFixed(1)} s per verified instance`,
  );
console.log(
  `ratio suite/files: executions ${(suite.executions / Math.max(1, files.executions)).toFixed(1)}×, wall ${(suite.ms / files.ms).toFixed(2)}×`,
);
