import type { SWEInstanceSpecInput } from '../api/index.ts';

/** A merged PR that passed the candidate filter: everything an SWEInstance spec needs but its run. */
export type CandidatePR = Omit<SWEInstanceSpecInput, 'runRef'> & { mergedAt: string };

export const REJECT_REASONS = [
  'NoCodeChange',
  'DocsOrLockfileOnly',
  'BinaryOnly',
  'TooManyFiles',
  'TooManyLines',
  'NoTestsAndGenerationDisabled',
  'NoLinkedIssue',
  'LabelFiltered',
  'NotMerged',
  'UnsupportedLanguage',
] as const;
export type RejectReason = (typeof REJECT_REASONS)[number];

export interface RejectedPR {
  pullNumber: number;
  reason: RejectReason;
  detail: string;
}

/** One step of mining. The cursor is opaque and survives restarts (CurationRun.status.cursor). */
export interface MiningPage {
  candidates: CandidatePR[];
  rejected: RejectedPR[];
  cursor: string | undefined;
  exhausted: boolean;
}

export interface PrSource {
  /** Next page after `cursor` (undefined = start), at most `limit` PRs examined. */
  nextPage(cursor: string | undefined, limit: number): Promise<MiningPage>;
}
