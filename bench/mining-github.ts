/**
 * Benchmark: GitHub requests per kept PR, mining a repository served by the local fake GitHub
 * (real octokit, real HTTP). The PR mix follows what mining sees in practice: most merged PRs
 * change code and tests, some only docs, some are too big, some were closed unmerged; half
 * close an issue, half of those issues have comments (hints). Target: at most 2 per kept PR.
 *   npm run bench:mining-github [-- PRS]
 */

import { Filters } from '../operator/src/api/index.ts';
import { MemoryEtagCache } from '../operator/src/mining/etag-cache.ts';
import { addToFunnel, emptyFunnel, formatFunnel } from '../operator/src/mining/funnel.ts';
import { GitHubPrSource } from '../operator/src/mining/github-source.ts';
import type { MiningFilters } from '../operator/src/mining/types.ts';
import { FakeGitHub, type FakePull } from '../test/support/github-server.ts';

const prs = Number(process.argv[2] ?? 1000);

function fileDiff(path: string, lines: number): string {
  const body = Array.from({ length: lines }, (_, i) => `+line ${i}`).join('\n');
  return `diff --git a/${path} b/${path}\n--- a/${path}\n+++ b/${path}\n@@ -0,0 +1,${lines} @@\n${body}\n`;
}

const gh = new FakeGitHub({ owner: 'bench', repo: 'repo' });
const start = Date.parse('2024-01-01T00:00:00Z');
const at = (k: number, minutes: number) => new Date(start + k * 3_600_000 + minutes * 60_000).toISOString();
for (let k = 1; k <= prs; k++) {
  const kind = k % 10; // 0: unmerged, 1: docs only, 2: too big, 3..9: code (+tests unless 9)
  const issue = k % 2 === 0 ? 100_000 + k : undefined;
  const diff =
    kind === 1
      ? fileDiff('docs/guide.md', 3)
      : kind === 2
        ? fileDiff(`src/big${k}.py`, 3000)
        : fileDiff(`src/m${k}.py`, 5) + (kind === 9 ? '' : fileDiff(`tests/test_m${k}.py`, 5));
  const pull: FakePull = {
    number: k,
    title: `Change ${k}`,
    body: issue !== undefined ? `Fixes #${issue}` : 'No issue.',
    merged_at: kind === 0 ? null : at(k, 30),
    created_at: at(k, 0),
    updated_at: at(k, 31),
    labels: [],
    base_sha: k.toString(16).padStart(40, '0'),
    merge_commit_sha: (k + 1_000_000).toString(16).padStart(40, '0'),
    diff,
    commits: [{ message: `Change ${k}`, date: at(k, 5) }],
  };
  gh.pulls.push(pull);
  if (issue !== undefined) {
    const comments = k % 4 === 0 ? [{ body: `Seen on ${k}`, created_at: at(k, -60) }] : [];
    gh.issues.push({ number: issue, title: `Bug ${k}`, body: `Bug ${k} body`, comments });
  }
}

const baseURL = await gh.start();
try {
  const filters = Filters.parse({}) as MiningFilters;
  const cache = new MemoryEtagCache();
  const run = async (token: string | undefined, etagCache = new MemoryEtagCache()) => {
    const source = new GitHubPrSource({
      repo: 'bench/repo',
      baseURL,
      filters,
      // As a run with an LLM: PRs without tests stay candidates, as the numbers in bench/ assume.
      llm: true,
      etagCache,
      ...(token ? { token } : {}),
    });
    let funnel = emptyFunnel();
    let cursor: string | undefined;
    const before = gh.requests.length;
    const usedBefore = gh.rateLimitUsed;
    const t0 = performance.now();
    for (;;) {
      const page = await source.nextPage(cursor, 100);
      funnel = addToFunnel(funnel, { kept: page.candidates.length, rejected: page.rejected });
      cursor = page.cursor;
      if (page.exhausted) break;
    }
    const seconds = (performance.now() - t0) / 1000;
    return { funnel, requests: gh.requests.length - before, charged: gh.rateLimitUsed - usedBefore, seconds };
  };

  const first = await run('bench-token', cache);
  const byRoute = new Map<string, number>();
  for (const r of gh.requests) {
    const route = r.accept.includes('diff')
      ? 'pull diff'
      : r.path.replace(/\?.*$/, '').replace(/\/\d+/g, '/:n').replace('/repos/bench/repo', '');
    byRoute.set(route || '/repo', (byRoute.get(route || '/repo') ?? 0) + 1);
  }
  console.log(`funnel: ${formatFunnel(first.funnel)}`);
  console.log(
    `with a token (GraphQL batches): ${first.requests} requests for ${first.funnel.kept} kept PRs = ${(first.requests / first.funnel.kept).toFixed(2)} requests per kept PR (target ≤ 2); ${(first.funnel.discovered / first.seconds).toFixed(0)} PRs/s against the local server`,
  );
  console.log(`  by route: ${[...byRoute].map(([k, v]) => `${k} ${v}`).join(', ')}`);
  const second = await run('bench-token', cache);
  console.log(
    `  the same run again with its ETag cache: ${second.requests} requests, ${second.charged} counted against the rate limit (304s are free)`,
  );
  const anonymous = await run(undefined);
  console.log(
    `without a token (REST only, GraphQL needs auth): ${anonymous.requests} requests = ${(anonymous.requests / anonymous.funnel.kept).toFixed(2)} per kept PR`,
  );
} finally {
  await gh.close();
}
