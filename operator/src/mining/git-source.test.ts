import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CurationRunSpec, Filters } from '../api/index.ts';
import { addToFunnel, emptyFunnel, formatFunnel } from './funnel.ts';
import { repoSlugFromURL } from './git.ts';
import { GitPrSource, type GitSourceOptions, parsePrCommit, prsOfHistory } from './git-source.ts';
import { createPrSource, GitHubPrSource } from './index.ts';
import type { MiningFilters, MiningPage } from './types.ts';

const filters = (over: object = {}): MiningFilters => Filters.parse(over) as MiningFilters;

/** A real repository whose history has GitHub merge commits, squash merges and direct pushes. */
class RepoBuilder {
  readonly dir: string;
  private clock = Date.parse('2024-03-01T00:00:00Z') / 1000;
  constructor(dir: string) {
    this.dir = dir;
    mkdirSync(dir, { recursive: true });
    this.git('init', '--quiet', '--initial-branch=main');
  }
  git(...args: string[]): string {
    this.clock += 3600;
    const date = `${this.clock} +0000`;
    return execFileSync('git', ['-c', 'user.name=Test', '-c', 'user.email=test@example.com', ...args], {
      cwd: this.dir,
      encoding: 'utf8',
      env: { ...process.env, GIT_AUTHOR_DATE: date, GIT_COMMITTER_DATE: date },
    }).trim();
  }
  commit(message: string, files: Record<string, string>): string {
    for (const [path, content] of Object.entries(files)) {
      mkdirSync(dirname(join(this.dir, path)), { recursive: true });
      writeFileSync(join(this.dir, path), content);
      this.git('add', path);
    }
    this.git('commit', '--quiet', '-m', message);
    return this.git('rev-parse', 'HEAD');
  }
  /** A branch from `from` with the given commits, merged into main with GitHub's message. */
  mergePR(
    number: number,
    title: string,
    from: string,
    commits: Array<[string, Record<string, string>]>,
  ): string {
    this.git('checkout', '--quiet', '-b', `pr-${number}`, from);
    for (const [message, files] of commits) this.commit(message, files);
    this.git('checkout', '--quiet', 'main');
    this.git(
      'merge',
      '--quiet',
      '--no-ff',
      `pr-${number}`,
      '-m',
      `Merge pull request #${number} from alice/pr-${number}\n\n${title}`,
    );
    return this.git('rev-parse', 'HEAD');
  }
  /** `git diff` output verbatim (git() trims). */
  diff(from: string, to: string, ...paths: string[]): string {
    return execFileSync('git', ['diff', from, to, '--', ...paths], { cwd: this.dir, encoding: 'utf8' });
  }
  time(rev: string): string {
    return this.git('show', '-s', '--format=%cI', rev);
  }
}

const calcV1 = 'def add(a, b):\n    return a + b\n';
const testV1 = 'from calc import add\n\ndef test_add():\n    assert add(1, 2) == 3\n';

let root: string;
let repo: RepoBuilder;
/** Commits of interest, by name. */
const c: Record<string, string> = {};

beforeAll(() => {
  root = mkdtempSync(join(tmpdir(), 'mining-git-'));
  repo = new RepoBuilder(join(root, 'acme', 'calc'));
  c.init = repo.commit('Initial import', {
    'pyproject.toml': '[project]\nname = "calc"\n',
    'src/calc.py': calcV1,
    'tests/test_calc.py': testV1,
    'README.md': '# calc\n',
  });
  // #1: merge commit; the closing keyword is in a branch commit, not in the merge message.
  c.pr1 = repo.mergePR(1, 'Add subtract', c.init, [
    ['Add subtract\n\nFixes #10', { 'src/calc.py': calcV1 + '\ndef sub(a, b):\n    return a - b\n' }],
    ['Test subtract', { 'tests/test_calc.py': testV1 + '\ndef test_sub():\n    assert sub(3, 1) == 2\n' }],
  ]);
  // #2: squash merge touching docs only.
  c.pr2 = repo.commit('Fix typo in README (#2)', { 'README.md': '# calc, a calculator\n' });
  // A direct push: not a PR.
  c.direct = repo.commit('Bump version', { 'pyproject.toml': '[project]\nname = "calc"\nversion = "1.1"\n' });
  // #3: squash merge, code only, closing keyword in the squashed body.
  c.pr3 = repo.commit('Add multiply (#3)\n\n* add mul\n\ncloses #11', {
    'src/calc.py': calcV1 + '\ndef sub(a, b):\n    return a - b\n\ndef mul(a, b):\n    return a * b\n',
  });
  // #4: merge of a branch started at the initial commit (main moved on since): tests only.
  c.pr4 = repo.mergePR(4, 'More tests', c.init, [
    ['Add a test', { 'tests/test_more.py': 'def test_x():\n    pass\n' }],
  ]);
  // #5: squash merge of code and tests without a linked issue.
  c.pr5 = repo.commit('Divide (#5)', {
    'src/div.py': 'def div(a, b):\n    return a / b\n',
    'tests/test_div.py': 'from div import div\n\ndef test_div():\n    assert div(4, 2) == 2\n',
  });
});

afterAll(() => rmSync(root, { recursive: true, force: true }));

async function mineAll(
  source: GitPrSource,
  limit: number,
): Promise<{ pages: MiningPage[]; all: MiningPage }> {
  const pages: MiningPage[] = [];
  let cursor: string | undefined;
  for (let i = 0; i < 50; i++) {
    const page = await source.nextPage(cursor, limit);
    pages.push(page);
    cursor = page.cursor;
    if (page.exhausted) break;
  }
  return {
    pages,
    all: {
      candidates: pages.flatMap((p) => p.candidates),
      rejected: pages.flatMap((p) => p.rejected),
      cursor,
      exhausted: pages.at(-1)?.exhausted ?? false,
    },
  };
}

describe('parsePrCommit', () => {
  it('recognises GitHub merge and squash messages only', () => {
    const rec = (sha: string, parents: string[], message: string) => ({
      sha,
      parents,
      authoredAt: 'a',
      committedAt: 'c',
      message,
    });
    const merge = parsePrCommit(
      rec('m', ['p1', 'p2'], 'Merge pull request #12 from a/b\n\nTitle here\n\nMore'),
    );
    expect(merge).toMatchObject({
      pullNumber: 12,
      title: 'Title here',
      body: 'More',
      base: 'p1',
      head: 'p2',
    });
    expect(parsePrCommit(rec('s', ['p1'], 'Fix bug (#7)\n\nbody'))).toMatchObject({
      pullNumber: 7,
      title: 'Fix bug',
      body: 'body',
      base: 'p1',
      head: undefined,
    });
    expect(parsePrCommit(rec('x', ['p1'], 'Merge pull request #12 from a/b'))).toBeUndefined();
    expect(parsePrCommit(rec('x', ['p1', 'p2'], "Merge branch 'main' into x"))).toBeUndefined();
    expect(parsePrCommit(rec('x', ['p1'], 'Refs (#7) in the middle'))).toBeUndefined();
    expect(parsePrCommit(rec('x', [], 'Root (#1)'))).toBeUndefined();
    // Trailers name the PR of a rebased commit, with history 'first-parent' only.
    const trailed = rec('t', ['p1'], 'Add parser\n\nLonger text.\n\nPR: #12\nSigned-off-by: A <a@b>');
    expect(parsePrCommit(trailed)).toBeUndefined();
    expect(parsePrCommit(trailed, 'first-parent')).toMatchObject({ pullNumber: 12, title: 'Add parser' });
    const number = (message: string) => parsePrCommit(rec('t', ['p1'], message), 'first-parent')?.pullNumber;
    expect(number('Fix\n\nPull-Request: #34')).toBe(34);
    expect(number('Fix\n\nPR-URL: https://github.com/nodejs/node/pull/56')).toBe(56);
    expect(number('Fix\n\npr: 78')).toBe(78);
    expect(number('Merge pull request #9 from a/b\n\nTitle')).toBe(9);
    expect(number('Fix (#5)')).toBe(5);
    // A trailer must be in the last paragraph, and its value a PR.
    expect(number('PR: #12\n\nMore text')).toBeUndefined();
    expect(number('Fix\n\nPR: see the issue')).toBeUndefined();
    expect(number('Fix')).toBeUndefined();
  });

  it('groups consecutive commits of one PR and rejects commits that name none', () => {
    const rec = (sha: string, parent: string, message: string, authoredAt = '2024-01-01T00:00:00Z') => ({
      sha,
      parents: [parent],
      authoredAt,
      committedAt: '2024-02-01T00:00:00Z',
      message,
    });
    const history = [
      rec('d', 'c', 'Third step\n\nPR: #12'),
      rec('c', 'b', 'Second step\n\nPR: #12'),
      rec('b', 'a', 'First step\n\nFixes #3\n\nPR: #12', '2023-12-01T00:00:00Z'),
      rec('a', 'z', 'Direct push'),
      rec('z', 'y', 'Fix (#12)'),
    ];
    const entries = prsOfHistory(history, 'first-parent');
    expect(entries).toMatchObject([
      {
        pullNumber: 12,
        commit: 'd',
        commits: ['d', 'c', 'b'],
        base: 'a',
        title: 'First step',
        authoredAt: '2023-12-01T00:00:00Z',
      },
      { pullNumber: 0, commit: 'a', reason: 'NoPullNumber' },
      // Not adjacent to the group: another PR commit with the same number (sources keep the newest).
      { pullNumber: 12, commit: 'z', commits: ['z'], base: 'y' },
    ]);
    expect((entries[0] as { body: string }).body).toContain('Fixes #3');
    expect(prsOfHistory(history, 'merges')).toMatchObject([{ pullNumber: 12, commit: 'z' }]);
  });

  it('derives owner/name from URLs and paths', () => {
    expect(repoSlugFromURL('https://github.com/psf/requests.git')).toBe('psf/requests');
    expect(repoSlugFromURL('git@github.com:psf/requests.git')).toBe('psf/requests');
    expect(repoSlugFromURL('/srv/git/acme/calc')).toBe('acme/calc');
    expect(repoSlugFromURL('file:///srv/git/acme/calc.git/')).toBe('acme/calc');
    expect(repoSlugFromURL('calc')).toBeUndefined();
  });
});

describe('GitPrSource', () => {
  it('mines merge and squash PRs newest first with exact bases, patches and reasons', async () => {
    const source = new GitPrSource({ url: repo.dir, filters: filters(), llm: true });
    expect(source.repo).toBe('acme/calc');
    const page = await source.nextPage(undefined, 100);
    expect(page.exhausted).toBe(true);
    expect(page.cursor).toBe(c.init);
    expect(page.candidates.map((p) => p.pullNumber)).toEqual([5, 3, 1]);
    expect(page.rejected).toEqual([
      { pullNumber: 4, reason: 'NoCodeChange', detail: 'only test changed' },
      { pullNumber: 2, reason: 'DocsOrLockfileOnly', detail: 'only docs changed' },
    ]);

    const [pr5, pr3, pr1] = page.candidates;
    // Merge commit: base is the first parent, the diff is the merge against it.
    expect(pr1).toMatchObject({
      instanceId: 'acme__calc-1',
      repo: 'acme/calc',
      cloneURL: repo.dir,
      title: 'Add subtract',
      baseCommit: c.init,
      mergeCommit: c.pr1,
      language: 'python',
      issues: [{ number: 10 }],
      mergedAt: repo.time(c.pr1!),
      createdAt: repo.time('pr-1~1'),
    });
    expect(pr1!.patch).toBe(repo.diff(c.init!, c.pr1!, 'src'));
    expect(pr1!.testPatch).toBe(repo.diff(c.init!, c.pr1!, 'tests'));
    expect(pr1!.patch).toContain('+def sub(a, b):');
    // Squash: base is the parent; the closing keyword comes from the squashed message.
    expect(pr3).toMatchObject({
      title: 'Add multiply',
      body: '* add mul\n\ncloses #11',
      baseCommit: c.direct,
    });
    expect(pr3!.issues).toEqual([{ number: 11 }]);
    expect(pr3!.testPatch).toBe('');
    expect(pr3!.patch).toBe(repo.diff(c.direct!, c.pr3!));
    // Squash after a merge of an old branch (#4): its base is that merge on the mainline.
    expect(pr5).toMatchObject({ baseCommit: c.pr4, issues: [] });
    expect(pr5!.patch).toBe(repo.diff(c.pr4!, c.pr5!, 'src'));
    expect(pr5!.testPatch).toBe(repo.diff(c.pr4!, c.pr5!, 'tests'));
  });

  it('pages resume from the cursor and together equal one big page', async () => {
    const whole = await new GitPrSource({ url: repo.dir, filters: filters(), llm: true }).nextPage(
      undefined,
      100,
    );
    const { pages, all } = await mineAll(
      new GitPrSource({ url: repo.dir, filters: filters(), llm: true }),
      2,
    );
    expect(pages.map((p) => p.cursor)).toEqual([c.pr4, c.direct, c.pr1, c.init]);
    expect(pages.map((p) => p.exhausted)).toEqual([false, false, false, true]);
    expect(all.candidates).toEqual(whole.candidates);
    expect(all.rejected).toEqual(whole.rejected);
    // A restarted process resumes from a stored cursor.
    const resumed = await new GitPrSource({ url: repo.dir, filters: filters(), llm: true }).nextPage(
      c.direct,
      100,
    );
    expect(resumed.candidates.map((p) => p.pullNumber)).toEqual([1]);
    expect(resumed.rejected.map((p) => p.pullNumber)).toEqual([2]);
    const done = await new GitPrSource({ url: repo.dir, filters: filters(), llm: true }).nextPage(
      c.init,
      100,
    );
    expect(done).toEqual({ candidates: [], rejected: [], cursor: c.init, exhausted: true });
  });

  it('applies the filters: linked issue required, no test generation, merge window', async () => {
    const strict = await new GitPrSource({
      url: repo.dir,
      filters: filters({ requireLinkedIssue: true, generateTests: false }),
    }).nextPage(undefined, 100);
    expect(strict.candidates.map((p) => p.pullNumber)).toEqual([1]);
    expect(strict.rejected.map((r) => [r.pullNumber, r.reason])).toEqual([
      [5, 'NoLinkedIssue'],
      [4, 'NoCodeChange'],
      [3, 'NoTestsAndGenerationDisabled'],
      [2, 'DocsOrLockfileOnly'],
    ]);
    const window = await new GitPrSource({
      url: repo.dir,
      filters: filters({ mergedAfter: repo.time(c.pr2!), mergedBefore: repo.time(c.pr5!) }),
    }).nextPage(undefined, 100);
    expect([...window.candidates, ...window.rejected].map((p) => p.pullNumber).sort()).toEqual([2, 3, 4]);
    expect(window.exhausted).toBe(true);
    expect(window.cursor).toBe(c.pr2);
    const labelled = await new GitPrSource({ url: repo.dir, filters: filters({ labels: ['bug'] }) }).nextPage(
      undefined,
      100,
    );
    expect(labelled.candidates).toEqual([]);
    expect(new Set(labelled.rejected.map((r) => r.reason))).toEqual(new Set(['LabelFiltered']));
  });

  it('clones a URL into the cache and mines it offline afterwards', async () => {
    const cacheDir = join(root, 'cache');
    const url = `file://${repo.dir}`;
    const fromUrl = await new GitPrSource({
      url,
      repo: 'acme/calc',
      filters: filters(),
      cacheDir,
      llm: true,
    }).nextPage(undefined, 100);
    const local = await new GitPrSource({ url: repo.dir, filters: filters(), llm: true }).nextPage(
      undefined,
      100,
    );
    expect(fromUrl.candidates.map((p) => ({ ...p, cloneURL: '' }))).toEqual(
      local.candidates.map((p) => ({ ...p, cloneURL: '' })),
    );
    expect(fromUrl.candidates[0]?.cloneURL).toBe(url);
    // The remote disappears: the cached clone still answers.
    const moved = join(root, 'moved');
    execFileSync('mv', [repo.dir, moved]);
    try {
      const offline = await new GitPrSource({
        url,
        repo: 'acme/calc',
        filters: filters(),
        llm: true,
        cacheDir,
      }).nextPage(undefined, 100);
      expect(offline.candidates.map((p) => p.pullNumber)).toEqual([5, 3, 1]);
    } finally {
      execFileSync('mv', [moved, repo.dir]);
    }
  });
});

describe('createPrSource', () => {
  it('builds the source the run spec names; without spec.llm a PR without tests is rejected at mining', async () => {
    const spec = CurationRunSpec.parse({ source: { git: { url: repo.dir, repo: 'acme/calculator' } } });
    const source = createPrSource(spec);
    expect(source).toBeInstanceOf(GitPrSource);
    const page = await source.nextPage(undefined, 100);
    expect(page.candidates.map((c) => c.instanceId)).toEqual(['acme__calculator-5', 'acme__calculator-1']);
    expect(page.rejected.find((r) => r.pullNumber === 3)).toEqual({
      pullNumber: 3,
      reason: 'NoTestsAndNoLlm',
      detail: 'the PR changes no tests and no llm is configured to write them',
    });
    const withLlm = CurationRunSpec.parse({
      ...spec,
      llm: { baseURL: 'http://127.0.0.1:1/v1', model: 'm' },
    });
    const all = await createPrSource(withLlm).nextPage(undefined, 100);
    expect(all.candidates.map((c) => c.pullNumber)).toEqual([5, 3, 1]);
    const github = CurationRunSpec.parse({ source: { github: { repo: 'psf/requests' } } });
    expect(createPrSource(github, { githubToken: 't' })).toBeInstanceOf(GitHubPrSource);
  });
});

describe('GitPrSource input from the spec', () => {
  it('treats a ref or URL that looks like an option as data', async () => {
    const target = join(root, 'written-by-git');
    const source = new GitPrSource({ url: repo.dir, ref: `--output=${target}`, filters: filters() });
    await expect(source.nextPage(undefined, 10)).rejects.toThrow(/bad revision|unknown revision/);
    expect(existsSync(target)).toBe(false);
    await expect(source.nextPage('--all', 10)).rejects.toThrow(/not a git mining cursor/);
    const cacheDir = join(root, 'cache-options');
    const optionURL = new GitPrSource({
      url: `--upload-pack=touch ${target}`,
      repo: 'a/b',
      filters: filters(),
      cacheDir,
    });
    await expect(optionURL.nextPage(undefined, 10)).rejects.toThrow();
    expect(existsSync(target)).toBe(false);
  });
});

describe('GitPrSource on a history with a PR number twice', () => {
  it('keeps the newest commit for the PR only', async () => {
    const dup = new RepoBuilder(join(root, 'acme', 'dup'));
    dup.commit('Initial import', { 'go.mod': 'module x\n', 'x.go': 'package x\n' });
    dup.commit('Fix parse (#1)', { 'x.go': 'package x\n\nfunc A() {}\n', 'x_test.go': 'package x\n' });
    const newest = dup.commit('Fix parse (#1)', { 'x.go': 'package x\n\nfunc A() int { return 1 }\n' });
    const page = await new GitPrSource({ url: dup.dir, filters: filters(), llm: true }).nextPage(
      undefined,
      10,
    );
    expect(page.candidates.map((c) => [c.instanceId, c.mergeCommit, c.language])).toEqual([
      ['acme__dup-1', newest, 'go'],
    ]);
    expect(page.rejected).toEqual([]);
  });
});

describe('GitPrSource on a merge commit without a title line (python-humanize/humanize#78)', () => {
  it("takes the PR's title and body from its own commits", async () => {
    const bare = new RepoBuilder(join(root, 'acme', 'bare'));
    const base = bare.commit('Initial import', { 'calc.py': calcV1, 'tests/test_calc.py': testV1 });
    bare.git('checkout', '--quiet', '-b', 'feat', base);
    bare.commit('feat: add subtract\n\nThe calculator had no way to subtract.', {
      'calc.py': `${calcV1}\ndef sub(a, b):\n    return a - b\n`,
    });
    bare.commit('test: cover subtract', {
      'tests/test_calc.py': `${testV1}\nfrom calc import sub\n\ndef test_sub():\n    assert sub(3, 2) == 1\n`,
    });
    bare.git('checkout', '--quiet', 'main');
    // GitHub's merge message with the title line deleted.
    bare.git('merge', '--quiet', '--no-ff', 'feat', '-m', 'Merge pull request #78 from bob/feat');
    const page = await new GitPrSource({ url: bare.dir, filters: filters(), llm: true }).nextPage(
      undefined,
      10,
    );
    expect(page.candidates.map((c) => [c.pullNumber, c.title, c.body])).toEqual([
      [78, 'feat: add subtract', 'The calculator had no way to subtract.\n\ntest: cover subtract'],
    ]);
  });
});

describe('GitPrSource patches apply at the base commit', () => {
  it('includes binary fixtures as applicable binary patches', async () => {
    const bin = new RepoBuilder(join(root, 'acme', 'bin'));
    bin.commit('Initial import', { 'setup.py': 'from setuptools import setup\n', 'img.py': 'X = 1\n' });
    const base = bin.git('rev-parse', 'HEAD');
    const fixture = Buffer.from([0, 1, 2, 255, 0, 10, 13, 0]).toString('latin1');
    bin.commit('Read images (#2)', {
      'img.py': 'X = 2\n',
      'tests/data/pixel.bin': fixture,
      'tests/test_img.py': 'def test(): pass\n',
    });
    const [pr] = (await new GitPrSource({ url: bin.dir, filters: filters() }).nextPage(undefined, 10))
      .candidates;
    expect(pr?.testPatch).toContain('GIT binary patch');
    bin.git('checkout', '--quiet', base);
    writeFileSync(join(root, 'gold.patch'), pr!.patch + pr!.testPatch);
    bin.git('apply', '--check', join(root, 'gold.patch'));
    bin.git('apply', join(root, 'gold.patch'));
    // Gold patch + test patch at the base reproduce the merged tree exactly, binary fixture included.
    bin.git('add', '--all');
    expect(bin.git('write-tree')).toBe(bin.git('rev-parse', `${pr!.mergeCommit}^{tree}`));
  });
});

describe('GitPrSource on a URL several runs share', () => {
  it('clones once into the cache however many sources open it at the same time', async () => {
    const cacheDir = join(root, 'shared-cache');
    const url = `file://${repo.dir}`;
    const pages = await Promise.all(
      Array.from({ length: 6 }, () =>
        new GitPrSource({ url, filters: filters(), cacheDir }).nextPage(undefined, 10),
      ),
    );
    for (const page of pages)
      expect(page.candidates.map((p) => p.pullNumber)).toEqual(pages[0]!.candidates.map((p) => p.pullNumber));
    expect(pages[0]!.candidates.length).toBeGreaterThan(0);
    // One clone, no temporaries left behind.
    expect(readdirSync(cacheDir)).toHaveLength(1);
  });

  it('tries the clone again after a failure instead of remembering it', async () => {
    const cacheDir = join(root, 'retry-cache');
    const later = join(root, 'acme', 'later');
    const source = new GitPrSource({ url: `file://${later}`, filters: filters(), cacheDir });
    await expect(source.nextPage(undefined, 10)).rejects.toThrow(/clone/);
    // The remote appears (a server back up): the same source object now mines it.
    execFileSync('git', ['clone', '-q', repo.dir, later]);
    const page = await source.nextPage(undefined, 10);
    expect(page.candidates.length).toBeGreaterThan(0);
  });
});

describe('GitPrSource on a rebase-merged history', () => {
  // Main moved from merge commits to rebase merges: PR #12 is three commits carrying a `PR: #12`
  // trailer, with no merge commit; #14 names its PR with a PR-URL trailer only.
  let rb: RepoBuilder;
  const r: Record<string, string> = {};
  const sub = '\ndef sub(a, b):\n    return a - b\n';
  const mul = '\ndef mul(a, b):\n    return a * b\n';
  beforeAll(() => {
    rb = new RepoBuilder(join(root, 'acme', 'rebased'));
    r.init = rb.commit('Initial import', {
      'pyproject.toml': '[project]\nname = "calc"\n',
      'src/calc.py': calcV1,
      'tests/test_calc.py': testV1,
      'README.md': '# calc\n',
    });
    r.pr11 = rb.commit('Add subtract (#11)', {
      'src/calc.py': calcV1 + sub,
      'tests/test_calc.py': `${testV1}\ndef test_sub():\n    assert sub(3, 1) == 2\n`,
    });
    r.pr12a = rb.commit('Add multiply\n\nFixes #40\n\nPR: #12', { 'src/calc.py': calcV1 + sub + mul });
    r.pr12b = rb.commit('Test multiply\n\nPR: #12', {
      'tests/test_mul.py': 'from calc import mul\n\ndef test_mul():\n    assert mul(2, 3) == 6\n',
    });
    r.pr12c = rb.commit('Document multiply\n\nPR: #12', { 'README.md': '# calc\n\nAdds and multiplies.\n' });
    r.direct = rb.commit('Bump version', { 'pyproject.toml': '[project]\nname = "calc"\nversion = "1.1"\n' });
    // Configuration only: not a code change, whatever the language of the files.
    r.pr13 = rb.commit('Run the tests with tox (#13)', {
      'tox.ini': '[tox]\nenvlist = py312\n',
      '.pre-commit-config.yaml': 'repos: []\n',
      'noxfile.py': 'import nox\n',
    });
    // A dependency change with tests is kept: pyproject.toml is code.
    r.pr14 = rb.commit('Require numpy\n\nPR-URL: https://github.com/acme/rebased/pull/14', {
      'pyproject.toml': '[project]\nname = "calc"\nversion = "1.1"\ndependencies = ["numpy"]\n',
      'tests/test_np.py': 'import numpy\n\ndef test_np():\n    assert numpy.zeros(1)[0] == 0\n',
    });
  });

  const source = (over: Partial<GitSourceOptions> = {}) =>
    new GitPrSource({ url: rb.dir, filters: filters(), llm: true, history: 'first-parent', ...over });

  it("mines the rebase-merged PR with history 'first-parent' and does not see it with 'merges'", async () => {
    const page = await source().nextPage(undefined, 100);
    expect(page.exhausted).toBe(true);
    expect(page.candidates.map((p) => p.pullNumber)).toEqual([14, 12, 11]);
    expect(page.rejected.map((p) => [p.pullNumber, p.reason, p.commit])).toEqual([
      [13, 'NoCodeChange', undefined],
      [0, 'NoPullNumber', r.direct],
    ]);
    expect(page.rejected[0]?.detail).toBe('only config changed');
    const pr12 = page.candidates[1]!;
    // One PR over its three commits: base below the first, gold + test patch the diff over all.
    expect(pr12).toMatchObject({
      instanceId: 'acme__rebased-12',
      title: 'Add multiply',
      baseCommit: r.pr11,
      mergeCommit: r.pr12c,
      issues: [{ number: 40 }],
      createdAt: rb.time(r.pr12a!),
      mergedAt: rb.time(r.pr12c!),
      language: 'python',
    });
    expect(pr12.patch).toBe(rb.diff(r.pr11!, r.pr12c!, 'README.md', 'src'));
    expect(pr12.testPatch).toBe(rb.diff(r.pr11!, r.pr12c!, 'tests'));
    expect(page.candidates[0]).toMatchObject({ title: 'Require numpy', baseCommit: r.pr13 });
    expect(page.candidates[0]!.patch).toContain('dependencies = ["numpy"]');

    const merges = await source({ history: 'merges' }).nextPage(undefined, 100);
    expect(merges.candidates.map((p) => p.pullNumber)).toEqual([11]);
    expect(merges.rejected.map((p) => [p.pullNumber, p.reason])).toEqual([[13, 'NoCodeChange']]);
  });

  it('keeps a rebased PR on one page when it runs past the page end: pages equal one big page', async () => {
    const whole = await source().nextPage(undefined, 100);
    for (const limit of [1, 2, 3]) {
      const { pages, all } = await mineAll(source(), limit);
      expect(all.candidates, `limit ${limit}`).toEqual(whole.candidates);
      expect(all.rejected, `limit ${limit}`).toEqual(whole.rejected);
      for (const p of pages) expect(p.candidates.length + p.rejected.length).toBeLessThanOrEqual(limit);
    }
    // The page that reaches #12's newest commit takes the whole PR; the next starts below it.
    const at12 = await source().nextPage(r.direct, 1);
    expect(at12.candidates.map((p) => p.pullNumber)).toEqual([12]);
    expect(at12.cursor).toBe(r.pr12a);
  });

  it('mines only filters.pullNumbers, ends with the list and reports absent PRs as NotFound', async () => {
    const page = await source({ filters: filters({ pullNumbers: [99, 12, 11, 12] }) }).nextPage(
      undefined,
      100,
    );
    expect(page.exhausted).toBe(true);
    expect(page.candidates.map((p) => [p.pullNumber, p.baseCommit, p.mergeCommit])).toEqual([
      [11, r.init, r.pr11],
      [12, r.pr11, r.pr12c],
    ]);
    expect(page.rejected).toEqual([
      { pullNumber: 99, reason: 'NotFound', detail: 'PR #99 not found on the first-parent history of HEAD' },
    ]);
    expect(formatFunnel(addToFunnel(emptyFunnel(), { kept: 2, rejected: page.rejected }))).toBe(
      '3 discovered → 2 kept; NotFound 1',
    );
    // One listed PR per page at most; the same cursor gives the same PRs.
    const pulls = filters({ pullNumbers: [99, 12, 11] });
    const { pages } = await mineAll(source({ filters: pulls }), 1);
    expect(
      pages.map((p) => [p.candidates.map((c) => c.pullNumber), p.rejected.map((x) => x.pullNumber)]),
    ).toEqual([
      [[11], []],
      [[12], []],
      [[], [99]],
    ]);
    expect(pages.map((p) => p.exhausted)).toEqual([false, false, true]);
    expect(await source({ filters: pulls }).nextPage(pages[0]!.cursor, 1)).toEqual(pages[1]);
    await expect(source({ filters: pulls }).nextPage(r.init, 1)).rejects.toThrow(/not a selection cursor/);
    // Without 'first-parent' the rebased PR is not there.
    const merges = await source({ history: 'merges', filters: filters({ pullNumbers: [12] }) }).nextPage(
      undefined,
      100,
    );
    expect(merges.candidates).toEqual([]);
    expect(merges.rejected.map((p) => [p.pullNumber, p.reason])).toEqual([[12, 'NotFound']]);
  });

  it('mines only filters.commits: full ids or prefixes, any commit of a rebased PR standing for it', async () => {
    const commits = [r.pr12b!.slice(0, 7).toUpperCase(), r.pr11!, 'deadbeefdeadbeef', r.direct!.slice(0, 10)];
    const page = await source({ filters: filters({ commits }) }).nextPage(undefined, 100);
    expect(page.exhausted).toBe(true);
    // Pages follow the sorted list (commit ids are random): compare regardless of order.
    const byNumber = (a: { pullNumber: number }, b: { pullNumber: number }) => a.pullNumber - b.pullNumber;
    expect(page.candidates.sort(byNumber).map((p) => [p.pullNumber, p.baseCommit, p.mergeCommit])).toEqual([
      [11, r.init, r.pr11],
      [12, r.pr11, r.pr12c],
    ]);
    expect(page.rejected.map((p) => [p.pullNumber, p.reason, p.commit]).sort()).toEqual([
      [0, 'NoPullNumber', r.direct],
      [0, 'NotFound', 'deadbeefdeadbeef'],
    ]);
  });

  it("commits on a merge history: the merge's branch still gives links and the creation time", async () => {
    const page = await new GitPrSource({
      url: repo.dir,
      filters: filters({ commits: [c.pr1!.slice(0, 8), c.pr4!] }),
    }).nextPage(undefined, 100);
    expect(page.candidates).toHaveLength(1);
    expect(page.candidates[0]).toMatchObject({
      pullNumber: 1,
      baseCommit: c.init,
      mergeCommit: c.pr1,
      issues: [{ number: 10 }],
      createdAt: repo.time('pr-1~1'),
    });
    expect(page.rejected.map((p) => [p.pullNumber, p.reason])).toEqual([[4, 'NoCodeChange']]);
  });
});
