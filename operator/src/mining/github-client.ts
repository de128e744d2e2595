import { retry } from '@octokit/plugin-retry';
import { throttling } from '@octokit/plugin-throttling';
import { Octokit } from '@octokit/rest';
import type { EtagCache } from './etag-cache.ts';
import { resourceOf, TokenPool } from './token-pool.ts';

const MiningOctokit = Octokit.plugin(throttling, retry);
export type GitHubClient = InstanceType<typeof MiningOctokit>;

export interface GitHubClientStats {
  /** Calls made by the source (a retried call counts once). */
  requests: number;
  /** Of those, answered from the ETag cache by a 304 (free of rate limit). */
  notModified: number;
  /** Times a rate limit (primary or secondary) made the client wait and retry. */
  rateLimitWaits: number;
}

export interface RateLimitEvent {
  kind: 'primary' | 'secondary';
  retryAfterSeconds: number;
  method: string;
  url: string;
}

export interface GitHubClientOptions {
  /** From the run's Secret; omit for anonymous access (60 requests/hour on github.com). */
  token?: string;
  /** Several tokens' shared budget (sharedTokenPool); takes the place of `token`. */
  tokens?: TokenPool;
  /** REST base URL; GitHub Enterprise Server: https://HOST/api/v3. */
  baseURL?: string;
  etagCache?: EtagCache;
  /**
   * Milliseconds waited per second GitHub asks us to wait (default 1000). Tests shrink it; the
   * waits still happen in the same order, just shorter.
   */
  waitUnitMs?: number;
  onRateLimit?: (event: RateLimitEvent) => void;
}

/**
 * Octokit with throttling (queues requests and, on a primary or secondary rate limit, waits
 * as long as GitHub says and retries: always, so exhaustion never fails a run), retry (5xx and
 * network errors, with backoff) and ETag conditional requests from `etagCache`. With several
 * tokens, each request takes the one with the most budget left; a request refused for its
 * token's primary limit switches to another token instead of waiting, and only when every
 * token is spent does the client wait (for the earliest reset).
 */
export function createGitHubClient(options: GitHubClientOptions): {
  octokit: GitHubClient;
  stats: GitHubClientStats;
} {
  const stats: GitHubClientStats = { requests: 0, notModified: 0, rateLimitWaits: 0 };
  const waitUnitMs = options.waitUnitMs ?? 1000;
  const pool = options.tokens ?? new TokenPool(options.token ? [options.token] : []);
  const onLimit =
    (kind: RateLimitEvent['kind']) =>
    (
      retryAfterSeconds: number,
      request: { method: string; url: string; headers?: Record<string, unknown> },
    ): boolean => {
      if (kind === 'primary') {
        // This token's window is spent: another token can carry the request at once.
        const token = tokenOf(request.headers?.authorization);
        const resource = resourceOf(request.url);
        pool.exhausted(token, resource, retryAfterSeconds);
        if (pool.hasOtherThan(token, resource)) return false;
      }
      stats.rateLimitWaits++;
      options.onRateLimit?.({ kind, retryAfterSeconds, method: request.method, url: request.url });
      return true;
    };
  const octokit = new MiningOctokit({
    baseUrl: (options.baseURL ?? 'https://api.github.com').replace(/\/+$/, ''),
    userAgent: 'scaleswe-operator',
    log: { debug: () => {}, info: () => {}, warn: () => {}, error: () => {} },
    throttle: {
      onRateLimit: onLimit('primary'),
      onSecondaryRateLimit: onLimit('secondary'),
      retryAfterBaseValue: waitUnitMs,
    },
    // 406 is GitHub refusing to render a huge diff: asking again will not help.
    retry: { retryAfterBaseValue: waitUnitMs, doNotRetry: [400, 401, 403, 404, 406, 410, 422, 451] },
  });

  type Request = Parameters<Parameters<typeof octokit.hook.wrap<'request'>>[1]>[0];
  type Options = Parameters<Request>[0];
  // The request with a token of the pool: a refusal for that token's rate limit, handed back by
  // the throttle because another token has budget, goes out again with that token.
  const withToken = async (
    request: Request,
    endpointOptions: Options,
  ): Promise<Awaited<ReturnType<Request>>> => {
    for (;;) {
      const token = pool.take(resourceOf(endpointOptions.url));
      // Set in place: octokit's request drops the headers of a copied options object.
      if (token !== undefined) endpointOptions.headers.authorization = `token ${token}`;
      try {
        const response = await request(endpointOptions);
        pool.observe(token, response.headers);
        return response;
      } catch (error) {
        pool.observe(token, (error as { response?: { headers?: Record<string, string> } }).response?.headers);
        if (isPrimaryLimit(error) && pool.size > 1) continue;
        throw error;
      }
    }
  };

  // Registered after the plugins, so it wraps them: one conditional request per call, and a 304
  // (which octokit raises as an error) becomes the cached 200 before anyone sees it.
  const cache = options.etagCache;
  octokit.hook.wrap('request', async (inner, endpointOptions) => {
    const request = ((o: Options) => withToken(inner, o)) as Request;
    stats.requests++;
    if (cache === undefined || endpointOptions.method !== 'GET') return request(endpointOptions);
    const parsed = octokit.request.endpoint.parse(endpointOptions);
    const key = `${parsed.url} ${parsed.headers.accept ?? ''}`;
    const cached = await cache.get(key);
    if (cached !== undefined) endpointOptions.headers['if-none-match'] = cached.etag;
    try {
      const response = await request(endpointOptions);
      const etag = response.headers.etag;
      if (etag !== undefined)
        await cache.set(key, { etag, data: response.data, link: response.headers.link });
      return response;
    } catch (error) {
      if (cached !== undefined && (error as { status?: number }).status === 304) {
        stats.notModified++;
        const headers: Record<string, string> = { etag: cached.etag };
        if (cached.link !== undefined) headers.link = cached.link;
        return { status: 200, url: parsed.url, headers, data: cached.data } as Awaited<
          ReturnType<typeof request>
        >;
      }
      throw error;
    }
  });
  return { octokit, stats };
}

/** The token an authorization header carries (`token X` or `bearer X`), undefined without one. */
function tokenOf(authorization: unknown): string | undefined {
  return typeof authorization === 'string' ? authorization.replace(/^(token|bearer)\s+/i, '') : undefined;
}

/** A 403/429 for the primary rate limit that reached us: the throttle handed it back to switch tokens. */
function isPrimaryLimit(error: unknown): boolean {
  const e = error as { status?: number; response?: { headers?: Record<string, string> } };
  return (e.status === 403 || e.status === 429) && e.response?.headers?.['x-ratelimit-remaining'] === '0';
}
