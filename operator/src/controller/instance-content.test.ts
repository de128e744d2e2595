import { describe, expect, it } from 'vitest';
import type { SWEInstanceStatus } from '../api/index.ts';
import { offloadContent } from '../store/instance-content.ts';
import { ContentCache, MAX_STATUS_BYTES, statusTooLarge } from './instance-content.ts';

describe('ContentCache', () => {
  it('holds at most maxBytes of objects, least recently used out first, never the one just added', () => {
    const cache = new ContentCache(100);
    cache.set('a', { problemStatement: 'a' }, 40);
    cache.set('b', { problemStatement: 'b' }, 40);
    expect(cache.get('a')).toEqual({ problemStatement: 'a' }); // a is now the most recent
    cache.set('c', { problemStatement: 'c' }, 40); // 120 > 100: b goes
    expect([cache.has('a'), cache.has('b'), cache.has('c')]).toEqual([true, false, true]);
    cache.set('huge', { problemStatement: 'h' }, 500); // alone over the bound: kept, the rest go
    expect([cache.has('a'), cache.has('c'), cache.has('huge')]).toEqual([false, false, true]);
    cache.set('huge', { problemStatement: 'h' }, 500); // the same key again is counted once
    cache.set('d', { problemStatement: 'd' }, 10);
    expect([cache.has('huge'), cache.has('d')]).toEqual([false, true]);
  });
});

describe('statusTooLarge', () => {
  // A repository with ~20k tests: its PASS_TO_PASS alone passes etcd's object limit.
  const ids = Array.from(
    { length: 20_000 },
    (_, i) => `src/test/java/org/example/module${i % 50}/SomeTest.java::testCase${i}`,
  );
  const big: SWEInstanceStatus = { phase: 'Verified', FAIL_TO_PASS: ids.slice(0, 3), PASS_TO_PASS: ids };

  it('refuses a status past the bound without a store, naming the field and the fix', () => {
    const problem = statusTooLarge(big, false);
    expect(problem?.reason).toBe('StatusTooLarge');
    expect(problem?.message).toMatch(/PASS_TO_PASS \d+/);
    expect(problem?.message).toMatch(/--store-bucket/);
    expect(Buffer.byteLength(JSON.stringify(big))).toBeGreaterThan(MAX_STATUS_BYTES);
  });

  it('with the store the same instance keeps a small status whatever the repository', () => {
    const { status } = offloadContent(big, { namespace: 'ns', name: 'i' });
    expect(statusTooLarge(status, true)).toBeUndefined();
    expect(Buffer.byteLength(JSON.stringify(status))).toBeLessThan(1024);
    expect(status.content?.passToPass).toBe(20_000);
  });

  it('lets an ordinary status through', () => {
    expect(
      statusTooLarge({ phase: 'Verified', FAIL_TO_PASS: ['a'], PASS_TO_PASS: ['b'] }, false),
    ).toBeUndefined();
  });
});
