// One GitHub rate budget shared by every source and search that holds the same tokens: each
// request goes out with the token that has the most requests left in its window, a token whose
// window is spent is set aside until GitHub's reset time, and only when every token is spent
// does anyone wait. The budgets are what GitHub reports (x-ratelimit-* headers), not guesses.
import { createHash } from 'node:crypto';

/** What is known of one token's window (from GitHub's headers; nothing before its first answer). */
export interface TokenWindow {
  /** Requests left; undefined until GitHub has answered one request made with the token. */
  remaining: number | undefined;
  /** When the window resets (ms since the epoch); 0 when unknown. */
  resetAtMs: number;
  /** When the token was last handed out, as a count of takes (spreads equal budgets round-robin). */
  lastUse: number;
}

/**
 * The token for the next request (pure): among tokens with budget left (or whose window has
 * reset), the one with the most requests left — an unknown budget counts as full, so every token
 * is tried — least recently used on a tie. With every window spent: the one that resets first
 * (GitHub refuses it until then, and the client waits as long as GitHub says).
 */
export function chooseToken(windows: readonly TokenWindow[], nowMs: number): number {
  let best: number | undefined;
  const left = (w: TokenWindow) => requestsLeft(w, nowMs);
  windows.forEach((w, i) => {
    if (left(w) <= 0) return;
    const b = best === undefined ? undefined : windows[best]!;
    if (b === undefined || left(w) > left(b) || (left(w) === left(b) && w.lastUse < b.lastUse)) best = i;
  });
  if (best !== undefined) return best;
  const resets = windows.map((w) => w.resetAtMs);
  return resets.indexOf(Math.min(...resets));
}

/** Requests a token has left now: unknown or reset counts as a full window. */
function requestsLeft(w: TokenWindow, nowMs: number): number {
  return w.remaining === undefined || w.resetAtMs <= nowMs ? Number.POSITIVE_INFINITY : w.remaining;
}

/** The tokens a Secret value holds: one or several, separated by newlines, spaces or commas. */
export function parseTokens(value: string): string[] {
  return [...new Set(value.split(/[\s,]+/).filter((t) => t !== ''))];
}

type Headers = Record<string, string | number | undefined>;

/** GitHub's rate-limit resources: each has its own window per token (REST, GraphQL, search). */
export type RateResource = 'core' | 'graphql' | 'search';

/** The resource a request counts against, by its path. */
export function resourceOf(url: string): RateResource {
  const path = url.replace(/^[a-z]+:\/\/[^/]+/i, '');
  if (/(^|\/)graphql$/.test(path)) return 'graphql';
  if (/^(\/api\/v3)?\/search\//.test(path)) return 'search';
  return 'core';
}

export class TokenPool {
  readonly #tokens: readonly (string | undefined)[];
  readonly #windows = new Map<string, TokenWindow[]>();
  readonly #now: () => number;
  #takes = 0;

  /** No tokens: one anonymous "token" (requests without authorization, 60 an hour on github.com). */
  constructor(tokens: readonly string[], now: () => number = Date.now) {
    this.#tokens = tokens.length > 0 ? tokens : [undefined];
    this.#now = now;
  }

  get size(): number {
    return this.#tokens.length;
  }

  /** Whether requests carry a token (GitHub's GraphQL API needs one). */
  get authenticated(): boolean {
    return this.#tokens[0] !== undefined;
  }

  #of(resource: string): TokenWindow[] {
    let windows = this.#windows.get(resource);
    if (windows === undefined) {
      windows = this.#tokens.map(() => ({ remaining: undefined, resetAtMs: 0, lastUse: 0 }));
      this.#windows.set(resource, windows);
    }
    return windows;
  }

  /** The token for a request now (chooseToken); reserves one request of its budget. */
  take(resource: RateResource): string | undefined {
    const now = this.#now();
    const windows = this.#of(resource);
    const index = chooseToken(windows, now);
    const w = windows[index]!;
    if (w.resetAtMs <= now) w.remaining = undefined;
    if (w.remaining !== undefined && w.remaining > 0) w.remaining--;
    w.lastUse = ++this.#takes;
    return this.#tokens[index];
  }

  /** Whether a token other than `token` has budget left now (a rate-limited request can switch). */
  hasOtherThan(token: string | undefined, resource: RateResource): boolean {
    const now = this.#now();
    return this.#of(resource).some((w, i) => this.#tokens[i] !== token && requestsLeft(w, now) > 0);
  }

  /** Records GitHub's x-ratelimit-* headers of an answer to a request made with `token`. */
  observe(token: string | undefined, headers: Headers | undefined): void {
    const i = this.#tokens.indexOf(token);
    const remaining = Number(headers?.['x-ratelimit-remaining'] ?? Number.NaN);
    const reset = Number(headers?.['x-ratelimit-reset'] ?? Number.NaN);
    if (i < 0 || !Number.isFinite(remaining) || !Number.isFinite(reset)) return;
    const windows = this.#of(String(headers?.['x-ratelimit-resource'] ?? 'core'));
    windows[i] = { ...windows[i]!, remaining, resetAtMs: reset * 1000 };
  }

  /** A token GitHub refused for its rate limit: set aside for `retryAfterSeconds`. */
  exhausted(token: string | undefined, resource: RateResource, retryAfterSeconds: number): void {
    const i = this.#tokens.indexOf(token);
    if (i < 0) return;
    const windows = this.#of(resource);
    windows[i] = { ...windows[i]!, remaining: 0, resetAtMs: this.#now() + retryAfterSeconds * 1000 };
  }
}

/**
 * The operator's pools, one per set of tokens: every run (and campaign search) whose Secret holds
 * the same tokens shares one budget. Keyed by a hash, so no token sits in a map key.
 */
const pools = new Map<string, TokenPool>();

export function sharedTokenPool(tokens: readonly string[]): TokenPool {
  const key = createHash('sha256')
    .update([...tokens].sort().join('\n'))
    .digest('hex');
  let pool = pools.get(key);
  if (pool === undefined) {
    pool = new TokenPool(tokens);
    pools.set(key, pool);
  }
  return pool;
}
