import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { GitHistoryMode, Language } from '../api/index.ts';
import { languageFromRootFiles } from '../languages/index.ts';
import { inWindow, screenChange, screenLinks, screenMetadata, toCandidate } from './candidate-filter.ts';
import { mapLimited } from './concurrency.ts';
import { splitDiff } from './diff-split.ts';
import { git, openRepository, repoSlugFromURL } from './git.ts';
import { linkedIssueNumbers } from './linked-issues.ts';
import {
  notFoundCommit,
  notFoundPull,
  type Selection,
  type SelectionPage,
  selectionOf,
  selectionPage,
} from './selection.ts';
import type { CandidatePR, MiningFilters, MiningPage, PrSource, RejectedPR } from './types.ts';

/**
 * A PR as git history records it: a GitHub merge commit, a squash commit, or (history
 * 'first-parent') a run of consecutive mainline commits naming the same PR (a rebase merge).
 */
export interface PrCommit {
  pullNumber: number;
  title: string;
  body: string;
  /** The newest commit of the PR on the mainline: its merge, squash or last rebased commit. */
  commit: string;
  /** The PR's mainline commits, newest first (one unless rebased). */
  commits: string[];
  /** Their messages, in the same order. */
  messages: string[];
  /** The parent of the oldest of `commits`: the PR's base. */
  base: string;
  /** Second parent of a merge commit (the PR head); undefined otherwise. */
  head: string | undefined;
  /** Earliest author date of `commits`. */
  authoredAt: string;
  /** Committer date of `commit`: when the PR landed. */
  committedAt: string;
}

/** One commit of `git log` output. */
export interface LogRecord {
  sha: string;
  parents: string[];
  authoredAt: string;
  committedAt: string;
  message: string;
}

const MERGE_SUBJECT = /^Merge pull request #(\d+) from \S+/;
const SQUASH_SUBJECT = /^(.*\S)\s+\(#(\d+)\)$/;
const PR_TRAILER = /^(PR|Pull-Request|PR-URL)\s*:\s*(\S.*)$/i;
const TRAILER_VALUE = /^(?:#(\d+)|(\d+)|\S*\/pulls?\/(\d+)\/?)$/;

function splitMessage(message: string): { subject: string; rest: string } {
  const [subject = '', ...restLines] = message.replace(/\s+$/, '').split('\n');
  return { subject, rest: restLines.join('\n').trim() };
}

/** Pure: the PR number a trailer of the message's last paragraph names (`PR: #N`, `Pull-Request: #N`, `PR-URL: …/pull/N`). */
export function trailerPullNumber(message: string): number | undefined {
  const paragraphs = message.trim().split(/\n\s*\n/);
  if (paragraphs.length < 2) return undefined;
  for (const line of paragraphs.at(-1)!.split('\n')) {
    const value = PR_TRAILER.exec(line.trim())?.[2]?.trim();
    const m = value === undefined ? null : TRAILER_VALUE.exec(value);
    if (m) return Number(m[1] ?? m[2] ?? m[3]);
  }
  return undefined;
}

/**
 * Pure: which commit messages are PR merges, and what they say about the PR. With history
 * 'first-parent' a non-merge commit also counts when a trailer or a "Merge pull request #N"
 * subject names its PR; a commit of either kind that names none is `undefined`.
 */
export function parsePrCommit(record: LogRecord, history: GitHistoryMode = 'merges'): PrCommit | undefined {
  const { sha: commit, parents, authoredAt, committedAt, message } = record;
  const { subject, rest } = splitMessage(message);
  const base = parents[0];
  if (base === undefined) return undefined;
  const common = { commit, commits: [commit], messages: [message], base, authoredAt, committedAt };
  const merge = MERGE_SUBJECT.exec(subject);
  if (merge && (parents.length >= 2 || history === 'first-parent')) {
    // GitHub writes "Merge pull request #N from owner/branch\n\n<PR title>".
    const [title = '', ...body] = rest.split('\n');
    return {
      ...common,
      pullNumber: Number(merge[1]),
      title: title.trim(),
      body: body.join('\n').trim(),
      head: parents.length >= 2 ? parents[1] : undefined,
    };
  }
  if (parents.length !== 1) return undefined;
  const squash = SQUASH_SUBJECT.exec(subject);
  if (squash)
    return { ...common, pullNumber: Number(squash[2]), title: squash[1]!, body: rest, head: undefined };
  const trailer = history === 'first-parent' ? trailerPullNumber(message) : undefined;
  if (trailer !== undefined)
    return { ...common, pullNumber: trailer, title: subject.trim(), body: rest, head: undefined };
  return undefined;
}

/**
 * Pure: a PR's title and body from its own commits (newest first, as walked from the head), for a
 * merge commit that carries no title line ("Merge pull request #N from …" alone: humanize#63,
 * #78): the oldest commit's subject, then every message oldest first, as a rebased PR's.
 * Merges of the base branch into the PR are no text of it.
 */
export function textOfBranch(messages: readonly string[]): { title: string; body: string } {
  const own = messages
    .filter((m) => !/^Merge (branch|remote-tracking branch|pull request) /.test(m))
    .reverse();
  if (own.length === 0) return { title: '', body: '' };
  const { subject, rest } = splitMessage(own[0]!);
  const body = [rest, ...own.slice(1).map((m) => m.trim())].filter((b) => b !== '').join('\n\n');
  return { title: subject.trim(), body };
}

/**
 * Pure: the PRs of mainline commits given newest first (consecutive, or a filtered subset).
 * 'first-parent': a non-merge commit right below a PR's oldest commit (its parent) that names the
 * same PR joins it, so a rebase merge is one PR whose base is below its oldest commit; a non-merge
 * commit that names no PR is rejected (`NoPullNumber`). 'merges': merge and squash commits only.
 */
export function prsOfHistory(
  records: readonly LogRecord[],
  history: GitHistoryMode,
): Array<PrCommit | RejectedPR> {
  const out: Array<PrCommit | RejectedPR> = [];
  for (const record of records) {
    const pr = parsePrCommit(record, history);
    const previous = out.at(-1);
    if (pr === undefined) {
      if (history === 'first-parent' && record.parents.length === 1) {
        const subject = splitMessage(record.message).subject;
        out.push({
          pullNumber: 0,
          commit: record.sha,
          reason: 'NoPullNumber',
          detail: `commit ${record.sha.slice(0, 12)} "${subject.slice(0, 80)}" names no PR`,
        });
      }
      continue;
    }
    if (
      history === 'first-parent' &&
      pr.head === undefined &&
      previous !== undefined &&
      !('reason' in previous) &&
      previous.head === undefined &&
      previous.pullNumber === pr.pullNumber &&
      previous.base === record.sha
    ) {
      // Older commit of the same PR: the group grows downwards, its title is the first commit's.
      out[out.length - 1] = {
        ...previous,
        title: pr.title,
        body: [pr.body, ...previous.messages.slice().reverse()].filter((b) => b !== '').join('\n\n'),
        commits: [...previous.commits, pr.commit],
        messages: [...previous.messages, ...pr.messages],
        base: pr.base,
        authoredAt:
          Date.parse(pr.authoredAt) < Date.parse(previous.authoredAt) ? pr.authoredAt : previous.authoredAt,
      };
      continue;
    }
    out.push(pr);
  }
  return out;
}

export interface GitSourceOptions {
  /** Clone URL or absolute local path. */
  url: string;
  /** owner/name for instance ids; derived from the URL when omitted. */
  repo?: string;
  /** Branch or ref whose first-parent history is mined (default HEAD). */
  ref?: string;
  /** Which mainline commits are PRs (default 'merges', see GitSource.history). */
  history?: GitHistoryMode;
  filters: MiningFilters;
  /** The run configures an LLM (spec.llm), so PRs without tests can get generated ones. */
  llm?: boolean;
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
const LOG_FORMAT = `--format=%H${FIELD}%P${FIELD}%aI${FIELD}%cI${FIELD}%B${RECORD}`;
/** Commits read at once when a rebased PR runs past the end of a page. */
const GROUP_CHUNK = 50;

function parseLog(out: string): LogRecord[] {
  return out
    .split(RECORD)
    .filter((r) => r.trim() !== '')
    .map((record) => {
      const [sha = '', parents = '', authoredAt = '', committedAt = '', message = ''] = record
        .replace(/^\n/, '')
        .split(FIELD);
      return { sha, parents: parents.split(' ').filter(Boolean), authoredAt, committedAt, message };
    });
}

/**
 * Mines PRs from the first-parent history of a ref, NEWEST FIRST: the first page starts at the
 * ref's tip and each next page continues below the cursor (the last commit examined), so merges
 * that land after a run started are not part of that run. The merge window stops the walk at
 * the first mainline commit committed before `mergedAfter` (mainline commit dates are treated
 * as monotonic, as `git log --since` does). Git has no issue text: linked issues carry numbers only.
 *
 * With filters.pullNumbers or filters.commits the walk is replaced by lookups of the listed
 * items (see selection.ts): `git log --grep` for PR numbers, `git rev-parse` for commit ids.
 */
export class GitPrSource implements PrSource {
  readonly repo: string;
  private readonly options: GitSourceOptions;
  private readonly history: GitHistoryMode;
  private gitDir: Promise<string> | undefined;

  constructor(options: GitSourceOptions) {
    const repo = options.repo ?? repoSlugFromURL(options.url);
    if (repo === undefined)
      throw new Error(`cannot derive owner/name from ${options.url}; set source.git.repo`);
    this.repo = repo;
    this.options = options;
    this.history = options.history ?? 'merges';
  }

  async nextPage(cursor: string | undefined, limit: number): Promise<MiningPage> {
    const gitDir = await this.open();
    const selection = selectionOf(this.options.filters);
    if (selection !== undefined) return this.selectionPage(gitDir, selection, cursor, limit);
    if (cursor !== undefined && !/^[0-9a-f]{40,64}$/.test(cursor))
      throw new Error(`not a git mining cursor: ${cursor}`);
    // --end-of-options: a ref from the spec such as "--output=/x" must stay a ref, not become an option.
    const start =
      cursor === undefined ? ['--end-of-options', this.ref()] : ['--skip=1', '--end-of-options', cursor];
    const records = parseLog(
      await git(gitDir, ['log', '--first-parent', `--max-count=${limit}`, LOG_FORMAT, ...start, '--']),
    );
    const filters = this.options.filters;
    const walked: LogRecord[] = [];
    let exhausted = records.length < limit;
    for (const record of records) {
      if (
        filters.mergedAfter !== undefined &&
        Date.parse(record.committedAt) < Date.parse(filters.mergedAfter)
      ) {
        exhausted = true;
        break;
      }
      walked.push(record);
    }
    if (!exhausted) walked.push(...(await this.restOfGroup(gitDir, walked)));
    const mainline = new Set(walked.map((r) => r.sha));
    const committedAt = new Map(walked.map((r) => [r.sha, r.committedAt]));
    const entries: Array<PrCommit | RejectedPR> = [];
    for (const entry of prsOfHistory(walked, this.history)) {
      if ('reason' in entry) {
        if (inWindow(committedAt.get(entry.commit!)!, filters)) entries.push(entry);
        continue;
      }
      // A PR number seen twice (a squash cherry-picked again) is one instance: the newest wins.
      const seen = entries.some((p) => !('reason' in p) && p.pullNumber === entry.pullNumber);
      if (inWindow(entry.committedAt, filters) && !seen) entries.push(entry);
    }
    const prs = entries.filter((e): e is PrCommit => !('reason' in e));
    const branches = await this.branchCommits(gitDir, prs, mainline);
    return {
      ...(await this.decideAll(gitDir, entries, branches)),
      cursor: walked.at(-1)?.sha ?? cursor,
      exhausted,
    };
  }

  private ref(): string {
    return this.options.ref ?? 'HEAD';
  }

  /**
   * A rebased PR whose oldest commits lie past the page's last commit: those commits, so the
   * page holds the whole PR (same cursor, same PRs) and the next page starts below it.
   */
  private async restOfGroup(gitDir: string, walked: readonly LogRecord[]): Promise<LogRecord[]> {
    const last = walked.at(-1);
    const pr =
      last === undefined || this.history !== 'first-parent' ? undefined : parsePrCommit(last, this.history);
    if (last === undefined || pr === undefined || pr.head !== undefined) return [];
    const rest: LogRecord[] = [];
    let below = last;
    for (;;) {
      const chunk = parseLog(
        await git(gitDir, [
          'log',
          '--first-parent',
          '--skip=1',
          `--max-count=${GROUP_CHUNK}`,
          LOG_FORMAT,
          '--end-of-options',
          below.sha,
          '--',
        ]),
      );
      for (const record of chunk) {
        const next = parsePrCommit(record, this.history);
        if (next === undefined || next.head !== undefined || next.pullNumber !== pr.pullNumber) return rest;
        rest.push(record);
      }
      if (chunk.length < GROUP_CHUNK) return rest;
      below = chunk.at(-1)!;
    }
  }

  /** Up to `limit` listed PR numbers or commits, each kept, rejected or reported `NotFound`. */
  private async selectionPage(
    gitDir: string,
    selection: Selection,
    cursor: string | undefined,
    limit: number,
  ): Promise<MiningPage> {
    const filters = this.options.filters;
    const where = `on the first-parent history of ${this.ref()}`;
    const entries: Array<PrCommit | RejectedPR> = [];
    const keep = (pr: PrCommit) => {
      // Outside the merge window: not part of the run, as when walking.
      const seen = entries.some((p) => !('reason' in p) && p.pullNumber === pr.pullNumber);
      if (inWindow(pr.committedAt, filters) && !seen) entries.push(pr);
    };
    let page: SelectionPage<number | string>;
    if (selection.kind === 'pullNumbers') {
      page = selectionPage(selection.items, cursor, limit);
      const found = await this.findPulls(gitDir, page.items as number[]);
      for (const n of page.items as number[]) {
        const pr = found.get(n);
        if (pr === undefined) entries.push(notFoundPull(n, where));
        else keep(pr);
      }
    } else {
      page = selectionPage(selection.items, cursor, limit);
      for (const found of await this.findCommits(gitDir, page.items as string[])) {
        if ('reason' in found) entries.push(found);
        else keep(found);
      }
    }
    const prs = entries.filter((e): e is PrCommit => !('reason' in e));
    const branches = new Map<string, BranchCommits>();
    // Each merge on its own: the PRs of a selection are not one stretch of mainline.
    const perMerge = await mapLimited(
      prs.filter((p) => p.head !== undefined),
      this.options.concurrency ?? 8,
      (pr) => this.branchCommits(gitDir, [pr], new Set()),
    );
    for (const m of perMerge) for (const [k, v] of m) branches.set(k, v);
    return {
      ...(await this.decideAll(gitDir, entries, branches)),
      cursor: page.cursor,
      exhausted: page.exhausted,
    };
  }

  /**
   * The newest PR of each number on the mainline. `git log --grep` finds the commits that may
   * name one (a loose pattern, matched in git), the pure parser decides which really do.
   */
  private async findPulls(gitDir: string, numbers: readonly number[]): Promise<Map<number, PrCommit>> {
    const found = new Map<number, PrCommit>();
    if (numbers.length === 0) return found;
    const alternatives = numbers.join('|');
    const records = parseLog(
      await git(gitDir, [
        'log',
        '--first-parent',
        '--extended-regexp',
        `--grep=#(${alternatives})([^0-9]|$)`,
        `--grep=/pulls?/(${alternatives})([^0-9/]|/?$)`,
        `--grep=^(PR|Pull-Request)[[:space:]]*:[[:space:]]*(${alternatives})[[:space:]]*$`,
        '--regexp-ignore-case',
        LOG_FORMAT,
        '--end-of-options',
        this.ref(),
        '--',
      ]),
    );
    const wanted = new Set(numbers);
    for (const entry of prsOfHistory(records, this.history)) {
      if ('reason' in entry || !wanted.has(entry.pullNumber) || found.has(entry.pullNumber)) continue;
      found.set(entry.pullNumber, entry);
    }
    return found;
  }

  /** The PR of each listed commit id (a prefix must name one commit). */
  private async findCommits(
    gitDir: string,
    listed: readonly string[],
  ): Promise<Array<PrCommit | RejectedPR>> {
    const resolved = await mapLimited(listed, this.options.concurrency ?? 8, async (id) => {
      try {
        return (
          await git(gitDir, ['rev-parse', '--verify', '--quiet', '--end-of-options', `${id}^{commit}`])
        ).trim();
      } catch {
        // Unknown, ambiguous or not a commit: --quiet leaves the message out; the reject says which id.
        return undefined;
      }
    });
    const shas = resolved.filter((s): s is string => s !== undefined);
    const records = new Map(
      (shas.length === 0
        ? []
        : parseLog(await git(gitDir, ['log', '--no-walk=unsorted', LOG_FORMAT, ...shas, '--']))
      ).map((r) => [r.sha, r]),
    );
    return mapLimited([...listed.keys()], this.options.concurrency ?? 8, async (i) => {
      const id = listed[i]!;
      const sha = resolved[i];
      const record = sha === undefined ? undefined : records.get(sha);
      if (record === undefined) return notFoundCommit(id, 'in the repository (or the prefix is ambiguous)');
      const pr = parsePrCommit(record, this.history);
      if (pr === undefined) {
        return {
          pullNumber: 0,
          commit: record.sha,
          reason: 'NoPullNumber' as const,
          detail: `commit ${id} is not a ${this.history === 'merges' ? 'merge or squash commit of a PR' : 'commit naming a PR'}`,
        };
      }
      if (this.history !== 'first-parent' || pr.head !== undefined) return pr;
      // A commit of a rebase merge stands for its whole PR: the run of commits it belongs to.
      const group = (await this.findPulls(gitDir, [pr.pullNumber])).get(pr.pullNumber);
      return group?.commits.includes(record.sha) ? group : pr;
    });
  }

  /** Decides the PRs among `entries`; rejects and decisions stay in the order of `entries`. */
  private async decideAll(
    gitDir: string,
    entries: ReadonlyArray<PrCommit | RejectedPR>,
    branches: ReadonlyMap<string, BranchCommits>,
  ): Promise<{ candidates: CandidatePR[]; rejected: RejectedPR[] }> {
    const prs = entries.filter((e): e is PrCommit => !('reason' in e));
    const diffs = await this.diffs(gitDir, prs);
    const decisions = await mapLimited(prs, this.options.concurrency ?? 8, (pr) =>
      this.decide(gitDir, pr, diffs.get(pr.commit) ?? '', branches.get(pr.commit)),
    );
    const candidates: CandidatePR[] = [];
    const rejected: RejectedPR[] = [];
    let next = 0;
    for (const e of entries) {
      const d = 'reason' in e ? e : decisions[next++]!;
      if ('reason' in d) rejected.push(d);
      else candidates.push(d);
    }
    return { candidates, rejected };
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

  /**
   * Every PR's diff against its base: the single-commit ones (merges against their first parent,
   * squashes against their parent) in one git process, rebased PRs of several commits each with
   * `git diff base newest`.
   */
  private async diffs(gitDir: string, prs: readonly PrCommit[]): Promise<Map<string, string>> {
    const byCommit = new Map<string, string>();
    // Binary changes (test fixtures, images) as applicable patches rather than "Binary files differ".
    const diffOptions = ['-M', '--binary', '--no-color', '--no-ext-diff', '--no-textconv'];
    const single = prs.filter((p) => p.commits.length === 1);
    if (single.length > 0) {
      const out = await git(gitDir, [
        'log',
        '--no-walk=unsorted',
        '--diff-merges=first-parent',
        '-p',
        ...diffOptions,
        `--format=${RECORD}%H`,
        ...single.map((p) => p.commit),
        '--',
      ]);
      for (const chunk of out.split(RECORD)) {
        const newline = chunk.indexOf('\n');
        if (newline === -1) continue;
        const at = chunk.indexOf('diff --git ', newline);
        byCommit.set(chunk.slice(0, newline), at === -1 ? '' : chunk.slice(at));
      }
    }
    const groups = prs.filter((p) => p.commits.length > 1);
    const groupDiffs = await mapLimited(groups, this.options.concurrency ?? 8, (p) =>
      git(gitDir, ['diff', ...diffOptions, p.base, p.commit, '--']),
    );
    for (const [i, p] of groups.entries()) byCommit.set(p.commit, groupDiffs[i]!);
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
    const changeReject = screenChange(pr.pullNumber, split, language, filters, this.options.llm ?? false);
    if (changeReject) return changeReject;
    // A merge commit's own message says little; the PR's commits carry the "Fixes #N" and the
    // PR's start time. Squash and rebased commits already contain both.
    const texts = [pr.title, pr.body, ...(branch?.messages ?? pr.messages)];
    const issueNumbers = linkedIssueNumbers(this.repo, pr.pullNumber, texts);
    const linkReject = screenLinks(pr.pullNumber, issueNumbers, filters);
    if (linkReject) return linkReject;
    const text =
      pr.title === '' && branch ? textOfBranch(branch.messages) : { title: pr.title, body: pr.body };
    return toCandidate({
      repo: this.repo,
      cloneURL: this.options.url,
      pullNumber: pr.pullNumber,
      title: text.title,
      body: text.body,
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
