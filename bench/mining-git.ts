/**
 * Benchmark: mine a generated repository with 5,000 merged PRs (half GitHub merge commits,
 * half squash merges, with direct pushes in between) from git history, and print PRs/second.
 * The history is written with `git fast-import`, so generating it takes a second or two.
 *   npm run bench:mining-git [-- PRS [PAGE]]
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Filters } from '../operator/src/api/index.ts';
import { addToFunnel, emptyFunnel, formatFunnel } from '../operator/src/mining/funnel.ts';
import { GitPrSource } from '../operator/src/mining/git-source.ts';
import type { MiningFilters } from '../operator/src/mining/types.ts';

const prs = Number(process.argv[2] ?? 5000);
const pageSize = Number(process.argv[3] ?? 500);

/** A fast-import stream: PR k changes pkg/m<k%50>.py and (mostly) its test; every 10th is docs only. */
function history(count: number): string {
  const out: string[] = [];
  let mark = 0;
  let time = 1_700_000_000;
  const who = (t: number) => `Bench <bench@example.com> ${t} +0000`;
  const data = (s: string) => `data ${Buffer.byteLength(s)}\n${s}\n`;
  const inline = (path: string, content: string) => `M 100644 inline ${path}\n${data(content)}`;
  const commit = (ref: string, message: string, from: number | undefined, files: string, merge?: number) => {
    mark++;
    time += 60;
    out.push(
      `commit ${ref}\nmark :${mark}\nauthor ${who(time)}\ncommitter ${who(time)}\n${data(message)}` +
        (from !== undefined ? `from :${from}\n` : '') +
        (merge !== undefined ? `merge :${merge}\n` : '') +
        files,
    );
    return mark;
  };
  let main = commit(
    'refs/heads/main',
    'Initial import',
    undefined,
    inline('pyproject.toml', '[project]\nname = "bench"\n'),
  );
  for (let k = 1; k <= count; k++) {
    const module = `pkg/m${k % 50}.py`;
    const code = inline(module, `def f():\n    return ${k}\n`);
    const test =
      k % 3 === 0 ? '' : inline(`tests/test_m${k % 50}.py`, `def test_f():\n    assert f() == ${k}\n`);
    const files = k % 10 === 0 ? inline('docs/changes.md', `change ${k}\n`) : code + test;
    const fixes = k % 2 === 0 ? `\n\nFixes #${k + 100000}` : '';
    if (k % 2 === 0) {
      const branch = commit('refs/heads/pr', `Change ${k}${fixes}`, main, files);
      main = commit(
        'refs/heads/main',
        `Merge pull request #${k} from dev/pr-${k}\n\nChange ${k}`,
        main,
        files,
        branch,
      );
    } else {
      main = commit('refs/heads/main', `Change ${k} (#${k})${fixes}`, main, files);
    }
    if (k % 25 === 0) main = commit('refs/heads/main', `Direct push ${k}`, main, inline('VERSION', `${k}\n`));
  }
  return out.join('');
}

const dir = mkdtempSync(join(tmpdir(), 'bench-mining-git-'));
try {
  const t0 = performance.now();
  execFileSync('git', ['init', '--quiet', '--bare', dir]);
  const imported = spawnSync('git', ['--git-dir', dir, 'fast-import', '--quiet'], { input: history(prs) });
  if (imported.status !== 0) throw new Error(imported.stderr.toString());
  execFileSync('git', ['--git-dir', dir, 'symbolic-ref', 'HEAD', 'refs/heads/main']);
  const generated = performance.now() - t0;

  const filters = Filters.parse({}) as MiningFilters;
  // As a run with an LLM: PRs without tests stay candidates, as the numbers in bench/ assume.
  const source = new GitPrSource({ url: dir, repo: 'bench/repo', filters, llm: true });
  let funnel = emptyFunnel();
  let linked = 0;
  let cursor: string | undefined;
  let pages = 0;
  const t1 = performance.now();
  for (;;) {
    const page = await source.nextPage(cursor, pageSize);
    pages++;
    funnel = addToFunnel(funnel, { kept: page.candidates.length, rejected: page.rejected });
    linked += page.candidates.filter((c) => (c.issues ?? []).length > 0).length;
    cursor = page.cursor;
    if (page.exhausted) break;
  }
  const seconds = (performance.now() - t1) / 1000;
  console.log(`generated ${prs} PRs with git fast-import in ${(generated / 1000).toFixed(2)} s`);
  console.log(`mined ${funnel.discovered} PRs in ${pages} pages of ${pageSize} in ${seconds.toFixed(2)} s`);
  console.log(`funnel: ${formatFunnel(funnel)}; ${linked} kept PRs link an issue (from branch commits)`);
  console.log(`throughput: ${(funnel.discovered / seconds).toFixed(0)} PRs/second`);
  if (funnel.discovered !== prs) throw new Error(`expected ${prs} PRs, discovered ${funnel.discovered}`);
} finally {
  rmSync(dir, { recursive: true, force: true });
}
