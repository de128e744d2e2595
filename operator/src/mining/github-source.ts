import type { Language } from '../api/index.ts';
import { languageOfLinguist } from '../languages/index.ts';
import { inWindow, screenChange, screenLinks, screenMetadata, toCandidate } from './candidate-filter.ts';
import { mapLimited } from './concurrency.ts';
import { changeShape, type SplitDiff, splitDiff } from './diff-split.ts';
import { MemoryEtagCache } from './etag-cache.ts';
import {
  createGitHubClient,
  type GitHubClient,
  type GitHubClientOptions,
  type GitHubClientStats,
} from './github-client.ts';
import { fetchContext, type IssueText, type RepoContext } from './github-graphql.ts';
import { hintsBefore, linkedIssueNumbers } from './linked-issues.ts';
import { commitMatches, notFoundCommit, notFoundPull, selectionOf, selectionPage } from './selection.ts';
import type {
  CandidatePR,
  LinkedIssueInput,
  MiningFilters,
  MiningPage,
  PrSource,
  RejectedPR,
} from './types.ts';

/** The fields of a pulls.list item we read. */
interface PullItem {
  number: number;
  title: string;
  body: string | null;
  created_at: string;
  updated_at: string;
  merged_at: string | null;
  merge_commit_sha: string | null;
  labels: Array<{ name?: string } | string>;
  base: { sha: string; repo?: { clone_url?: string } | null };
}

/**
 * Where mining stands in the `state=closed&sort=updated&direction=desc` listing: the page the
 * last examined PR was on, and that PR's `updated_at` with the PRs already examined at exactly
 * that instant. Resuming re-reads that page (a free 304 when unchanged) and skips everything
 * at or above the boundary, so PRs that slide down a page when others are updated are neither
 * repeated nor skipped. A PR updated after it was passed moves above the boundary and is not
 * revisited by this run.
 */
export interface GitHubCursor {
  page: number;
  updatedAt: string | undefined;
  seen: number[];
  /** With filters.commits: the listed commits already matched by a PR's merge_commit_sha. */
  matched?: string[];
}

const CURSOR_PREFIX = 'gh1.';

export function encodeGitHubCursor(c: GitHubCursor): string {
  return CURSOR_PREFIX + Buffer.from(JSON.stringify(c)).toString('base64url');
}

export function decodeGitHubCursor(cursor: string | undefined): GitHubCursor {
  if (cursor === undefined || cursor === '') return { page: 1, updatedAt: undefined, seen: [] };
  if (!cursor.startsWith(CURSOR_PREFIX))
    throw new Error(`not a GitHub mining cursor: ${cursor.slice(0, 40)}`);
  const c = JSON.parse(Buffer.from(cursor.slice(CURSOR_PREFIX.length), 'base64url').toString('utf8'));
  return {
    page: Number(c.page) || 1,
    updatedAt: c.updatedAt ?? undefined,
    seen: Array.isArray(c.seen) ? c.seen : [],
    ...(Array.isArray(c.matched) && { matched: c.matched.map(String) }),
  };
}

/** Pure: is this listing item below the cursor's boundary (not yet examined)? */
export function isBelow(item: Pick<PullItem, 'number' | 'updated_at'>, c: GitHubCursor): boolean {
  if (c.updatedAt === undefined) return true;
  const t = Date.parse(item.updated_at);
  const boundary = Date.parse(c.updatedAt);
  return t < boundary || (t === boundary && !c.seen.includes(item.number));
}

function advance(c: GitHubCursor, item: PullItem): GitHubCursor {
  if (c.updatedAt !== undefined && Date.parse(item.updated_at) === Date.parse(c.updatedAt)) {
    return { ...c, seen: [...c.seen, item.number] };
  }
  return {
    page: c.page,
    updatedAt: item.updated_at,
    seen: [item.number],
    ...(c.matched !== undefined && { matched: c.matched }),
  };
}

export interface GitHubSourceOptions extends GitHubClientOptions {
  /** owner/name */
  repo: string;
  filters: MiningFilters;
  /** Listing page size (GitHub's maximum, 100, by default: fewest requests). */
  perPage?: number;
  /** PRs fetched at once; the throttling plugin still caps concurrent requests. */
  concurrency?: number;
  /** The run configures an LLM (spec.llm), so PRs without tests can get generated ones. */
  llm?: boolean;
  /**
   * Fetch commits, issues and comments of many PRs per GraphQL request (default: when a token is
   * set; GitHub's GraphQL API needs one). Without it, REST requests are made per PR, lazily.
   */
  graphql?: boolean;
}

/**
 * Mines merged PRs of a GitHub repository, most recently updated first (a PR's merge updates it,
 * so the merge window ends the walk: once `updated_at` < mergedAfter, nothing older can have
 * been merged inside the window).
 *
 * Requests: listing, one per `perPage` PRs (plus a free 304 re-read when a call resumes); the
 * diff, one per examined merged PR; then for the PRs the diff did not reject, with a token, one
 * GraphQL request per 25 PRs for commits, closing references, issue text and comments (a second
 * when commit messages name issues the first did not fetch). Without a token (or when GraphQL
 * fails) REST, only where it can matter: the PR's commits (a link is required but title and body
 * name none, or an issue has comments and hints need the first commit's time), each linked issue,
 * its comments. The repository itself once, when a diff names no language.
 * bench/mining-github.ts measures it: about 1.4 requests per kept PR with a token, 2.2 without.
 */
export class GitHubPrSource implements PrSource {
  readonly repo: string;
  private readonly owner: string;
  private readonly name: string;
  private readonly options: GitHubSourceOptions;
  private readonly octokit: GitHubClient;
  readonly stats: GitHubClientStats;
  private language: Promise<Language | undefined> | undefined;

  constructor(options: GitHubSourceOptions) {
    const [owner, name] = options.repo.split('/');
    if (!owner || !name) throw new Error(`repo must be owner/name, got ${options.repo}`);
    this.repo = options.repo;
    this.owner = owner;
    this.name = name;
    this.options = options;
    // Without a cache of the caller's, one in memory still makes the re-read of a resumed page free.
    const { octokit, stats } = createGitHubClient({
      ...options,
      etagCache: options.etagCache ?? new MemoryEtagCache(1000),
    });
    this.octokit = octokit;
    this.stats = stats;
  }

  async nextPage(cursor: string | undefined, limit: number): Promise<MiningPage> {
    const filters = this.options.filters;
    const selection = selectionOf(filters);
    if (selection?.kind === 'pullNumbers') return this.pullNumbersPage(selection.items, cursor, limit);
    // filters.commits: GitHub has no lookup of a PR by (a prefix of) its merge commit, so the
    // listing is walked as usual and only matching PRs are examined, until every commit matched.
    const commits = selection?.kind === 'commits' ? selection.items : undefined;
    let position = decodeGitHubCursor(cursor);
    if (commits !== undefined) position.matched ??= [];
    const chosen: PullItem[] = [];
    let examined = 0;
    let exhausted = false;
    for (;;) {
      const { items, hasNext } = await this.listPage(position.page);
      let stopped = false;
      for (const item of items.filter((i) => isBelow(i, position))) {
        if (examined >= limit) {
          stopped = true;
          break;
        }
        if (
          filters.mergedAfter !== undefined &&
          Date.parse(item.updated_at) < Date.parse(filters.mergedAfter)
        ) {
          exhausted = true;
          stopped = true;
          break;
        }
        position = advance(position, item);
        // Merged outside the window: not part of this run, not counted in its funnel.
        if (item.merged_at !== null && !inWindow(item.merged_at, filters)) continue;
        if (commits !== undefined) {
          // GitHub fills merge_commit_sha for unmerged PRs too (a test merge): merged ones only.
          const sha = item.merged_at === null ? null : item.merge_commit_sha;
          const hits = commits.filter(
            (c) => sha !== null && !position.matched!.includes(c) && commitMatches(c, sha),
          );
          if (hits.length === 0) continue;
          position = { ...position, matched: [...position.matched!, ...hits] };
        }
        chosen.push(item);
        examined++;
        if (commits !== undefined && position.matched!.length === commits.length) {
          exhausted = true;
          stopped = true;
          break;
        }
      }
      if (stopped) break;
      if (!hasNext) {
        exhausted = true;
        break;
      }
      // The next call re-reads this page (a free 304) before moving on, see GitHubCursor.
      if (examined >= limit) break;
      position = { ...position, page: position.page + 1 };
    }
    const notFound =
      exhausted && commits !== undefined
        ? commits
            .filter((c) => !position.matched!.includes(c))
            .map((c) => notFoundCommit(c, `as the merge commit of a PR of ${this.repo} merged in the window`))
        : [];
    const page = await this.decidePage(chosen, notFound);
    return { ...page, cursor: encodeGitHubCursor(position), exhausted };
  }

  /** filters.pullNumbers: each listed PR fetched by number, no listing walked. */
  private async pullNumbersPage(
    numbers: readonly number[],
    cursor: string | undefined,
    limit: number,
  ): Promise<MiningPage> {
    const page = selectionPage(numbers, cursor, limit);
    const items = await mapLimited(page.items, this.options.concurrency ?? 4, (n) => this.pull(n));
    const chosen: PullItem[] = [];
    const notFound: RejectedPR[] = [];
    page.items.forEach((n, i) => {
      const item = items[i];
      if (item === undefined) notFound.push(notFoundPull(n, `in ${this.repo}`));
      // Merged outside the window: not part of this run, as when walking the listing.
      else if (item.merged_at === null || inWindow(item.merged_at, this.options.filters)) chosen.push(item);
    });
    const { candidates, rejected } = await this.decidePage(chosen, notFound);
    // In the order of the (sorted) list, as the candidates.
    rejected.sort((a, b) => a.pullNumber - b.pullNumber);
    return { candidates, rejected, cursor: page.cursor, exhausted: page.exhausted };
  }

  private async decidePage(
    chosen: readonly PullItem[],
    rejects: readonly RejectedPR[],
  ): Promise<Pick<MiningPage, 'candidates' | 'rejected'>> {
    const decisions = await this.decideAll(chosen);
    const candidates: CandidatePR[] = [];
    const rejected: RejectedPR[] = [];
    for (const d of decisions) {
      if ('reason' in d) rejected.push(d);
      else candidates.push(d);
    }
    return { candidates, rejected: [...rejected, ...rejects] };
  }

  /** One PR by number; undefined when the repository has none (or it is an issue). */
  private async pull(pullNumber: number): Promise<PullItem | undefined> {
    try {
      const { data } = await this.octokit.rest.pulls.get({
        owner: this.owner,
        repo: this.name,
        pull_number: pullNumber,
      });
      return data as unknown as PullItem;
    } catch (error) {
      if ((error as { status?: number }).status === 404) return undefined;
      throw error;
    }
  }

  private async listPage(page: number): Promise<{ items: PullItem[]; hasNext: boolean }> {
    const response = await this.octokit.rest.pulls.list({
      owner: this.owner,
      repo: this.name,
      state: 'closed',
      sort: 'updated',
      direction: 'desc',
      per_page: this.options.perPage ?? 100,
      page,
    });
    return {
      items: response.data as unknown as PullItem[],
      hasNext: /<[^>]*>;\s*rel="next"/.test(response.headers.link ?? ''),
    };
  }

  /**
   * Decides a batch of listed PRs: each diff screened on its own, then what the survivors need
   * (commits, issue text, comments) in one GraphQL request per CONTEXT_BATCH PRs when a token
   * allows GraphQL, then per PR whatever is still missing over REST.
   */
  private async decideAll(items: readonly PullItem[]): Promise<Array<CandidatePR | RejectedPR>> {
    const concurrency = this.options.concurrency ?? 4;
    const screened = await mapLimited(items, concurrency, (item) => this.screen(item));
    const survivors = screened.filter((s): s is Survivor => !('reason' in s));
    const context = await this.prefetchContext(survivors);
    return mapLimited(screened, concurrency, (s) =>
      'reason' in s ? Promise.resolve(s) : this.finish(s, context),
    );
  }

  /** Everything that needs at most the diff. */
  private async screen(item: PullItem): Promise<Survivor | RejectedPR> {
    const filters = this.options.filters;
    const pullNumber = item.number;
    const labels = item.labels.map((l) => (typeof l === 'string' ? l : (l.name ?? '')));
    const metadataReject = screenMetadata({ pullNumber, merged: item.merged_at !== null, labels }, filters);
    if (metadataReject) return metadataReject;
    const diff = await this.diff(pullNumber);
    if (diff === undefined) {
      return { pullNumber, reason: 'TooManyLines', detail: 'GitHub declines to render the diff: too large' };
    }
    const split = splitDiff(diff);
    const language =
      split.language ?? (changeShape(split.files) === 'code' ? await this.repoLanguage() : undefined);
    const changeReject = screenChange(pullNumber, split, language, filters, this.options.llm ?? false);
    if (changeReject) return changeReject;
    return { item, split, language: language as Language };
  }

  private async prefetchContext(survivors: readonly Survivor[]): Promise<RepoContext | undefined> {
    if (!(this.options.graphql ?? hasToken(this.options)) || survivors.length === 0) return undefined;
    const merged: RepoContext = { pulls: new Map(), issues: new Map() };
    for (let i = 0; i < survivors.length; i += CONTEXT_BATCH) {
      const batch = survivors.slice(i, i + CONTEXT_BATCH);
      const issueNumbers = [
        ...new Set(
          batch.flatMap((s) =>
            linkedIssueNumbers(this.repo, s.item.number, [s.item.title, s.item.body ?? '']),
          ),
        ),
      ];
      const context = await fetchContext(
        this.octokit,
        this.owner,
        this.name,
        batch.map((s) => s.item.number),
        issueNumbers,
      );
      if (context === undefined) return undefined;
      // Issues named only in commit messages: known after the first request, fetched in a second.
      const late = batch.flatMap((s) =>
        linkedIssueNumbers(this.repo, s.item.number, context.pulls.get(s.item.number)?.commitMessages ?? []),
      );
      const missing = [...new Set(late)].filter((n) => !context.issues.has(n));
      const more =
        missing.length > 0 ? await fetchContext(this.octokit, this.owner, this.name, [], missing) : undefined;
      for (const [k, v] of context.pulls) merged.pulls.set(k, v);
      for (const [k, v] of [...context.issues, ...(more?.issues ?? [])]) merged.issues.set(k, v);
    }
    return merged;
  }

  /** Links, issue text and hints; REST for whatever the prefetched context lacks. */
  private async finish(s: Survivor, context: RepoContext | undefined): Promise<CandidatePR | RejectedPR> {
    const filters = this.options.filters;
    const { item, split, language } = s;
    const pullNumber = item.number;
    const title = item.title;
    const body = item.body ?? '';
    const prContext = context?.pulls.get(pullNumber);
    let commits: Commits | undefined = prContext
      ? { messages: prContext.commitMessages, firstAuthoredAt: prContext.firstCommitAt }
      : undefined;
    let issueNumbers = linkedIssueNumbers(this.repo, pullNumber, [title, body, ...(commits?.messages ?? [])]);
    for (const n of prContext?.closingIssues ?? []) if (!issueNumbers.includes(n)) issueNumbers.push(n);
    if (issueNumbers.length === 0 && filters.requireLinkedIssue && commits === undefined) {
      // Over REST, commits cost a request: read them only when they can change the decision.
      commits = await this.commits(pullNumber);
      issueNumbers = linkedIssueNumbers(this.repo, pullNumber, [title, body, ...commits.messages]);
    }
    const linkReject = screenLinks(pullNumber, issueNumbers, filters);
    if (linkReject) return linkReject;

    const issues: LinkedIssueInput[] = [];
    for (const number of issueNumbers) {
      const known = context?.issues.get(number);
      const issue = known === undefined ? await this.issue(number) : known;
      if (issue === null || issue === undefined) continue;
      let hints: string[] = [];
      if (issue.commentCount > 0) {
        commits ??= await this.commits(pullNumber);
        const comments = issue.comments ?? (await this.comments(number));
        hints = hintsBefore(comments, commits.firstAuthoredAt);
      }
      issues.push({ number, title: issue.title, body: issue.body, hints });
    }
    // "Fixes #N" where #N turns out to be a pull request or does not exist links no issue.
    const resolvedReject = screenLinks(
      pullNumber,
      issues.map((i) => i.number),
      filters,
    );
    if (resolvedReject) return { ...resolvedReject, detail: `#${issueNumbers.join(', #')} is not an issue` };
    return toCandidate({
      repo: this.repo,
      cloneURL: item.base.repo?.clone_url ?? this.defaultCloneURL(),
      pullNumber,
      title,
      body,
      baseCommit: item.base.sha,
      mergeCommit: item.merge_commit_sha ?? undefined,
      createdAt: item.created_at,
      mergedAt: item.merged_at!,
      language,
      split,
      issues,
    });
  }

  /** The PR diff; undefined when GitHub refuses to render it (406: diff too large). */
  private async diff(pullNumber: number): Promise<string | undefined> {
    try {
      const response = await this.octokit.rest.pulls.get({
        owner: this.owner,
        repo: this.name,
        pull_number: pullNumber,
        mediaType: { format: 'diff' },
      });
      return response.data as unknown as string;
    } catch (error) {
      if ((error as { status?: number }).status === 406) return undefined;
      throw error;
    }
  }

  private async commits(pullNumber: number): Promise<Commits> {
    const commits = await this.octokit.paginate(this.octokit.rest.pulls.listCommits, {
      owner: this.owner,
      repo: this.name,
      pull_number: pullNumber,
      per_page: 100,
    });
    const dates = commits
      .map((c) => c.commit.author?.date ?? c.commit.committer?.date)
      .filter((d): d is string => d !== undefined)
      .sort((a, b) => Date.parse(a) - Date.parse(b));
    return { messages: commits.map((c) => c.commit.message), firstAuthoredAt: dates[0] };
  }

  /** The issue, or undefined when it does not exist or is itself a pull request. */
  private async issue(number: number): Promise<IssueText | undefined> {
    try {
      const { data } = await this.octokit.rest.issues.get({
        owner: this.owner,
        repo: this.name,
        issue_number: number,
      });
      if (data.pull_request) return undefined;
      return { title: data.title, body: data.body ?? '', commentCount: data.comments, comments: undefined };
    } catch (error) {
      const status = (error as { status?: number }).status;
      if (status === 404 || status === 410) return undefined;
      throw error;
    }
  }

  private async comments(number: number): Promise<Array<{ body: string; createdAt: string }>> {
    const comments = await this.octokit.paginate(this.octokit.rest.issues.listComments, {
      owner: this.owner,
      repo: this.name,
      issue_number: number,
      per_page: 100,
    });
    return comments.map((c) => ({ body: c.body ?? '', createdAt: c.created_at }));
  }

  private repoLanguage(): Promise<Language | undefined> {
    this.language ??= this.octokit.rest.repos
      .get({ owner: this.owner, repo: this.name })
      .then(({ data }) => (data.language ? languageOfLinguist(data.language) : undefined));
    return this.language;
  }

  private defaultCloneURL(): string {
    const api = this.options.baseURL ?? 'https://api.github.com';
    const web = api === 'https://api.github.com' ? 'https://github.com' : api.replace(/\/api\/v3\/?$/, '');
    return `${web}/${this.repo}.git`;
  }
}

interface Survivor {
  item: PullItem;
  split: SplitDiff;
  language: Language;
}

/** PRs per GraphQL context request: well under GitHub's node and timeout limits. */
const CONTEXT_BATCH = 25;

interface Commits {
  messages: string[];
  firstAuthoredAt: string | undefined;
}

/** GraphQL needs authentication: a token, or a pool of them. */
function hasToken(options: GitHubClientOptions): boolean {
  return options.token !== undefined || options.tokens?.authenticated === true;
}
