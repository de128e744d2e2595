import { describe, expect, it } from 'vitest';
import { HEAP_WARN_INTERVAL_MS, heapPressure } from './heap-watch.ts';

const MiB = 2 ** 20;

describe('heapPressure', () => {
  it('warns once the heap after a full GC passes 80% of the limit, naming both and the value to raise', () => {
    expect(heapPressure({ usedBytes: 100 * MiB, limitBytes: 128 * MiB }, undefined, 0)).toBeUndefined();
    const warning = heapPressure({ usedBytes: 110 * MiB, limitBytes: 128 * MiB }, undefined, 0);
    expect(warning).toMatchObject({ liveMiB: 110, limitMiB: 128 });
    expect(warning?.message).toContain('110 MiB of its 128 MiB limit');
    expect(warning?.message).toContain('heapLimitMiB');
  });

  it('says it again only after the interval', () => {
    const stats = { usedBytes: 120 * MiB, limitBytes: 128 * MiB };
    expect(heapPressure(stats, 1_000, 1_000 + HEAP_WARN_INTERVAL_MS - 1)).toBeUndefined();
    expect(heapPressure(stats, 1_000, 1_000 + HEAP_WARN_INTERVAL_MS)).toBeDefined();
  });
});
