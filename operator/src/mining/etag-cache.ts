import { createHash } from 'node:crypto';
import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

/** What a conditional GET needs to answer a 304 as if it were the original 200. */
export interface CachedResponse {
  etag: string;
  data: unknown;
  /** Pagination depends on it. */
  link: string | undefined;
}

/**
 * Where ETags live between pages and restarts. A resumed run re-reads the page its cursor
 * points into; with the ETag, GitHub answers 304, which does not count against the rate limit.
 */
export interface EtagCache {
  get(key: string): CachedResponse | undefined | Promise<CachedResponse | undefined>;
  set(key: string, value: CachedResponse): void | Promise<void>;
}

/** In-process cache, bounded: least recently used entries go first. */
export class MemoryEtagCache implements EtagCache {
  private readonly entries = new Map<string, CachedResponse>();
  private readonly maxEntries: number;

  constructor(maxEntries = 10_000) {
    this.maxEntries = maxEntries;
  }

  get(key: string): CachedResponse | undefined {
    const value = this.entries.get(key);
    if (value !== undefined) {
      this.entries.delete(key);
      this.entries.set(key, value);
    }
    return value;
  }

  set(key: string, value: CachedResponse): void {
    this.entries.delete(key);
    this.entries.set(key, value);
    for (const oldest of this.entries.keys()) {
      if (this.entries.size <= this.maxEntries) break;
      this.entries.delete(oldest);
    }
  }

  get size(): number {
    return this.entries.size;
  }
}

/** One JSON file per request under `dir` (e.g. a volume), so ETags survive an operator restart. */
export class FileEtagCache implements EtagCache {
  private readonly dir: string;

  constructor(dir: string) {
    this.dir = dir;
    mkdirSync(dir, { recursive: true });
  }

  get(key: string): CachedResponse | undefined {
    try {
      return JSON.parse(readFileSync(this.file(key), 'utf8')) as CachedResponse;
    } catch {
      return undefined; // missing or torn: a plain request refills it
    }
  }

  set(key: string, value: CachedResponse): void {
    const file = this.file(key);
    const tmp = `${file}.${process.pid}.tmp`;
    writeFileSync(tmp, JSON.stringify(value));
    renameSync(tmp, file); // atomic: a reader never sees half an entry
  }

  private file(key: string): string {
    return join(this.dir, `${createHash('sha256').update(key).digest('hex')}.json`);
  }
}
