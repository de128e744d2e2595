/**
 * Benchmark: environments built once (issue 14). A generated Python repository with PRS merged
 * PRs whose setup is slow (setup.py sleeps SETUP_SECONDS each time an install runs it, like a
 * build step) goes through the real CLI, one instance at a time, under bubblewrap. Prints the
 * setup runs per instance and per environment (every checkout setup.py ran in is one setup run;
 * before environments were kept, each instance set up 3: env, tests, verify) and the wall time
 * of each PR's stages, the last relative to the first (goal ≤ 0.2).
 *   node bench/env-reuse.ts [PRS [SETUP_SECONDS]]
 */
import { execFileSync } from 'node:child_process';
import { mkdtemp, readdir, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createEnvReuseRepo, SETUP_RUNS_LOG } from '../test/fixtures/env-reuse-repo.ts';

const prs = Number(process.argv[2] ?? 10);
const setupSeconds = Number(process.argv[3] ?? 20);
const root = await mkdtemp(join(tmpdir(), 'scaleswe-bench-env-'));
const repo = createEnvReuseRepo(join(root, 'slowcalc'), { prs, setupSeconds });
const state = join(root, 'state');
const runFile = join(root, 'run.json');
await writeFile(
  runFile,
  JSON.stringify({
    apiVersion: 'scaleswe.dev/v1alpha1',
    kind: 'CurationRun',
    metadata: { name: 'env-reuse' },
    spec: {
      source: { git: { url: repo.dir, repo: 'env/slowcalc' } },
      limits: { maxPRs: prs, maxParallel: 1 },
      verification: { reruns: 2 },
    },
  }),
);
const cli = join(import.meta.dirname, '../operator/src/cli/scaleswe.ts');
const started = Date.now();
execFileSync(process.execPath, [cli, 'run', '-f', runFile, '--state-dir', state, '--isolation', 'bwrap'], {
  stdio: ['ignore', 'ignore', 'inherit'],
});
const totalS = (Date.now() - started) / 1000;

interface Row {
  pr: number;
  phase: string;
  ms: number;
  stages: string;
}
const rows: Row[] = [];
const keys = new Set<string>();
for (let pr = 1; pr <= prs; pr++) {
  const id = `env__slowcalc-${pr}`;
  const instance = JSON.parse(await readFile(join(state, 'instances', `${id}.json`), 'utf8'));
  if (instance.status.environment?.key) keys.add(instance.status.environment.key);
  const dir = join(state, 'results', id);
  let ms = 0;
  const parts: string[] = [];
  for (const file of (await readdir(dir)).sort()) {
    const r = JSON.parse(await readFile(join(dir, file), 'utf8'));
    ms += r.durationMs;
    parts.push(`${file.replace(/\.json$/, '')} ${(r.durationMs / 1000).toFixed(1)}s`);
  }
  rows.push({ pr, phase: instance.status.phase, ms, stages: parts.join(', ') });
}
const log = await readFile(join(state, 'cache', SETUP_RUNS_LOG), 'utf8').catch(() => '');
const setupRuns = new Set(log.split('\n').filter(Boolean)).size;

console.log(`env-reuse: ${prs} PRs, setup step ${setupSeconds}s per setup.py run, reruns 2, parallel 1`);
for (const r of rows)
  console.log(
    `  PR ${String(r.pr).padStart(2)}  ${r.phase.padEnd(9)} ${(r.ms / 1000).toFixed(1).padStart(6)}s  (${r.stages})`,
  );
const verified = rows.filter((r) => r.phase === 'Verified').length;
console.log(`verified:                       ${verified}/${prs}`);
console.log(`environments:                   ${keys.size}`);
console.log(`setup runs:                     ${setupRuns}`);
console.log(`setup runs per instance:        ${(setupRuns / prs).toFixed(2)}   (before: 3; goal ≤ 1.0)`);
console.log(
  `setup runs per environment:     ${(setupRuns / Math.max(1, keys.size)).toFixed(2)}   (goal 1.0)`,
);
const first = rows[0]!.ms;
const last = rows[rows.length - 1]!.ms;
console.log(
  `${`wall time PR ${prs} / PR 1:`.padEnd(32)}${(last / first).toFixed(3)}   (${(last / 1000).toFixed(1)}s / ${(first / 1000).toFixed(1)}s; goal ≤ 0.2)`,
);
console.log(`total wall time:                ${totalS.toFixed(0)}s   (state kept in ${state})`);
