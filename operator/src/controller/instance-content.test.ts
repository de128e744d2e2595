import { describe, expect, it } from 'vitest';
import { ContentCache } from './instance-content.ts';

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
