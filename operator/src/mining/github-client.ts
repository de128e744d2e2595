import { retry } from '@octokit/plugin-retry';
import { throttling } from '@octokit/plugin-throttling';
import { Octokit } from '@octokit/rest';
import type { EtagCache } from './etag-cache.ts';

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
 * network errors, with backoff) and ETag conditional requests from `etagCache`.
 */
export function createGitHubClient(options: GitHubClientOptions): {
  octokit: GitHubClient;
  stats: GitHubClientStats;
} {
  const stats: GitHubClientStats = { requests: 0, notModified: 0, rateLimitWaits: 0 };
  const waitUnitMs = options.waitUnitMs ?? 1000;
  const onLimit =
    (kind: RateLimitEvent['kind']) =>
    (retryAfterSeconds: number, request: { method: string; url: string }): boolean => {
      stats.rateLimitWaits++;
      options.onRateLimit?.({ kind, retryAfterSeconds, method: request.method, url: request.url });
      return true;
    };
  const octokit = new MiningOctokit({
    ...(options.token ? { auth: options.token } : {}),
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

  // Registered after the plugins, so it wraps them: one conditional request per call, and a 304
  // (which octokit raises as an error) becomes the cached 200 before anyone sees it.
  const cache = options.etagCache;
  octokit.hook.wrap('request', async (request, endpointOptions) => {
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
