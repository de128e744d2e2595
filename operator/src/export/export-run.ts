import type { InstanceRecord, Trajectory } from '../api/index.ts';
import { renderReport } from './report.ts';
import { type SweBenchRecord, toJsonl, toSweBenchRecord } from './swebench.ts';
import { type ChatExample, toChatExample } from './trajectories.ts';

/** What either mode hands the exporter: the run's funnel, its instance records and trajectories. */
export interface RunRecord {
  runName: string;
  /** PRs mining examined, and its rejects by reason. */
  discovered: number;
  rejectedByReason: Record<string, number>;
  instances: readonly InstanceRecord[];
  trajectories: readonly Trajectory[];
}

export const EXPORT_FILES = {
  dataset: 'dataset.jsonl',
  trajectories: 'trajectories.jsonl',
  report: 'report.md',
} as const;

export interface RenderedExport {
  files: Record<keyof typeof EXPORT_FILES, string>;
  verified: number;
  examples: number;
}

/**
 * The one exporter, pure: dataset.jsonl (Verified instances, SWE-bench), trajectories.jsonl
 * (every conversation, verified or not: the metadata names the instance) and report.md.
 */
export function renderExport(run: RunRecord): RenderedExport {
  const records = run.instances.map(toSweBenchRecord).filter((r): r is SweBenchRecord => r !== undefined);
  const examples = run.trajectories.map(toChatExample).filter((e): e is ChatExample => e !== undefined);
  return {
    files: {
      dataset: toJsonl(records),
      trajectories: toJsonl(examples),
      report: renderReport({
        runName: run.runName,
        discovered: run.discovered,
        rejectedByReason: run.rejectedByReason,
        instances: run.instances,
      }),
    },
    verified: records.length,
    examples: examples.length,
  };
}
