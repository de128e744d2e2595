import { REJECT_REASONS, type RejectedPR, type RejectReason } from './types.ts';

/** The candidate funnel of a run: discovered → kept, rejects by reason (CurationRun.status). */
export interface Funnel {
  discovered: number;
  kept: number;
  rejected: number;
  rejectedByReason: Partial<Record<RejectReason, number>>;
}

export function emptyFunnel(): Funnel {
  return { discovered: 0, kept: 0, rejected: 0, rejectedByReason: {} };
}

/**
 * Pure: the funnel after `kept` more candidates and these rejects (one mining page, or a
 * run's whole record). Reasons with zero rejects stay absent, as in status. The one funnel
 * rule: the operator folds pages into CurationRun.status with it, the local run its record.
 */
export function addToFunnel(funnel: Funnel, page: { kept: number; rejected: readonly RejectedPR[] }): Funnel {
  const byReason = { ...funnel.rejectedByReason };
  for (const r of page.rejected) byReason[r.reason] = (byReason[r.reason] ?? 0) + 1;
  return {
    discovered: funnel.discovered + page.kept + page.rejected.length,
    kept: funnel.kept + page.kept,
    rejected: funnel.rejected + page.rejected.length,
    rejectedByReason: byReason,
  };
}

/** Human-readable funnel, reasons in REJECT_REASONS order: "120 discovered → 31 kept; TooManyFiles 40, …". */
export function formatFunnel(funnel: Funnel): string {
  const reasons = REJECT_REASONS.filter((r) => (funnel.rejectedByReason[r] ?? 0) > 0).map(
    (r) => `${r} ${funnel.rejectedByReason[r]}`,
  );
  const head = `${funnel.discovered} discovered → ${funnel.kept} kept`;
  return reasons.length === 0 ? head : `${head}; ${reasons.join(', ')}`;
}
