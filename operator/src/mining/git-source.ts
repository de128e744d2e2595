import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Language } from '../api/index.ts';
import { languageFromRootFiles } from '../languages/index.ts';
import { inWindow, screenChange, screenLinks, screenMetadata, toCandidate } from './candidate-filter.ts';
import { mapLimited } from './concurrency.ts';
import { splitDiff } from './diff-split.ts';
import { git, openRepository, repoSlugFromURL } from './git.ts';
import { linkedIssueNumbers } from './linked-issues.ts';
import type { CandidatePR, MiningFilters, MiningPage, PrSource, RejectedPR } from './types.ts';

/** A PR as git history records it: a GitHub merge commit or a squash commit. */
export interface PrCommit {
  pullNumber: number;
  title: string;
  body: string;
  commit: string;
  /** The first parent: the PR's base. */
  base: string;
  /** Second parent of a merge commit (the PR head); undefined for squash merges. */
  head: string | undefined;
  authoredAt: string;
  committedAt: string;
  message: string;
}

const MERGE_SUBJECT = /^Merge pull request #(\d+) from \S+/;
const SQUASH_SUBJECT = /^(.*\S)\s+\(#(\d+)\)$/;

/** Pure: which commit messages are PR merges, and what they say about the PR. */
export function parsePrCommit(
  commit: string,
  parents: readonly string[],
  authoredAt: string,
  committedAt: string,
  message: string,
): PrCommit | undefined {
  const [subject = '', ...restLines] = message.replace(/\s+$/, '').split('\n');
  const rest = restLines.join('\n').trim();
  const base = parents[0];
  if (base === undefined) return undefined;
  const common = { commit, base, authoredAt, committedAt, message };
  const merge = parents.length >= 2 ? MERGE_SUBJECT.exec(subject) : null;
  if (merge) {
    // GitHub writes "Merge pull request #N from owner/branch\n\n<PR title>".
    const [title = '', ...body] = rest.split('\n');
    return {
      ...common,
      pullNumber: Number(merge[1]),
      title: title.trim(),
      body: body.join('\n').trim(),
      head: parents[1],
    };
  }
  const squash = parents.length === 1 ? SQUASH_SUBJECT.exec(subject) : null;
  if (squash)
    return { ...common, pullNumber: Number(squash[2]), title: squash[1]!, body: rest, head: undefined };
  return undefined;
}

export interface GitSourceOptions {
  /** Clone URL or absolute local path. */
  url: string;
  /** owner/name for instance ids; derived from the URL when omitted. */
  repo?: string;
  /** Branch or ref whose first-parent history is mined (default HEAD). */
  ref?: string;
  filters: MiningFilters;
  /** Where bare clones of URLs are kept between pages and restarts. */
  cacheDir?: string;
  /** git processes run at once for per-PR lookups. */
  concurrency?: number;
}

interface BranchCommits {
  messages: string[];
  firstAuthoredAt: string | undefined;
}

const RECORD = '\x1e';
const FIELD = '\x1f';

/**
 * Mines PRs from the first-parent history of a ref, NEWEST FIRST: the first page starts at the
 * ref's tip and each next page continues below the cursor (the last commit examined), so merges
 * that land after a run started are not part of that run. The merge window stops the walk at
 * the first mainline commit committed before `mergedAfter` (mainline commit dates are treated
 * as monotonic, as `git log --since` does). Git has no issue text: linked issues carry numbers only.
 */
export class GitPrSource implements PrSource {
  readonly repo: string;
  private readonly options: GitSourceOptions;
  private gitDir: Promise<string> | undefined;

  constructor(options: GitSourceOptions) {
    const repo = options.repo ?? repoSlugFromURL(options.url);
    if (repo === undefined)
      throw new Error(`cannot derive owner/name from ${options.url}; set source.git.repo`);
    this.repo = repo;
    this.options = options;
  }

  async nextPage(cursor: string | undefined, limit: number): Promise<MiningPage> {
    const gitDir = await this.open();
    if (cursor !== undefined && !/^[0-9a-f]{40,64}$/.test(cursor))
      throw new Error(`not a git mining cursor: ${cursor}`);
    // --end-of-options: a ref from the spec such as "--output=/x" must stay a ref, not become an option.
    const start =
      cursor === undefined
        ? ['--end-of-options', this.options.ref ?? 'HEAD']
        : ['--skip=1', '--end-of-options', cursor];
    const log = await git(gitDir, [
      'log',
      '--first-parent',
      `--max-count=${limit}`,
      `--format=%H${FIELD}%P${FIELD}%aI${FIELD}%cI${FIELD}%B${RECORD}`,
      ...start,
      '--',
    ]);
    const commits = log.split(RECORD).filter((r) => r.trim() !== '');
    const filters = this.options.filters;
    const prs: PrCommit[] = [];
    const mainline = new Set<string>();
    let last = cursor;
    let exhausted = commits.length < limit;
    for (const record of commits) {
      const [sha = '', parents = '', authoredAt = '', committedAt = '', message = ''] = record
        .replace(/^\n/, '')
        .split(FIELD);
      if (filters.mergedAfter !== undefined && Date.parse(committedAt) < Date.parse(filters.mergedAfter)) {
        exhausted = true;
        break;
      }
      last = sha;
      mainline.add(sha);
      const pr = parsePrCommit(sha, parents.split(' ').filter(Boolean), authoredAt, committedAt, message);
      // A PR number seen twice (a squash cherry-picked again) is one instance: the newest wins.
      if (
        pr !== undefined &&
        inWindow(committedAt, filters) &&
        !prs.some((p) => p.pullNumber === pr.pullNumber)
      ) {
        prs.push(pr);
      }
    }
    const [diffs, branches] = await Promise.all([
      this.diffs(gitDir, prs),
      this.branchCommits(gitDir, prs, mainline),
    ]);
    const decisions = await mapLimited(prs, this.options.concurrency ?? 8, (pr) =>
      this.decide(gitDir, pr, diffs.get(pr.commit) ?? '', branches.get(pr.commit)),
    );
    const candidates: CandidatePR[] = [];
    const rejected: RejectedPR[] = [];
    for (const d of decisions) {
      if ('reason' in d) rejected.push(d);
      else candidates.push(d);
    }
    return { candidates, rejected, cursor: last, exhausted };
  }

  private open(): Promise<string> {
    // A failed clone is not remembered: the next page tries again.
    this.gitDir ??= openRepository(
      this.options.url,
      this.options.cacheDir ?? join(tmpdir(), 'scaleswe-git-cache'),
    ).catch((err: unknown) => {
      this.gitDir = undefined;
      throw err;
    });
    return this.gitDir;
  }

  /** All PR diffs of a page in one git process: each commit against its first parent. */
  private async diffs(gitDir: string, prs: readonly PrCommit[]): Promise<Map<string, string>> {
    const byCommit = new Map<string, string>();
    if (prs.length === 0) return byCommit;
    const out = await git(gitDir, [
      'log',
      '--no-walk=unsorted',
      '--diff-merges=first-parent',
      '-p',
      '-M',
      // Binary changes (test fixtures, images) as applicable patches rather than "Binary files differ".
      '--binary',
      '--no-color',
      '--no-ext-diff',
      '--no-textconv',
      `--format=${RECORD}%H`,
      ...prs.map((p) => p.commit),
      '--',
    ]);
    for (const chunk of out.split(RECORD)) {
      const newline = chunk.indexOf('\n');
      if (newline === -1) continue;
      const at = chunk.indexOf('diff --git ', newline);
      byCommit.set(chunk.slice(0, newline), at === -1 ? '' : chunk.slice(at));
    }
    return byCommit;
  }

  private async decide(
    gitDir: string,
    pr: PrCommit,
    diff: string,
    branch: BranchCommits | undefined,
  ): Promise<CandidatePR | RejectedPR> {
    const filters = this.options.filters;
    const metadataReject = screenMetadata(
      { pullNumber: pr.pullNumber, merged: true, labels: undefined },
      filters,
    );
    if (metadataReject) return metadataReject;
    const split = splitDiff(diff);
    const language = split.language ?? (await this.rootLanguage(gitDir, pr.base));
    const changeReject = screenChange(pr.pullNumber, split, language, filters);
    if (changeReject) return changeReject;
    // A merge commit's own message says little; the PR's commits carry the "Fixes #N" and the
    // PR's start time. A squash commit already contains both.
    const texts = [pr.title, pr.body, ...(branch?.messages ?? [pr.message])];
    const issueNumbers = linkedIssueNumbers(this.repo, pr.pullNumber, texts);
    const linkReject = screenLinks(pr.pullNumber, issueNumbers, filters);
    if (linkReject) return linkReject;
    return toCandidate({
      repo: this.repo,
      cloneURL: this.options.url,
      pullNumber: pr.pullNumber,
      title: pr.title,
      body: pr.body,
      baseCommit: pr.base,
      mergeCommit: pr.commit,
      createdAt: branch?.firstAuthoredAt ?? pr.authoredAt,
      mergedAt: pr.committedAt,
      language: language as Language,
      split,
      issues: issueNumbers.map((number) => ({ number })),
    });
  }

  /**
   * The commits of every merged branch of a page, in one git process: everything reachable from
   * the heads but not from the page's oldest base, then per PR a walk from its head that stops
   * at mainline commits (the PR's base and older merges) — i.e. `base..head` for each PR.
   */
  private async branchCommits(
    gitDir: string,
    prs: readonly PrCommit[],
    mainline: ReadonlySet<string>,
  ): Promise<Map<string, BranchCommits>> {
    const byPr = new Map<string, BranchCommits>();
    const merges = prs.filter((p) => p.head !== undefined);
    const oldestBase = prs.at(-1)?.base;
    if (merges.length === 0 || oldestBase === undefined) return byPr;
    const out = await git(gitDir, [
      'log',
      `--format=%H${FIELD}%P${FIELD}%aI${FIELD}%B${RECORD}`,
      ...merges.map((p) => p.head!),
      '--not',
      oldestBase,
      '--',
    ]);
    const commits = new Map<string, { parents: string[]; authoredAt: string; message: string }>();
    for (const record of out.split(RECORD)) {
      if (record.trim() === '') continue;
      const [sha = '', parents = '', authoredAt = '', message = ''] = record.replace(/^\n/, '').split(FIELD);
      commits.set(sha, { parents: parents.split(' ').filter(Boolean), authoredAt, message });
    }
    for (const pr of merges) {
      const messages: string[] = [];
      let first: string | undefined;
      const seen = new Set<string>();
      const stack = [pr.head!];
      while (stack.length > 0) {
        const sha = stack.pop()!;
        const c = commits.get(sha);
        if (c === undefined || seen.has(sha) || mainline.has(sha) || sha === pr.base) continue;
        seen.add(sha);
        messages.push(c.message);
        if (first === undefined || Date.parse(c.authoredAt) < Date.parse(first)) first = c.authoredAt;
        stack.push(...c.parents);
      }
      byPr.set(pr.commit, { messages, firstAuthoredAt: first });
    }
    return byPr;
  }

  private async rootLanguage(gitDir: string, commit: string): Promise<Language | undefined> {
    const files = await git(gitDir, ['ls-tree', '--name-only', commit]);
    return languageFromRootFiles(files.split('\n').filter(Boolean));
  }
}
