import type { WorkQueueMetrics } from './metrics.ts';
import { exponentialBackoffMs, TokenBucket } from './rate-limit.ts';

export interface WorkQueueOptions {
  /** Reconciles running at once (different keys). */
  concurrency?: number;
  /** First retry delay after an error; doubles per consecutive failure of the key. */
  baseDelayMs?: number;
  maxDelayMs?: number;
  /** Overall retry rate (client-go's BucketRateLimiter): many failing keys cannot stampede. */
  retryQps?: number;
  retryBurst?: number;
}

export const WORK_QUEUE_DEFAULTS: Required<WorkQueueOptions> = {
  concurrency: 4,
  baseDelayMs: 5,
  maxDelayMs: 300_000,
  retryQps: 10,
  retryBurst: 100,
};

/**
 * client-go's workqueue semantics: a key is queued at most once (duplicates collapse), is
 * never processed by two workers at once (a key added while in flight is re-queued when
 * that run ends), delayed adds keep the earliest deadline, and failing keys back off
 * exponentially per key and under a global token bucket.
 */
export class WorkQueue {
  private readonly queue: string[] = [];
  private readonly dirty = new Set<string>();
  private readonly processing = new Set<string>();
  private readonly delayed = new Map<string, { at: number; timer: NodeJS.Timeout }>();
  private readonly failures = new Map<string, number>();
  /** When each waiting key entered the queue, and when each in-flight key was taken. */
  private readonly addedAt = new Map<string, number>();
  private readonly startedAt = new Map<string, number>();
  private readonly waiters: Array<() => void> = [];
  private readonly bucket: TokenBucket;
  private readonly opts: Required<WorkQueueOptions>;
  private readonly metrics: WorkQueueMetrics | undefined;
  private shuttingDown = false;

  constructor(opts: WorkQueueOptions = {}, metrics?: WorkQueueMetrics) {
    this.opts = { ...WORK_QUEUE_DEFAULTS, ...opts };
    this.bucket = new TokenBucket(this.opts.retryQps, this.opts.retryBurst);
    this.metrics = metrics;
  }

  /** Keys waiting to be processed (not counting delayed or in-flight ones). */
  get depth(): number {
    return this.queue.length;
  }

  get inFlight(): number {
    return this.processing.size;
  }

  /** Seconds each in-flight key has been processed so far. */
  inFlightSeconds(now = performance.now()): number[] {
    return [...this.startedAt.values()].map((t) => (now - t) / 1000);
  }

  add(key: string): void {
    if (this.shuttingDown || this.dirty.has(key)) return;
    this.dirty.add(key);
    this.metrics?.added();
    if (this.processing.has(key)) return; // re-queued by done()
    this.push(key);
  }

  private push(key: string): void {
    this.queue.push(key);
    this.addedAt.set(key, performance.now());
    this.waiters.shift()?.();
  }

  /** Adds the key after `ms`; an earlier pending deadline for the same key wins. */
  addAfter(key: string, ms: number): void {
    if (this.shuttingDown) return;
    if (ms <= 0) {
      this.add(key);
      return;
    }
    const at = Date.now() + ms;
    const existing = this.delayed.get(key);
    if (existing && existing.at <= at) return;
    if (existing) clearTimeout(existing.timer);
    const timer = setTimeout(() => {
      this.delayed.delete(key);
      this.add(key);
    }, ms);
    timer.unref?.();
    this.delayed.set(key, { at, timer });
  }

  /** Retry after an error: per-key exponential backoff, and no faster than the global bucket. */
  addRateLimited(key: string): number {
    const failures = this.failures.get(key) ?? 0;
    this.failures.set(key, failures + 1);
    const delay = Math.max(
      exponentialBackoffMs(failures, this.opts.baseDelayMs, this.opts.maxDelayMs),
      this.bucket.reserve(),
    );
    this.metrics?.retried();
    this.addAfter(key, delay);
    return delay;
  }

  /** The key succeeded: its next failure starts from the base delay again. */
  forget(key: string): void {
    this.failures.delete(key);
  }

  failuresOf(key: string): number {
    return this.failures.get(key) ?? 0;
  }

  private async get(): Promise<string | undefined> {
    while (this.queue.length === 0) {
      if (this.shuttingDown) return undefined;
      await new Promise<void>((resolve) => this.waiters.push(resolve));
    }
    const key = this.queue.shift()!;
    this.dirty.delete(key);
    this.processing.add(key);
    const now = performance.now();
    const added = this.addedAt.get(key);
    this.addedAt.delete(key);
    if (added !== undefined) this.metrics?.queued((now - added) / 1000);
    this.startedAt.set(key, now);
    return key;
  }

  private done(key: string): void {
    this.processing.delete(key);
    const started = this.startedAt.get(key);
    this.startedAt.delete(key);
    if (started !== undefined) this.metrics?.worked((performance.now() - started) / 1000);
    if (this.dirty.has(key) && !this.shuttingDown) this.push(key);
  }

  private workers: Promise<void>[] = [];

  /** Starts `concurrency` workers; `handle` must not throw (the controller catches). */
  run(handle: (key: string) => Promise<void>): void {
    for (let i = 0; i < this.opts.concurrency; i++) {
      this.workers.push(
        (async () => {
          for (;;) {
            const key = await this.get();
            if (key === undefined) return;
            try {
              await handle(key);
            } finally {
              this.done(key);
            }
          }
        })(),
      );
    }
  }

  /** Stops handing out keys and waits for in-flight reconciles to finish. */
  async shutdown(): Promise<void> {
    this.shuttingDown = true;
    for (const { timer } of this.delayed.values()) clearTimeout(timer);
    this.delayed.clear();
    this.queue.length = 0;
    this.addedAt.clear();
    for (const wake of this.waiters.splice(0)) wake();
    await Promise.all(this.workers);
  }
}
