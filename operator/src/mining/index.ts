import type { CurationRunSpec } from '../api/index.ts';
import type { EtagCache } from './etag-cache.ts';
import { GitPrSource } from './git-source.ts';
import type { RateLimitEvent } from './github-client.ts';
import { GitHubPrSource } from './github-source.ts';
import { parseTokens, sharedTokenPool } from './token-pool.ts';
import type { PrSource } from './types.ts';

export { type SplitDiff, splitDiff } from './diff-split.ts';
export { type EtagCache, FileEtagCache, MemoryEtagCache } from './etag-cache.ts';
export { addToFunnel, emptyFunnel, type Funnel, formatFunnel } from './funnel.ts';
export { GitPrSource, type GitSourceOptions } from './git-source.ts';
export type { GitHubClientStats, RateLimitEvent } from './github-client.ts';
export { type SearchResult, searchQuery, searchRepositories } from './github-search.ts';
export { GitHubPrSource, type GitHubSourceOptions } from './github-source.ts';
export { linkedIssueNumbers } from './linked-issues.ts';
export { parseTokens, sharedTokenPool, TokenPool } from './token-pool.ts';
export * from './types.ts';

export interface PrSourceOptions {
  /**
   * GitHub token(s) read from source.github.tokenSecretRef by the caller (the operator reads
   * Secrets): one, or several separated by newlines, spaces or commas. Every source given the
   * same tokens shares one rate budget (sharedTokenPool).
   */
  githubToken?: string;
  /** ETags of GitHub responses; give a FileEtagCache on a volume to make restarts free. */
  etagCache?: EtagCache;
  /** Bare clones of git URLs. */
  gitCacheDir?: string;
  onRateLimit?: (event: RateLimitEvent) => void;
  /** Tests only: milliseconds per second of rate-limit wait. */
  waitUnitMs?: number;
}

/** The source a run's spec names. Its cursor goes to status.cursor.github or status.cursor.git. */
export function createPrSource(
  spec: Pick<CurationRunSpec, 'source' | 'filters' | 'llm'>,
  options: PrSourceOptions = {},
): PrSource {
  const { github, git } = spec.source;
  // Without an LLM no tests can be generated: a PR without tests is rejected at mining.
  const llm = spec.llm !== undefined;
  if (github !== undefined) {
    return new GitHubPrSource({
      repo: github.repo,
      filters: spec.filters,
      llm,
      ...(github.baseURL !== undefined ? { baseURL: github.baseURL } : {}),
      ...(options.githubToken !== undefined && { tokens: sharedTokenPool(parseTokens(options.githubToken)) }),
      ...(options.etagCache !== undefined ? { etagCache: options.etagCache } : {}),
      ...(options.onRateLimit !== undefined ? { onRateLimit: options.onRateLimit } : {}),
      ...(options.waitUnitMs !== undefined ? { waitUnitMs: options.waitUnitMs } : {}),
    });
  }
  if (git !== undefined) {
    return new GitPrSource({
      url: git.url,
      ref: git.ref,
      history: git.history,
      filters: spec.filters,
      llm,
      ...(git.repo !== undefined ? { repo: git.repo } : {}),
      ...(options.gitCacheDir !== undefined ? { cacheDir: options.gitCacheDir } : {}),
    });
  }
  throw new Error('source: exactly one of github or git must be set');
}
