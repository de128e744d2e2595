import type { CurationRunSpec, InstanceRecord, Price, SolveAttempt, Trajectory } from '../api/index.ts';
import {
  funnelSteps,
  MUTATION_CHART_FILE,
  mutationScores,
  REPORT_CHART_FILE,
  renderReport,
} from './report.ts';
import { renderFunnelSvg, renderScoreHistogramSvg } from './report-chart.ts';
import { toScaleSweRecord } from './scaleswe-format.ts';
import { type SolveFilter, solveExamples } from './solves.ts';
import { type SweBenchOptions, toJsonl, toSweBenchRecord } from './swebench.ts';
import { labelledExamples, type TrajectoryFilter } from './trajectories.ts';

/** What either mode hands the exporter: the run's funnel, its instance records and trajectories. */
export interface RunRecord {
  runName: string;
  /** Where the run mined (its spec.source); undefined when the run's spec could not be read. */
  source: CurationRunSpec['source'] | undefined;
  /** PRs mining examined, and its rejects by reason. */
  discovered: number;
  rejectedByReason: Record<string, number>;
  instances: readonly InstanceRecord[];
  trajectories: readonly Trajectory[];
  /** Solve attempts (spec.solve); none when the run did not solve. */
  solves?: readonly SolveAttempt[] | undefined;
  /** The run's spec.llm.price: report.md prices its tokens only with it. */
  price?: Price | undefined;
  /**
   * Set when `instances` are light (their bulky fields in the dataset store, status.content):
   * reads one instance's content back. dataset.jsonl is then written one instance at a time
   * (writeExport), never the whole dataset in memory; everything else reads the light records.
   */
  contentOf?: ((instance: InstanceRecord) => Promise<InstanceRecord>) | undefined;
  /**
   * Set when the trajectories are read one at a time (`trajectories` is then unused):
   * trajectories.jsonl and its meta file are written as they arrive (writeExport), never
   * all of them in memory.
   */
  streamTrajectories?: (() => AsyncIterable<Trajectory>) | undefined;
}

export const EXPORT_FILES = {
  dataset: 'dataset.jsonl',
  trajectories: 'trajectories.jsonl',
  trajectoriesMeta: 'trajectories.meta.jsonl',
  solves: 'solves.jsonl',
  solvesMeta: 'solves.meta.jsonl',
  report: 'report.md',
  reportChart: REPORT_CHART_FILE,
  mutationChart: MUTATION_CHART_FILE,
} as const;

/** `swebench`: SWE-bench 5.x records (the harness grades them); `scaleswe`: the released Scale-SWE schema. */
export const DATASET_FORMATS = ['swebench', 'scaleswe'] as const;
export type DatasetFormat = (typeof DATASET_FORMATS)[number];

export interface ExportOptions extends SweBenchOptions, TrajectoryFilter, SolveFilter {
  format?: DatasetFormat;
  /** Also write the dataset as dataset.parquet (the records of dataset.jsonl, typed columns). */
  parquet?: boolean;
}

/** Who wrote the export and when (report.md's header), given by the caller so rendering stays pure. */
export interface ExportProvenance {
  exportedAt: Date;
  /** The scaleswe version (package.json). */
  version: string;
}

export interface RenderedExport {
  files: Record<keyof typeof EXPORT_FILES, string>;
  /** dataset.jsonl's records, one per line (dataset.parquet is written from them). */
  records: readonly Record<string, unknown>[];
  verified: number;
  examples: number;
  solves: number;
}

/**
 * The one exporter, pure: dataset.jsonl (Verified instances), trajectories.jsonl (OpenAI chat
 * examples, only the keys fine-tuning accepts), trajectories.meta.jsonl (each example's labels,
 * same order), report.md and the charts it embeds (report-funnel.svg; report-mutation.svg when
 * some instance has a mutation score).
 */
export async function renderExport(
  run: RunRecord,
  provenance: ExportProvenance,
  options: ExportOptions = {},
): Promise<RenderedExport> {
  // Light instances: the dataset is the streaming writer's (writeExport), not rendered here.
  const records = run.contentOf ? [] : run.instances.map((i) => datasetRecord(i, options)).filter(isRecord);
  // Streamed trajectories: their files are the streaming writer's (writeExport), as the dataset's.
  const examples = run.streamTrajectories ? [] : labelledExamples(run.trajectories, run.instances, options);
  const solves = solveExamples(run.solves ?? [], options);
  const scores = mutationScores(run.instances);
  const report = {
    runName: run.runName,
    discovered: run.discovered,
    rejectedByReason: run.rejectedByReason,
    instances: run.instances,
  };
  return {
    files: {
      dataset: toJsonl(records),
      trajectories: toJsonl(examples.map((e) => e.example)),
      trajectoriesMeta: toJsonl(examples.map((e) => e.labels)),
      solves: toJsonl(solves.map((e) => e.example)),
      solvesMeta: toJsonl(solves.map((e) => e.labels)),
      report: renderReport({
        ...report,
        source: run.source,
        exportedAt: provenance.exportedAt,
        version: provenance.version,
        price: run.price,
        solves: run.solves,
      }),
      reportChart: await renderFunnelSvg(`Funnel of run ${run.runName}`, funnelSteps(report)),
      // '' when no instance has a mutation score: the file is not written then.
      mutationChart: scores.length
        ? await renderScoreHistogramSvg(
            `Mutation scores of run ${run.runName}`,
            'mutation score (gold-patch mutants killed)',
            scores,
          )
        : '',
    },
    records: records as Record<string, unknown>[],
    verified: records.length,
    examples: examples.length,
    solves: solves.length,
  };
}

/** The dataset record of one instance in the chosen format; undefined unless Verified. */
export function datasetRecord(instance: InstanceRecord, options: ExportOptions = {}): object | undefined {
  return options.format === 'scaleswe' ? toScaleSweRecord(instance) : toSweBenchRecord(instance, options);
}

const isRecord = (r: object | undefined): r is object => r !== undefined;
