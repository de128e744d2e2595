import type { InstanceRecord, Trajectory } from '../api/index.ts';
import { renderReport } from './report.ts';
import { toScaleSweRecord } from './scaleswe-format.ts';
import { type SweBenchOptions, toJsonl, toSweBenchRecord } from './swebench.ts';
import { labelledExamples, type TrajectoryFilter } from './trajectories.ts';

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
  trajectoriesMeta: 'trajectories.meta.jsonl',
  report: 'report.md',
} as const;

/** `swebench`: SWE-bench 5.x records (the harness grades them); `scaleswe`: the released Scale-SWE schema. */
export const DATASET_FORMATS = ['swebench', 'scaleswe'] as const;
export type DatasetFormat = (typeof DATASET_FORMATS)[number];

export interface ExportOptions extends SweBenchOptions, TrajectoryFilter {
  format?: DatasetFormat;
}

export interface RenderedExport {
  files: Record<keyof typeof EXPORT_FILES, string>;
  verified: number;
  examples: number;
}

/**
 * The one exporter, pure: dataset.jsonl (Verified instances), trajectories.jsonl (OpenAI chat
 * examples, only the keys fine-tuning accepts), trajectories.meta.jsonl (each example's labels,
 * same order) and report.md.
 */
export function renderExport(run: RunRecord, options: ExportOptions = {}): RenderedExport {
  const records = run.instances
    .map((i) => (options.format === 'scaleswe' ? toScaleSweRecord(i) : toSweBenchRecord(i, options)))
    .filter((r) => r !== undefined);
  const examples = labelledExamples(run.trajectories, run.instances, options);
  return {
    files: {
      dataset: toJsonl(records),
      trajectories: toJsonl(examples.map((e) => e.example)),
      trajectoriesMeta: toJsonl(examples.map((e) => e.labels)),
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
