// The operator runs with a bounded old generation (the chart's heapLimitMiB → --max-old-space-size)
// so its peak memory stays near its live set instead of V8's default headroom. The live set grows
// with the objects the informers cache; before it reaches the limit (an OOM crash loop), say so.
import { constants, type PerformanceEntry, PerformanceObserver } from 'node:perf_hooks';
import { getHeapStatistics } from 'node:v8';
import type { Logger } from './log.ts';

/** Warn when the heap after a full GC (≈ the live set) is over this share of the limit. */
export const HEAP_WARN_RATIO = 0.8;
/** At most one warning per interval: a heap near its limit stays there. */
export const HEAP_WARN_INTERVAL_MS = 10 * 60_000;

export interface HeapPressure {
  liveMiB: number;
  limitMiB: number;
  message: string;
}

/** The warning to log after a full GC, if any. Pure. */
export function heapPressure(
  stats: { usedBytes: number; limitBytes: number },
  lastWarnedAt: number | undefined,
  now: number,
): HeapPressure | undefined {
  if (stats.usedBytes <= HEAP_WARN_RATIO * stats.limitBytes) return undefined;
  if (lastWarnedAt !== undefined && now - lastWarnedAt < HEAP_WARN_INTERVAL_MS) return undefined;
  const liveMiB = Math.round(stats.usedBytes / 2 ** 20);
  const limitMiB = Math.round(stats.limitBytes / 2 ** 20);
  return {
    liveMiB,
    limitMiB,
    message: `the heap after a full GC is ${liveMiB} MiB of its ${limitMiB} MiB limit: raise the chart's heapLimitMiB (--max-old-space-size) before the operator runs out of memory`,
  };
}

/** Checks the heap after every full (mark-compact) GC; returns the stop function. */
export function watchHeap(log: Logger): () => void {
  let lastWarnedAt: number | undefined;
  const observer = new PerformanceObserver((list) => {
    // A gc entry's detail.kind says which collector ran (@types/node does not type it).
    const major = (e: PerformanceEntry) =>
      (e as unknown as { detail?: { kind?: number } }).detail?.kind === constants.NODE_PERFORMANCE_GC_MAJOR;
    if (!list.getEntries().some(major)) return;
    const stats = getHeapStatistics();
    const pressure = heapPressure(
      { usedBytes: stats.used_heap_size, limitBytes: stats.heap_size_limit },
      lastWarnedAt,
      Date.now(),
    );
    if (!pressure) return;
    lastWarnedAt = Date.now();
    log.warn({ liveMiB: pressure.liveMiB, limitMiB: pressure.limitMiB }, pressure.message);
  });
  observer.observe({ entryTypes: ['gc'] });
  return () => observer.disconnect();
}
