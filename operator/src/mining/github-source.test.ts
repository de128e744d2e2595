import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  FakeGitHub,
  type FakeGitHub as FakeGitHubType,
  type FakePull,
} from '../../../test/support/github-server.ts';
import { Filters } from '../api/index.ts';
import { splitDiff } from './diff-split.ts';
import { FileEtagCache, MemoryEtagCache } from './etag-cache.ts';
import type { RateLimitEvent } from './github-client.ts';
import { decodeGitHubCursor, GitHubPrSource, type GitHubSourceOptions } from './github-source.ts';
import { parseTokens, sharedTokenPool, TokenPool } from './token-pool.ts';
import type { MiningFilters, MiningPage } from './types.ts';

const filters = (over: object = {}): MiningFilters =>
  Filters.parse({
    mergedAfter: '2024-04-01T00:00:00Z',
    maxLines: 50,
    excludeLabels: ['wontfix'],
    ...over,
  }) as MiningFilters;

function fileDiff(path: string, lines: number): string {
  const body = Array.from({ length: lines }, (_, i) => `+line ${i}`).join('\n');
  return `diff --git a/${path} b/${path}\nindex 0000000..1111111 100644\n--- a/${path}\n+++ b/${path}\n@@ -0,0 +1,${lines} @@\n${body}\n`;
}

const sha = (n: number) => n.toString(16).padStart(40, '0');
const day = (d: string) => `2024-${d}T12:00:00Z`;

function pull(number: number, over: Partial<FakePull>): FakePull {
  return {
    number,
    title: `PR ${number}`,
    body: null,
    merged_at: day('05-01'),
    created_at: day('04-01'),
    updated_at: day('05-01'),
    labels: [],
    base_sha: sha(number * 2),
    merge_commit_sha: sha(number * 2 + 1),
    diff: fileDiff(`src/m${number}.py`, 2) + fileDiff(`tests/test_m${number}.py`, 2),
    commits: [{ message: `Work on ${number}`, date: day('04-01') }],
    ...over,
  };
}

/** Listing order (updated desc): 20 19 18 | 17 16 15 | 14 13 12 | 11  with perPage 3. */
function seed(gh: FakeGitHubType): void {
  gh.pulls = [
    pull(20, {
      title: 'Fix widget overflow',
      body: 'Fixes #7',
      labels: ['bug'],
      merged_at: day('05-20'),
      updated_at: day('05-21'),
      created_at: day('05-11'),
      diff: fileDiff('widgets/core.py', 3) + fileDiff('tests/test_core.py', 4),
      commits: [
        { message: 'Add test', date: day('05-12') },
        { message: 'Fix widget', date: day('05-10') },
      ],
    }),
    pull(19, { merged_at: null, updated_at: day('05-19') }),
    pull(18, { merged_at: day('05-18'), updated_at: day('05-18'), diff: fileDiff('docs/usage.md', 5) }),
    pull(17, {
      title: 'Speed up render',
      merged_at: day('05-17'),
      updated_at: day('05-17'),
      diff: fileDiff('widgets/render.py', 4),
      commits: [{ message: 'Cache glyphs\n\ncloses #8', date: day('05-16') }],
    }),
    pull(16, { merged_at: day('05-16'), updated_at: day('05-16'), labels: ['WontFix'] }),
    pull(15, { body: 'fixes #14', merged_at: day('05-15'), updated_at: day('05-15') }),
    pull(14, { merged_at: day('05-14'), updated_at: day('05-14'), diff: fileDiff('widgets/big.py', 60) }),
    pull(13, { merged_at: day('03-01'), updated_at: day('05-13') }),
    pull(12, { merged_at: day('03-10'), updated_at: day('03-11') }),
    pull(11, { merged_at: day('02-01'), updated_at: day('02-01') }),
  ];
  gh.issues = [
    {
      number: 7,
      title: 'Widget overflows',
      body: 'Long labels overflow.',
      comments: [
        { body: 'Reproduced on 2.1', created_at: day('05-01') },
        { body: 'PR incoming, I cap the width', created_at: day('05-11') },
      ],
    },
    { number: 8, title: 'Rendering is slow', body: null, comments: [] },
  ];
}

let gh: FakeGitHubType;
let baseURL: string;

beforeEach(async () => {
  gh = new FakeGitHub({ owner: 'acme', repo: 'widgets' });
  seed(gh);
  baseURL = await gh.start();
});
afterEach(() => gh.close());

function source(over: Partial<GitHubSourceOptions> = {}): GitHubPrSource {
  return new GitHubPrSource({
    repo: 'acme/widgets',
    baseURL,
    filters: filters(),
    perPage: 3,
    waitUnitMs: 1,
    llm: true,
    ...over,
  });
}

async function mineAll(make: () => GitHubPrSource, limit: number): Promise<MiningPage[]> {
  const pages: MiningPage[] = [];
  let cursor: string | undefined;
  for (let i = 0; i < 50; i++) {
    const page = await make().nextPage(cursor, limit);
    pages.push(page);
    cursor = page.cursor;
    if (page.exhausted) return pages;
  }
  throw new Error('never exhausted');
}

const numbers = (pages: MiningPage[]) => ({
  kept: pages.flatMap((p) => p.candidates.map((c) => c.pullNumber)),
  rejected: pages.flatMap((p) => p.rejected.map((r) => [r.pullNumber, r.reason])),
});

describe('GitHubPrSource', () => {
  it('keeps and rejects exactly, with patches, issue text and pre-fix hints', async () => {
    const page = await source().nextPage(undefined, 100);
    expect(page.exhausted).toBe(true);
    expect(page.candidates.map((c) => c.pullNumber)).toEqual([20, 17, 15]);
    expect(page.rejected).toEqual([
      { pullNumber: 19, reason: 'NotMerged', detail: 'closed without merging' },
      { pullNumber: 18, reason: 'DocsOrLockfileOnly', detail: 'only docs changed' },
      { pullNumber: 16, reason: 'LabelFiltered', detail: 'has label(s) wontfix' },
      { pullNumber: 14, reason: 'TooManyLines', detail: '60 changed lines > maxLines 50' },
    ]);
    const pr20 = gh.pulls[0]!;
    expect(page.candidates[0]).toEqual({
      instanceId: 'acme__widgets-20',
      repo: 'acme/widgets',
      cloneURL: `${baseURL}/acme/widgets.git`,
      pullNumber: 20,
      title: 'Fix widget overflow',
      body: 'Fixes #7',
      baseCommit: pr20.base_sha,
      mergeCommit: pr20.merge_commit_sha,
      patch: fileDiff('widgets/core.py', 3),
      testPatch: fileDiff('tests/test_core.py', 4),
      issues: [
        { number: 7, title: 'Widget overflows', body: 'Long labels overflow.', hints: ['Reproduced on 2.1'] },
      ],
      createdAt: day('05-11'),
      mergedAt: day('05-20'),
      language: 'python',
    });
    // Not required: the commit-message link of #17 is not worth a request; #14 is a PR, not an issue.
    expect(page.candidates[1]?.issues).toEqual([]);
    expect(page.candidates[2]?.issues).toEqual([]);
    expect(page.candidates[1]?.testPatch).toBe('');

    const paths = gh.requests.map((r) => r.path.replace(/\?.*page=(\d+).*$/, '?page=$1'));
    expect(paths).toContain('/repos/acme/widgets/pulls?page=3');
    expect(paths).not.toContain('/repos/acme/widgets/pulls?page=4'); // the window ended the walk
    const diffs = gh.requests
      .filter((r) => r.accept.includes('diff'))
      .map((r) => Number(r.path.split('/').pop()));
    expect(diffs.sort()).toEqual([14, 15, 17, 18, 20]);
    expect(gh.requests.filter((r) => r.path.includes('/commits')).map((r) => r.path.split('?')[0])).toEqual([
      '/repos/acme/widgets/pulls/20/commits',
    ]);
    expect(gh.requests.map((r) => r.status).every((s) => s === 200)).toBe(true);
  });

  it.each([
    ['REST', false],
    ['GraphQL', true],
  ])(
    'reads commit messages for a required link and drops references to pull requests (%s)',
    async (_, graphql) => {
      const page = await source({ filters: filters({ requireLinkedIssue: true }), graphql }).nextPage(
        undefined,
        100,
      );
      expect(page.candidates.map((c) => [c.pullNumber, c.issues?.map((i) => i.number)])).toEqual([
        [20, [7]],
        [17, [8]],
      ]);
      expect(page.candidates[1]?.issues).toEqual([
        { number: 8, title: 'Rendering is slow', body: '', hints: [] },
      ]);
      expect(page.rejected.find((r) => r.pullNumber === 15)).toEqual({
        pullNumber: 15,
        reason: 'NoLinkedIssue',
        detail: '#14 is not an issue',
      });
    },
  );

  it('with a token, gets commits, issues and comments of a page in one GraphQL request', async () => {
    const rest = await source().nextPage(undefined, 100);
    const before = gh.requests.length;
    const page = await source({ token: 't0ken' }).nextPage(undefined, 100);
    const made = gh.requests.slice(before);
    // One for the page's PRs and the issues their titles and bodies name; one for #8, named in a commit.
    expect(made.filter((r) => r.method === 'POST').map((r) => [r.path, r.status])).toEqual([
      ['/graphql', 200],
      ['/graphql', 200],
    ]);
    expect(made.filter((r) => /\/(issues|commits)/.test(r.path))).toEqual([]);
    expect(page.rejected).toEqual(rest.rejected);
    // Same instances; commit messages now come free, so #17's "closes #8" is found without being required.
    const issue8 = { number: 8, title: 'Rendering is slow', body: '', hints: [] };
    expect(page.candidates).toEqual(
      rest.candidates.map((c) => (c.pullNumber === 17 ? { ...c, issues: [issue8] } : c)),
    );
  });

  it('falls back to REST when GraphQL is unavailable', async () => {
    const old = new FakeGitHub({ owner: 'acme', repo: 'widgets', graphql: false });
    seed(old);
    const oldURL = await old.start();
    try {
      const rest = await source({ baseURL: oldURL }).nextPage(undefined, 100);
      const fallback = await source({ baseURL: oldURL, token: 't0ken' }).nextPage(undefined, 100);
      expect(fallback).toEqual(rest);
      expect(old.countRequests((r) => r.method === 'POST' && r.status === 404)).toBe(1);
    } finally {
      await old.close();
    }
  });

  it.each([
    ['memory', () => new MemoryEtagCache()],
    ['file', () => new FileEtagCache(mkdtempSync(join(tmpdir(), 'etag-cache-')))],
  ])(
    'pages through a resumable cursor; a resumed run re-reads with ETags for free (%s cache)',
    async (_, makeCache) => {
      const whole = await source().nextPage(undefined, 100);
      const cache = makeCache();
      const pages = await mineAll(() => source({ etagCache: cache }), 2);
      expect(numbers(pages)).toEqual(numbers([whole]));
      expect(pages.flatMap((p) => p.candidates)).toEqual(whole.candidates);
      expect(pages.map((p) => p.exhausted)).toEqual([false, false, false, true]);
      expect(decodeGitHubCursor(pages[0]!.cursor)).toEqual({ page: 1, updatedAt: day('05-19'), seen: [19] });

      // The same run restarted from scratch with its ETag cache: every answer is a 304.
      const used = gh.rateLimitUsed;
      const again = source({ etagCache: cache });
      const rerun = await mineAll(() => again, 2);
      expect(numbers(rerun)).toEqual(numbers([whole]));
      expect(gh.rateLimitUsed).toBe(used);
      expect(again.stats.notModified).toBe(again.stats.requests);
      expect(gh.requests.at(-1)?.status).toBe(304);
    },
  );

  it('neither repeats nor skips PRs that slide down when others are updated mid-run', async () => {
    const first = await source().nextPage(undefined, 4); // 20 19 18 17
    expect(numbers([first]).kept).toEqual([20, 17]);
    gh.pulls.push(pull(21, { merged_at: day('06-01'), updated_at: day('06-01') }));
    gh.pulls.find((p) => p.number === 12)!.updated_at = day('06-02'); // comment on an old PR: moves to the top
    const rest: MiningPage[] = [];
    let cursor = first.cursor;
    for (;;) {
      const page = await source().nextPage(cursor, 1);
      rest.push(page);
      cursor = page.cursor;
      if (page.exhausted) break;
    }
    expect(numbers(rest)).toEqual({
      kept: [15],
      rejected: [
        [16, 'LabelFiltered'],
        [14, 'TooManyLines'],
      ],
    });
  });

  it('waits out primary and secondary rate limits (403 and 429) and finishes the run', async () => {
    const events: RateLimitEvent[] = [];
    const expected = await source().nextPage(undefined, 100);
    gh.injectRateLimit('primary', 'secondary', 'secondary429');
    const limited = new FakeGitHub({ owner: 'acme', repo: 'widgets', rateLimit: 4 });
    seed(limited);
    const limitedURL = await limited.start();
    try {
      const a = source({ onRateLimit: (e) => events.push(e) });
      expect(await a.nextPage(undefined, 100)).toEqual(expected);
      expect(events.map((e) => [e.kind, e.retryAfterSeconds])).toEqual([
        ['primary', events[0]!.retryAfterSeconds],
        ['secondary', 3],
        ['secondary', 3],
      ]);
      expect(events[0]!.retryAfterSeconds).toBeGreaterThanOrEqual(2);
      expect(a.stats.rateLimitWaits).toBe(3);
      expect(gh.requests.slice(-100).filter((r) => r.status === 403 || r.status === 429)).toHaveLength(3);

      // A budget of 4 requests per window: exhausted several times within the run.
      const b = source({ baseURL: limitedURL });
      const page = await b.nextPage(undefined, 100);
      expect(page.candidates.map((c) => ({ ...c, cloneURL: '' }))).toEqual(
        expected.candidates.map((c) => ({ ...c, cloneURL: '' })),
      );
      expect(b.stats.rateLimitWaits).toBeGreaterThanOrEqual(2);
      expect(limited.countRequests((r) => r.status === 403)).toBe(b.stats.rateLimitWaits);
    } finally {
      await limited.close();
    }
  });

  it('spreads requests over several tokens: their joint budget carries a run one token must wait for', async () => {
    const expected = (await source({ token: 'x' }).nextPage(undefined, 100)).candidates.map(
      (c) => c.pullNumber,
    );
    const needed = gh.rateLimitUsedBy.get('x')!;
    const limit = Math.ceil(needed * 0.6); // one token: not enough; two: enough
    const pooled = new FakeGitHub({
      owner: 'acme',
      repo: 'widgets',
      tokens: ['t1', 't2', 't3'],
      rateLimit: limit,
    });
    seed(pooled);
    const pooledURL = await pooled.start();
    try {
      const alone = source({ baseURL: pooledURL, token: 't1' });
      expect((await alone.nextPage(undefined, 100)).candidates.map((c) => c.pullNumber)).toEqual(expected);
      expect(alone.stats.rateLimitWaits).toBeGreaterThan(0);

      // Two fresh tokens of the same size: no wait, both used, neither over its window.
      const both = source({ baseURL: pooledURL, tokens: new TokenPool(['t2', 't3']) });
      expect((await both.nextPage(undefined, 100)).candidates.map((c) => c.pullNumber)).toEqual(expected);
      expect(both.stats.rateLimitWaits).toBe(0);
      expect(pooled.rateLimitUsedBy.get('t2')).toBeGreaterThan(0);
      expect(pooled.rateLimitUsedBy.get('t3')).toBeGreaterThan(0);
      expect(pooled.countRequests((r) => r.status === 401)).toBe(0);
    } finally {
      await pooled.close();
    }
  });

  it('gives every source holding the same tokens one budget', () => {
    const pool = sharedTokenPool(parseTokens('ghp_s1\nghp_s2'));
    expect(sharedTokenPool(['ghp_s2', 'ghp_s1'])).toBe(pool);
    expect(sharedTokenPool(['ghp_s1'])).not.toBe(pool);
  });

  it('talks to GitHub Enterprise under /api/v3 with the token, and fails loudly without it', async () => {
    const ghe = new FakeGitHub({ owner: 'acme', repo: 'widgets', prefix: '/api/v3', token: 's3cret' });
    seed(ghe);
    const gheURL = await ghe.start();
    try {
      expect(gheURL.endsWith('/api/v3')).toBe(true);
      const page = await source({ baseURL: gheURL, token: 's3cret' }).nextPage(undefined, 100);
      expect(page.candidates.map((c) => c.pullNumber)).toEqual([20, 17, 15]);
      await expect(source({ baseURL: gheURL }).nextPage(undefined, 100)).rejects.toMatchObject({
        status: 401,
      });
    } finally {
      await ghe.close();
    }
  });

  it('rejects a PR whose diff GitHub refuses to render (406) without retrying', async () => {
    gh.pulls = [pull(40, { diff: null })];
    const page = await source().nextPage(undefined, 100);
    expect(page.rejected).toEqual([
      { pullNumber: 40, reason: 'TooManyLines', detail: 'GitHub declines to render the diff: too large' },
    ]);
    expect(gh.countRequests((r) => r.status === 406)).toBe(1);
  });

  it('falls back to the repository language when the diff names none', async () => {
    gh.pulls = [
      pull(30, {
        diff: fileDiff('native/ext.c', 3) + fileDiff('tests/test_ext.py', 1).replace(/py/g, 'txt'),
      }),
    ];
    gh.pulls[0]!.merged_at = day('05-01');
    const page = await source().nextPage(undefined, 100);
    expect(page.candidates.map((c) => [c.pullNumber, c.language])).toEqual([[30, 'python']]);
    expect(splitDiff(gh.pulls[0]!.diff!).language).toBeUndefined();
    expect(gh.countRequests((r) => r.path === '/repos/acme/widgets')).toBe(1);
  });

  it('without an llm rejects a PR without tests at mining, before fetching its context', async () => {
    const page = await source({ llm: false, token: 't0ken' }).nextPage(undefined, 100);
    expect(page.candidates.map((c) => c.pullNumber)).toEqual([20, 15]);
    expect(page.rejected.find((r) => r.pullNumber === 17)).toEqual({
      pullNumber: 17,
      reason: 'NoTestsAndNoLlm',
      detail: 'the PR changes no tests and no llm is configured to write them',
    });
    // #17's commits (its "closes #8") were never asked for: one GraphQL request, for #20 and #15.
    expect(gh.countRequests((r) => r.method === 'POST')).toBe(1);
  });

  it('filters.pullNumbers: fetches the listed PRs by number, no listing, absent ones NotFound', async () => {
    const make = () => source({ filters: filters({ pullNumbers: [99, 20, 17, 19, 13] }) });
    const page = await make().nextPage(undefined, 100);
    expect(page.exhausted).toBe(true);
    expect(page.candidates.map((c) => c.pullNumber)).toEqual([17, 20]);
    // #13 was merged before mergedAfter: outside the run, as when listing.
    expect(page.rejected).toEqual([
      { pullNumber: 19, reason: 'NotMerged', detail: 'closed without merging' },
      { pullNumber: 99, reason: 'NotFound', detail: 'PR #99 not found in acme/widgets' },
    ]);
    expect(gh.requests.filter((r) => r.path.startsWith('/repos/acme/widgets/pulls?'))).toEqual([]);
    const whole = await source().nextPage(undefined, 100);
    expect(page.candidates).toEqual(
      whole.candidates.filter((c) => [17, 20].includes(c.pullNumber)).reverse(),
    );
    // Two listed PRs per page; mining ends with the list.
    const pages = await mineAll(make, 2);
    expect(numbers(pages)).toEqual(numbers([page]));
    expect(pages.map((p) => p.exhausted)).toEqual([false, false, true]);
  });

  it('filters.commits: walks the listing for merge_commit_sha prefixes, stops once all matched', async () => {
    const at = (n: number) => gh.pulls.find((p) => p.number === n)!;
    at(17).merge_commit_sha = `abcdef0${'1'.repeat(33)}`;
    at(15).merge_commit_sha = `fedcba9${'2'.repeat(33)}`;
    // An unmerged PR's test-merge sha does not count.
    at(19).merge_commit_sha = `1234567${'3'.repeat(33)}`;
    const listed = (commits: string[]) => () => source({ filters: filters({ commits }) });
    const page = await listed(['ABCDEF0', at(15).merge_commit_sha!, '1234567'])().nextPage(undefined, 100);
    expect(page.exhausted).toBe(true);
    expect(page.candidates.map((c) => [c.pullNumber, c.mergeCommit])).toEqual([
      [17, at(17).merge_commit_sha],
      [15, at(15).merge_commit_sha],
    ]);
    expect(page.rejected).toEqual([
      {
        pullNumber: 0,
        commit: '1234567',
        reason: 'NotFound',
        detail: 'commit 1234567 not found as the merge commit of a PR of acme/widgets merged in the window',
      },
    ]);
    // Paged, the same PRs; the matched commits travel in the cursor.
    const pages = await mineAll(listed(['abcdef0', at(15).merge_commit_sha!, '1234567']), 1);
    expect(numbers(pages)).toEqual(numbers([page]));
    // Everything matched: the walk ends there, the older listing pages are never read.
    gh.requests.length = 0;
    const early = await listed(['abcdef0'])().nextPage(undefined, 100);
    expect(early).toMatchObject({ exhausted: true, rejected: [] });
    expect(early.candidates.map((c) => c.pullNumber)).toEqual([17]);
    const paths = gh.requests.map((r) => r.path.replace(/\?.*page=(\d+).*$/, '?page=$1'));
    expect(paths).toContain('/repos/acme/widgets/pulls?page=2');
    expect(paths).not.toContain('/repos/acme/widgets/pulls?page=3');
  });
});
