import { describe, expect, it } from 'vitest';
import { specOrMetadataChanged } from './predicates.ts';
import { WorkQueue } from './queue.ts';
import { exponentialBackoffMs, TokenBucket } from './rate-limit.ts';
import { canonicalJson, deepEqualJson, WriteOverlay } from './status.ts';

const tick = (ms = 0) => new Promise((resolve) => setTimeout(resolve, ms));

describe('WorkQueue', () => {
  it('collapses duplicates and never runs one key twice at once', async () => {
    const q = new WorkQueue({ concurrency: 4 });
    const running = new Set<string>();
    const runs: string[] = [];
    let overlap = false;
    let release!: () => void;
    const gate = new Promise<void>((resolve) => {
      release = resolve;
    });
    q.run(async (key) => {
      if (running.has(key)) overlap = true;
      running.add(key);
      runs.push(key);
      if (runs.length === 1) await gate;
      running.delete(key);
    });
    q.add('a');
    await tick();
    // 'a' is in flight: these collapse into one re-run after it finishes.
    q.add('a');
    q.add('a');
    q.add('b');
    q.add('b');
    await tick(10);
    expect(runs).toEqual(['a', 'b']);
    release();
    await tick(10);
    expect(runs).toEqual(['a', 'b', 'a']);
    expect(overlap).toBe(false);
    await q.shutdown();
  });

  it('bounds concurrency', async () => {
    const q = new WorkQueue({ concurrency: 2 });
    let active = 0;
    let peak = 0;
    q.run(async () => {
      active++;
      peak = Math.max(peak, active);
      await tick(5);
      active--;
    });
    for (let i = 0; i < 20; i++) q.add(`k${i}`);
    await tick(100);
    expect(peak).toBe(2);
    await q.shutdown();
  });

  it('backs off per key exponentially and resets on forget', () => {
    const q = new WorkQueue({ baseDelayMs: 10, maxDelayMs: 1000, retryQps: 1000, retryBurst: 1000 });
    expect([q.addRateLimited('x'), q.addRateLimited('x'), q.addRateLimited('x')]).toEqual([10, 20, 40]);
    expect(q.addRateLimited('y')).toBe(10);
    q.forget('x');
    expect(q.addRateLimited('x')).toBe(10);
    void q.shutdown();
  });

  it('keeps the earliest deadline of delayed adds', async () => {
    const q = new WorkQueue();
    const runs: string[] = [];
    q.run(async (key) => {
      runs.push(key);
    });
    q.addAfter('k', 1000);
    q.addAfter('k', 10);
    await tick(40);
    expect(runs).toEqual(['k']);
    await q.shutdown();
  });

  it('shutdown waits for in-flight work', async () => {
    const q = new WorkQueue();
    let finished = false;
    q.run(async () => {
      await tick(30);
      finished = true;
    });
    q.add('k');
    await tick();
    await q.shutdown();
    expect(finished).toBe(true);
  });
});

describe('rate limits', () => {
  it('token bucket allows a burst, then spaces requests at qps', () => {
    let now = 0;
    const bucket = new TokenBucket(10, 2, () => now);
    expect([bucket.reserve(), bucket.reserve()]).toEqual([0, 0]);
    expect(bucket.reserve()).toBe(100);
    expect(bucket.reserve()).toBe(200);
    now = 1000;
    expect(bucket.reserve()).toBe(0);
  });

  it('exponential backoff is capped', () => {
    expect(exponentialBackoffMs(0, 5, 100)).toBe(5);
    expect(exponentialBackoffMs(3, 5, 100)).toBe(40);
    expect(exponentialBackoffMs(30, 5, 100)).toBe(100);
  });
});

describe('status comparison', () => {
  it('ignores key order and undefined members', () => {
    expect(deepEqualJson({ a: 1, b: { c: [1, 2] } }, { b: { c: [1, 2] }, a: 1, d: undefined })).toBe(true);
    expect(deepEqualJson({ a: [1, 2] }, { a: [2, 1] })).toBe(false);
    expect(canonicalJson({ b: 1, a: 2 })).toBe('{"a":2,"b":1}');
  });
});

describe('WriteOverlay', () => {
  const obj = (rv: string, phase: string) => ({
    metadata: { namespace: 'ns', name: 'x', resourceVersion: rv },
    phase,
  });

  it('answers with our write until the cache moves past the versions it superseded', () => {
    const overlay = new WriteOverlay<ReturnType<typeof obj>>();
    overlay.record(obj('1', 'a'), obj('2', 'b'));
    overlay.record(obj('2', 'b'), obj('3', 'c'));
    expect(overlay.resolve(obj('1', 'a')).phase).toBe('c');
    expect(overlay.resolve(obj('2', 'b')).phase).toBe('c');
    expect(overlay.resolve(obj('3', 'c')).phase).toBe('c');
    // Once the cache caught up, the entry is gone and the cache is the truth.
    expect(overlay.resolve(obj('1', 'a')).phase).toBe('a');
  });
});

describe('update predicates', () => {
  const run = (metadata: Record<string, unknown>, status?: unknown) => ({
    metadata: { name: 'r', namespace: 'n', resourceVersion: '1', generation: 1, ...metadata },
    status,
  });

  it('a status-only write (new resourceVersion, same generation) does not pass', () => {
    const old = run({}, { phase: 'Pending', message: 'a' });
    expect(
      specOrMetadataChanged(old, run({ resourceVersion: '2' }, { phase: 'Pending', message: 'b' })),
    ).toBe(false);
  });

  it('a spec edit, an annotation or label change and the start of deletion pass', () => {
    const old = run({ annotations: { a: '1' }, labels: { l: 'x' } });
    expect(
      specOrMetadataChanged(old, run({ generation: 2, annotations: { a: '1' }, labels: { l: 'x' } })),
    ).toBe(true);
    expect(specOrMetadataChanged(old, run({ annotations: { a: '2' }, labels: { l: 'x' } }))).toBe(true);
    expect(specOrMetadataChanged(old, run({ annotations: { a: '1' } }))).toBe(true);
    expect(
      specOrMetadataChanged(
        old,
        run({ annotations: { a: '1' }, labels: { l: 'x' }, deletionTimestamp: '2026-01-01T00:00:00Z' }),
      ),
    ).toBe(true);
    expect(specOrMetadataChanged(undefined, old)).toBe(true);
  });
});
