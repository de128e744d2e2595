import type { z } from 'zod';
import type { CurationRunSpec, LinkedIssue, SWEInstanceSpecInput } from '../api/index.ts';

/** A merged PR that passed the candidate filter: everything an SWEInstance spec needs but its run. */
export type CandidatePR = Omit<SWEInstanceSpecInput, 'runRef' | 'prContent'> & {
  mergedAt: string;
  patch: string;
};

/** The run's PR filters with defaults applied (maxFiles, maxLines, … always present). */
export type MiningFilters = CurationRunSpec['filters'];

export type LinkedIssueInput = z.input<typeof LinkedIssue>;

/** In funnel order: selection and metadata first, then the change, then the links. */
export const REJECT_REASONS = [
  'NotFound',
  'NoPullNumber',
  'NoCodeChange',
  'DocsOrLockfileOnly',
  'BinaryOnly',
  'TooManyFiles',
  'TooManyLines',
  'NoTestsAndGenerationDisabled',
  'NoTestsAndNoLlm',
  'NoLinkedIssue',
  'LabelFiltered',
  'NotMerged',
  'UnsupportedLanguage',
] as const;
export type RejectReason = (typeof REJECT_REASONS)[number];

export interface RejectedPR {
  /** 0 when the source knows no PR number (a commit without one, a commit id not found). */
  pullNumber: number;
  reason: RejectReason;
  detail: string;
  /** The commit, when that is what identifies the reject (git history, the commits filter). */
  commit?: string;
}

/** One key per rejected PR or commit: pages re-read after a crash must not count a reject twice. */
export function rejectKey(r: RejectedPR): string {
  return r.pullNumber === 0 ? `commit:${r.commit ?? ''}` : `pr:${r.pullNumber}`;
}

/** One step of mining. The cursor is opaque and survives restarts (CurationRun.status.cursor). */
export interface MiningPage {
  candidates: CandidatePR[];
  rejected: RejectedPR[];
  /** Resume token: pass it to the next call. Undefined only when nothing has been examined yet. */
  cursor: string | undefined;
  exhausted: boolean;
}

export interface PrSource {
  /**
   * Next page after `cursor` (undefined = start), at most `limit` PRs examined (kept + rejected).
   * Calling again with the same cursor yields the same PRs, so a crash between reading a page and
   * persisting its cursor repeats work but never skips any; instance ids make the repeat harmless.
   */
  nextPage(cursor: string | undefined, limit: number): Promise<MiningPage>;
}
