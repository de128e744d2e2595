import type { MiningFilters, RejectedPR } from './types.ts';

/**
 * filters.pullNumbers / filters.commits: the PRs a run is limited to. Sources mine a selection by
 * looking its items up rather than walking all history, in a fixed order (sorted, duplicates
 * dropped), so a cursor is simply the last item examined and mining ends with the list.
 */
export type Selection = { kind: 'pullNumbers'; items: number[] } | { kind: 'commits'; items: string[] };

export function selectionOf(filters: Pick<MiningFilters, 'pullNumbers' | 'commits'>): Selection | undefined {
  if (filters.pullNumbers !== undefined) {
    return { kind: 'pullNumbers', items: [...new Set(filters.pullNumbers)].sort((a, b) => a - b) };
  }
  if (filters.commits !== undefined) {
    return { kind: 'commits', items: [...new Set(filters.commits.map((c) => c.toLowerCase()))].sort() };
  }
  return undefined;
}

const CURSOR_PREFIX = 'sel1.';

export function isSelectionCursor(cursor: string): boolean {
  return cursor.startsWith(CURSOR_PREFIX);
}

export interface SelectionPage<T> {
  items: T[];
  /** Resume token after these items (the one given when there are none). */
  cursor: string | undefined;
  exhausted: boolean;
}

/** Pure: the next `limit` items after the cursor's item. Items added before it later are not revisited. */
export function selectionPage<T extends number | string>(
  items: readonly T[],
  cursor: string | undefined,
  limit: number,
): SelectionPage<T> {
  if (cursor !== undefined && !isSelectionCursor(cursor)) {
    throw new Error(
      `not a selection cursor (filters.pullNumbers/commits changed mid-run?): ${cursor.slice(0, 40)}`,
    );
  }
  const after = cursor?.slice(CURSOR_PREFIX.length);
  const rest =
    after === undefined
      ? items
      : items.filter((i) => (typeof i === 'number' ? i > Number(after) : String(i) > after));
  const page = rest.slice(0, Math.max(limit, 1));
  const last = page.at(-1);
  return {
    items: page,
    cursor: last === undefined ? cursor : `${CURSOR_PREFIX}${last}`,
    exhausted: page.length === rest.length,
  };
}

/** Does a full commit id match a listed id (full or a prefix; the list is lower case)? */
export function commitMatches(listed: string, sha: string): boolean {
  return sha.toLowerCase().startsWith(listed);
}

export function notFoundPull(pullNumber: number, where: string): RejectedPR {
  return { pullNumber, reason: 'NotFound', detail: `PR #${pullNumber} not found ${where}` };
}

export function notFoundCommit(commit: string, where: string): RejectedPR {
  return { pullNumber: 0, commit, reason: 'NotFound', detail: `commit ${commit} not found ${where}` };
}
