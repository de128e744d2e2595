import { createHash } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

/**
 * A local HTTP server speaking the slice of GitHub's REST API the mining source uses, in
 * GitHub's wire shape: pagination by `page`/`per_page` with RFC 5988 Link headers, ETags with
 * 304 Not Modified (which, as on GitHub, does not count against the rate limit),
 * x-ratelimit-* headers, primary (403 + remaining 0 + reset) and secondary (403/429 +
 * retry-after) rate limits, the diff media type, token auth and the GHE `/api/v3` prefix.
 * The real octokit talks to it; nothing of ours is mocked.
 */

export interface FakePull {
  number: number;
  title: string;
  body: string | null;
  /** null = closed without merging. */
  merged_at: string | null;
  created_at: string;
  updated_at: string;
  labels: string[];
  base_sha: string;
  merge_commit_sha: string | null;
  /** null: too large for GitHub to render (it answers the diff media type with 406). */
  diff: string | null;
  commits: Array<{ message: string; date: string }>;
}

export interface FakeIssue {
  number: number;
  title: string;
  body: string | null;
  comments: Array<{ body: string; created_at: string }>;
}

/** A repository GET /search/repositories can find. */
export interface FakeSearchRepository {
  full_name: string;
  language: string | null;
  stargazers_count: number;
  pushed_at: string;
  topics: string[];
  fork?: boolean;
  archived?: boolean;
}

export type RateLimitKind = 'primary' | 'secondary' | 'secondary429';

export interface RecordedRequest {
  method: string;
  path: string;
  accept: string;
  status: number;
}

export interface FakeGitHubOptions {
  owner: string;
  repo: string;
  /** When set, every request must carry it (`token …` or `Bearer …`). */
  token?: string;
  /** Several accepted tokens, each with its own rate-limit window of `rateLimit` requests. */
  tokens?: string[];
  /** '' for api.github.com shape, '/api/v3' for GitHub Enterprise Server. */
  prefix?: string;
  /** Linguist language of the repository (GET /repos/:owner/:repo). */
  language?: string;
  rateLimit?: number;
  /** The repository's clone_url (e.g. a git server's); default <this server>/<owner>/<repo>.git, which serves no git. */
  cloneURL?: string;
  /** Serve the GraphQL endpoint (an old GitHub Enterprise may lack fields: then it is a 404 here). */
  graphql?: boolean;
}

export class FakeGitHub {
  pulls: FakePull[] = [];
  issues: FakeIssue[] = [];
  /** What GET /search/repositories searches (any owner). */
  searchable: FakeSearchRepository[] = [];
  readonly requests: RecordedRequest[] = [];
  /** Requests that counted against the rate limit (everything but 304 and rate-limit errors). */
  rateLimitUsed = 0;
  /** Of those, by the token they carried ('' without one). */
  readonly rateLimitUsedBy = new Map<string, number>();
  /** Requests left in each token's window ('' without one). */
  private readonly remainingBy = new Map<string, number>();
  private readonly limit: number;
  private readonly injected: RateLimitKind[] = [];
  private readonly options: Required<FakeGitHubOptions>;
  private server: Server | undefined;
  private origin = '';

  constructor(options: FakeGitHubOptions) {
    this.options = {
      token: '',
      prefix: '',
      language: 'Python',
      rateLimit: 5000,
      graphql: true,
      cloneURL: '',
      tokens: [],
      ...options,
    };
    this.limit = this.options.rateLimit;
  }

  /** The next requests answer with these rate-limit errors, in order. */
  injectRateLimit(...kinds: RateLimitKind[]): void {
    this.injected.push(...kinds);
  }

  get baseURL(): string {
    return `${this.origin}${this.options.prefix}`;
  }

  async start(): Promise<string> {
    this.server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => this.handle(req, res, Buffer.concat(chunks).toString('utf8')));
    });
    await new Promise<void>((resolve) => this.server!.listen(0, '127.0.0.1', resolve));
    this.origin = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
    return this.baseURL;
  }

  async close(): Promise<void> {
    await new Promise<void>((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()));
  }

  countRequests(predicate: (r: RecordedRequest) => boolean = () => true): number {
    return this.requests.filter(predicate).length;
  }

  private handle(req: IncomingMessage, res: ServerResponse, requestBody: string): void {
    const url = new URL(req.url ?? '/', this.origin);
    const accept = String(req.headers.accept ?? '');
    const record = (status: number) =>
      this.requests.push({ method: req.method ?? 'GET', path: url.pathname + url.search, accept, status });

    const auth = String(req.headers.authorization ?? '');
    const caller = auth.replace(/^(token|bearer)\s+/i, '');
    // GitHub keeps a window per resource; this fake counts one, but names the resource as GitHub does.
    const resource = url.pathname.endsWith('/graphql')
      ? 'graphql'
      : url.pathname.includes('/search/')
        ? 'search'
        : 'core';
    const accepted = [this.options.token, ...this.options.tokens].filter((t) => t !== '');
    if (accepted.length > 0) {
      if (!/^(token|bearer)\s/i.test(auth) || !accepted.includes(caller)) {
        record(401);
        res.writeHead(401, { 'content-type': 'application/json; charset=utf-8' });
        return void res.end(
          JSON.stringify({ message: 'Bad credentials', documentation_url: 'https://docs.github.com/rest' }),
        );
      }
    }
    const remaining = this.remainingBy.get(caller) ?? this.limit;
    const kind = this.injected.shift() ?? (remaining <= 0 ? 'primary' : undefined);
    if (kind !== undefined) {
      record(kind === 'secondary429' ? 429 : 403);
      this.rateLimited(res, kind, caller, resource);
      return;
    }

    const route = url.pathname.startsWith(this.options.prefix)
      ? url.pathname.slice(this.options.prefix.length)
      : '';
    const graphqlPath = this.options.prefix === '/api/v3' ? '/api/graphql' : `${this.options.prefix}/graphql`;
    const answer =
      req.method === 'POST' && url.pathname === graphqlPath && this.options.graphql
        ? this.graphql(requestBody)
        : this.route(req.method ?? 'GET', route, url.searchParams, accept);
    const status = answer.status;
    const etag = `W/"${createHash('sha1').update(answer.body).digest('hex')}"`;
    const headers: Record<string, string> = {
      'content-type': answer.contentType,
      etag,
      'x-github-media-type': 'github.v3; format=json',
      ...answer.headers,
    };
    if (status === 200 && req.headers['if-none-match'] === etag) {
      record(304);
      res.writeHead(304, { ...this.rateHeaders(caller, resource), etag });
      return void res.end();
    }
    this.remainingBy.set(caller, remaining - 1);
    this.rateLimitUsed++;
    this.rateLimitUsedBy.set(caller, (this.rateLimitUsedBy.get(caller) ?? 0) + 1);
    record(status);
    res.writeHead(status, { ...this.rateHeaders(caller, resource), ...headers });
    res.end(answer.body);
  }

  private route(
    method: string,
    path: string,
    query: URLSearchParams,
    accept: string,
  ): { status: number; body: string; contentType: string; headers?: Record<string, string> } {
    const json = (status: number, data: unknown, headers?: Record<string, string>) => ({
      status,
      body: JSON.stringify(data),
      contentType: 'application/json; charset=utf-8',
      ...(headers ? { headers } : {}),
    });
    const notFound = json(404, { message: 'Not Found', documentation_url: 'https://docs.github.com/rest' });
    if (method === 'GET' && path === '/search/repositories')
      return this.searchRepositories(path, query, json);
    const { owner, repo } = this.options;
    const m = new RegExp(`^/repos/${owner}/${repo}(/.*)?$`).exec(path);
    if (method !== 'GET' || !m) return notFound;
    const rest = m[1] ?? '';
    if (rest === '') return json(200, this.repoJson());
    if (rest === '/pulls') {
      const state = query.get('state') ?? 'open';
      const sort = query.get('sort') ?? 'created';
      const direction = query.get('direction') ?? (sort === 'created' ? 'desc' : 'desc');
      const key = sort === 'updated' ? 'updated_at' : 'created_at';
      const list = this.pulls
        .filter(() => state === 'closed' || state === 'all')
        .sort(
          (a, b) =>
            (direction === 'asc' ? 1 : -1) * (Date.parse(a[key]) - Date.parse(b[key]) || a.number - b.number),
        );
      return this.paginated(
        path,
        query,
        list.map((p) => this.pullJson(p)),
        json,
      );
    }
    const pull = /^\/pulls\/(\d+)(\/commits)?$/.exec(rest);
    if (pull) {
      const p = this.pulls.find((x) => x.number === Number(pull[1]));
      if (!p) return notFound;
      if (pull[2]) {
        const commits = p.commits.map((c, i) => ({
          sha: createHash('sha1').update(`${p.number}:${i}`).digest('hex'),
          commit: {
            message: c.message,
            author: { name: 'a', date: c.date },
            committer: { name: 'a', date: c.date },
          },
        }));
        return this.paginated(path, query, commits, json);
      }
      if (/application\/vnd\.github(\.v3)?\.diff/.test(accept)) {
        if (p.diff === null) {
          return json(406, {
            message: 'Sorry, the diff exceeded the maximum number of lines (20000)',
            errors: [{ resource: 'PullRequest', field: 'diff', code: 'too_large' }],
            documentation_url: 'https://docs.github.com/rest/pulls/pulls#get-a-pull-request',
          });
        }
        return { status: 200, body: p.diff, contentType: 'application/vnd.github.diff; charset=utf-8' };
      }
      return json(200, this.pullJson(p));
    }
    const issue = /^\/issues\/(\d+)(\/comments)?$/.exec(rest);
    if (issue) {
      const number = Number(issue[1]);
      const i = this.issues.find((x) => x.number === number);
      const asPull = this.pulls.find((x) => x.number === number);
      if (!i && !asPull) return notFound;
      if (issue[2]) {
        const comments = (i?.comments ?? []).map((c, k) => ({
          id: number * 1000 + k,
          user: { login: 'u' },
          ...c,
        }));
        return this.paginated(path, query, comments, json);
      }
      if (i) {
        return json(200, {
          number,
          title: i.title,
          body: i.body,
          state: 'closed',
          comments: i.comments.length,
        });
      }
      return json(200, {
        number,
        title: asPull!.title,
        body: asPull!.body,
        comments: 0,
        pull_request: { url: `${this.baseURL}/repos/${owner}/${repo}/pulls/${number}` },
      });
    }
    return notFound;
  }

  /**
   * GraphQL for the one query shape the mining source sends (`ScaleSweMiningContext`): aliases
   * `pr<N>: pullRequest(number: N)` and `issue<N>: issue(number: N)`, answered with GitHub's
   * field names and its NOT_FOUND error (with partial data) for an issue number that is a PR.
   */
  private graphql(requestBody: string): ReturnType<FakeGitHub['route']> {
    const json = (data: unknown) => ({
      status: 200,
      body: JSON.stringify(data),
      contentType: 'application/json; charset=utf-8',
    });
    const { query, variables } = JSON.parse(requestBody) as {
      query: string;
      variables?: Record<string, string>;
    };
    if (variables?.owner !== this.options.owner || variables?.name !== this.options.repo) {
      return json({
        data: { repository: null },
        errors: [{ type: 'NOT_FOUND', message: 'Could not resolve to a Repository' }],
      });
    }
    const issueNode = (i: FakeIssue) => ({
      number: i.number,
      title: i.title,
      body: i.body ?? '',
      comments: {
        totalCount: i.comments.length,
        nodes: i.comments.slice(0, 100).map((c) => ({ body: c.body, createdAt: c.created_at })),
      },
    });
    const repository: Record<string, unknown> = {};
    const errors: unknown[] = [];
    for (const m of query.matchAll(/(\w+): pullRequest\(number: (\d+)\)/g)) {
      const p = this.pulls.find((x) => x.number === Number(m[2]));
      if (!p) {
        repository[m[1]!] = null;
        errors.push({
          type: 'NOT_FOUND',
          path: ['repository', m[1]],
          message: `Could not resolve to a PullRequest with the number of ${m[2]}.`,
        });
        continue;
      }
      // GitHub's own closing references: issues named with a keyword in the PR body.
      const closing = [
        ...(p.body ?? '').matchAll(
          /\b(?:fix|fixes|fixed|close|closes|closed|resolve|resolves|resolved)\s+#(\d+)/gi,
        ),
      ]
        .map((x) => this.issues.find((i) => i.number === Number(x[1])))
        .filter((i): i is FakeIssue => i !== undefined);
      repository[m[1]!] = {
        commits: {
          nodes: p.commits
            .slice(0, 100)
            .map((c) => ({ commit: { message: c.message, authoredDate: c.date } })),
        },
        closingIssuesReferences: { nodes: closing.map(issueNode) },
      };
    }
    for (const m of query.matchAll(/(\w+): issue\(number: (\d+)\)/g)) {
      const i = this.issues.find((x) => x.number === Number(m[2]));
      repository[m[1]!] = i ? issueNode(i) : null;
      if (!i) {
        errors.push({
          type: 'NOT_FOUND',
          path: ['repository', m[1]],
          message: `Could not resolve to an Issue with the number of ${m[2]}.`,
        });
      }
    }
    return json(errors.length > 0 ? { data: { repository }, errors } : { data: { repository } });
  }

  /**
   * GitHub's repository search for the qualifiers campaigns send (language:, stars:>=, pushed:>=,
   * topic:, fork:, archived:), sort=stars order=desc, paginated, in the search response shape.
   * An unknown qualifier is a 422, as GitHub answers a query it cannot parse.
   */
  private searchRepositories(
    path: string,
    query: URLSearchParams,
    json: (
      status: number,
      data: unknown,
      headers?: Record<string, string>,
    ) => ReturnType<FakeGitHub['route']>,
  ) {
    const tests: Array<(r: FakeSearchRepository) => boolean> = [];
    for (const term of (query.get('q') ?? '').match(/\S+:(?:"[^"]*"|\S+)/g) ?? []) {
      const [, key, raw] = /^([a-z]+):(.*)$/.exec(term) ?? [];
      const value = (raw ?? '').replace(/^"|"$/g, '');
      if (key === 'language') tests.push((r) => r.language?.toLowerCase() === value.toLowerCase());
      else if (key === 'stars' && value.startsWith('>='))
        tests.push((r) => r.stargazers_count >= Number(value.slice(2)));
      else if (key === 'pushed' && value.startsWith('>='))
        tests.push((r) => Date.parse(r.pushed_at) >= Date.parse(value.slice(2)));
      else if (key === 'topic') tests.push((r) => r.topics.includes(value));
      else if (key === 'fork') tests.push((r) => (r.fork ?? false) === (value === 'true'));
      else if (key === 'archived') tests.push((r) => (r.archived ?? false) === (value === 'true'));
      else
        return json(422, {
          message: 'Validation Failed',
          errors: [
            { message: `unsupported qualifier ${term}`, resource: 'Search', field: 'q', code: 'invalid' },
          ],
          documentation_url: 'https://docs.github.com/rest/search/search#search-repositories',
        });
    }
    const found = this.searchable
      .filter((r) => tests.every((t) => t(r)))
      .sort((a, b) => b.stargazers_count - a.stargazers_count || a.full_name.localeCompare(b.full_name));
    const page = this.paginated(
      path,
      query,
      found.map((r) => ({
        full_name: r.full_name,
        name: r.full_name.split('/')[1],
        owner: { login: r.full_name.split('/')[0] },
        language: r.language,
        stargazers_count: r.stargazers_count,
        pushed_at: r.pushed_at,
        topics: r.topics,
        fork: r.fork ?? false,
        archived: r.archived ?? false,
      })),
      json,
    );
    return {
      ...page,
      body: JSON.stringify({
        total_count: found.length,
        incomplete_results: false,
        items: JSON.parse(page.body),
      }),
    };
  }

  private paginated<T>(
    path: string,
    query: URLSearchParams,
    items: T[],
    json: (
      status: number,
      data: unknown,
      headers?: Record<string, string>,
    ) => ReturnType<FakeGitHub['route']>,
  ) {
    const perPage = Math.min(Number(query.get('per_page') ?? 30), 100);
    const page = Math.max(Number(query.get('page') ?? 1), 1);
    const last = Math.max(Math.ceil(items.length / perPage), 1);
    const link = (n: number, rel: string) => {
      const q = new URLSearchParams(query);
      q.set('page', String(n));
      return `<${this.baseURL}${path}?${q}>; rel="${rel}"`;
    };
    const links: string[] = [];
    if (page > 1) links.push(link(page - 1, 'prev'));
    if (page < last) links.push(link(page + 1, 'next'), link(last, 'last'));
    if (page > 1) links.push(link(1, 'first'));
    const headers: Record<string, string> = links.length > 0 ? { link: links.join(', ') } : {};
    return json(200, items.slice((page - 1) * perPage, page * perPage), headers);
  }

  private rateLimited(res: ServerResponse, kind: RateLimitKind, caller: string, resource: string): void {
    const docs = 'https://docs.github.com/rest/overview/rate-limits-for-the-rest-api';
    if (kind === 'primary') {
      // GitHub says when the window resets; this fake resets it at once (tests shorten waits).
      res.writeHead(403, {
        'content-type': 'application/json; charset=utf-8',
        'x-ratelimit-limit': String(this.limit),
        'x-ratelimit-remaining': '0',
        'x-ratelimit-used': String(this.limit),
        'x-ratelimit-reset': String(Math.floor(Date.now() / 1000) + 2),
        'x-ratelimit-resource': resource,
      });
      this.remainingBy.set(caller, this.limit);
      return void res.end(
        JSON.stringify({ message: 'API rate limit exceeded for user ID 1.', documentation_url: docs }),
      );
    }
    res.writeHead(kind === 'secondary429' ? 429 : 403, {
      'content-type': 'application/json; charset=utf-8',
      'retry-after': '3',
      ...this.rateHeaders(caller, resource),
    });
    res.end(
      JSON.stringify({
        message:
          'You have exceeded a secondary rate limit. Please wait a few minutes before you try again. If you reach out to GitHub Support for help, please include the request ID.',
        documentation_url: docs,
      }),
    );
  }

  private rateHeaders(caller: string, resource: string): Record<string, string> {
    const remaining = Math.max(this.remainingBy.get(caller) ?? this.limit, 0);
    return {
      'x-ratelimit-limit': String(this.limit),
      'x-ratelimit-remaining': String(remaining),
      'x-ratelimit-used': String(this.limit - remaining),
      'x-ratelimit-reset': String(Math.floor(Date.now() / 1000) + 3600),
      'x-ratelimit-resource': resource,
      'x-github-request-id': createHash('sha1')
        .update(String(this.requests.length))
        .digest('hex')
        .slice(0, 16),
    };
  }

  private repoJson() {
    const { owner, repo, language } = this.options;
    return {
      full_name: `${owner}/${repo}`,
      name: repo,
      owner: { login: owner },
      default_branch: 'main',
      language,
      clone_url: this.options.cloneURL || `${this.origin}/${owner}/${repo}.git`,
    };
  }

  private pullJson(p: FakePull) {
    const { owner, repo } = this.options;
    return {
      url: `${this.baseURL}/repos/${owner}/${repo}/pulls/${p.number}`,
      number: p.number,
      state: 'closed',
      title: p.title,
      body: p.body,
      user: { login: 'alice' },
      labels: p.labels.map((name, id) => ({ id, name })),
      created_at: p.created_at,
      updated_at: p.updated_at,
      closed_at: p.merged_at ?? p.updated_at,
      merged_at: p.merged_at,
      merge_commit_sha: p.merge_commit_sha,
      head: { ref: `feature-${p.number}`, sha: 'f'.repeat(40) },
      base: { ref: 'main', sha: p.base_sha, repo: this.repoJson() },
    };
  }
}
