import { join } from 'node:path';
import {
  datasetRecord,
  EXPORT_FILES,
  type ExportOptions,
  type RunRecord,
  renderExport,
} from '../export/export-run.ts';
import { DECLARED_KINDS, PARQUET_FILE, toParquet } from '../export/parquet.ts';
import { exampleLabeller } from '../export/trajectories.ts';
import { writeAlignedLinesAtomic, writeFileAtomic, writeLinesAtomic } from '../local/atomic.ts';
import { runFunnel } from '../local/run.ts';
import type { StateDir } from '../local/state.ts';
import { SCALESWE_VERSION } from './version.ts';

export interface ExportSummary {
  dataset: string;
  trajectories: string;
  trajectoriesMeta: string;
  report: string;
  reportChart: string;
  /** Written only when some instance has a mutation score. */
  mutationChart?: string;
  /** Written only with ExportOptions.parquet and some verified instance. */
  parquet?: string;
  /** Written only when the run has solve attempts. */
  solves?: string;
  solvesMeta?: string;
  verified: number;
  examples: number;
  solveExamples: number;
}

const FILES = [
  'dataset',
  'trajectories',
  'trajectoriesMeta',
  'solves',
  'solvesMeta',
  'reportChart',
  'mutationChart',
  'report',
] as const;

/**
 * Writes a run's export (either mode's record) into outDir, each file atomically; report.md
 * last, so the chart it embeds is already there.
 */
export async function writeExport(
  outDir: string,
  run: RunRecord,
  options: ExportOptions = {},
  exportedAt: Date = new Date(),
): Promise<ExportSummary> {
  const rendered = await renderExport(run, { exportedAt, version: SCALESWE_VERSION }, options);
  const paths = Object.fromEntries(FILES.map((f) => [f, join(outDir, EXPORT_FILES[f])])) as Record<
    (typeof FILES)[number],
    string
  >;
  const solving = (run.solves?.length ?? 0) > 0;
  const charting = rendered.files.mutationChart !== '';
  const written = FILES.filter(
    (f) =>
      (solving || (f !== 'solves' && f !== 'solvesMeta')) &&
      (charting || f !== 'mutationChart') &&
      (run.contentOf === undefined || f !== 'dataset') &&
      (run.streamTrajectories === undefined || (f !== 'trajectories' && f !== 'trajectoriesMeta')),
  );
  let records = rendered.records;
  let verified = rendered.verified;
  if (run.contentOf) {
    // Light instances: each Verified one's content is read back and written, then dropped.
    const kept: Record<string, unknown>[] = [];
    verified = 0;
    await writeLinesAtomic(
      paths.dataset,
      datasetLines(run, options, (r) => {
        verified++;
        if (options.parquet) kept.push(r);
      }),
    );
    records = kept;
  }
  let examples = rendered.examples;
  if (run.streamTrajectories) {
    examples = 0;
    const label = exampleLabeller(run.instances, options);
    const stream = run.streamTrajectories;
    await writeAlignedLinesAtomic(
      [paths.trajectories, paths.trajectoriesMeta],
      (async function* () {
        for await (const trajectory of stream()) {
          const labelled = label(trajectory);
          if (!labelled) continue;
          examples++;
          yield [JSON.stringify(labelled.example), JSON.stringify(labelled.labels)];
        }
      })(),
    );
  }
  for (const file of written) await writeFileAtomic(paths[file], rendered.files[file]);
  const declared = DECLARED_KINDS[options.format ?? 'swebench'];
  const parquet = options.parquet ? toParquet(records, declared) : undefined;
  if (parquet) await writeFileAtomic(join(outDir, PARQUET_FILE), parquet);
  const { solves, solvesMeta, mutationChart, ...always } = paths;
  return {
    ...always,
    ...(parquet && { parquet: join(outDir, PARQUET_FILE) }),
    ...(solving && { solves, solvesMeta }),
    ...(charting && { mutationChart }),
    verified,
    examples,
    solveExamples: rendered.solves,
  };
}

/**
 * dataset.jsonl's lines from light instances, reading content for 16 Verified instances at a
 * time (in order): memory holds one batch, not the dataset. `onRecord` sees each record.
 */
async function* datasetLines(
  run: RunRecord,
  options: ExportOptions,
  onRecord: (record: Record<string, unknown>) => void,
): AsyncGenerator<string> {
  const verified = run.instances.filter((i) => i.status?.phase === 'Verified');
  for (let i = 0; i < verified.length; i += 16) {
    const batch = await Promise.all(verified.slice(i, i + 16).map((r) => run.contentOf!(r)));
    for (const instance of batch) {
      const record = datasetRecord(instance, options) as Record<string, unknown> | undefined;
      if (record === undefined) continue;
      onRecord(record);
      yield JSON.stringify(record);
    }
  }
}

/** The record of a local state directory: run.json, the instance files, the trajectory files. */
export async function exportLocal(
  state: StateDir,
  outDir: string,
  options: ExportOptions = {},
): Promise<ExportSummary> {
  const run = await state.loadRun();
  if (!run) throw new Error(`${state.root} holds no run (run.json missing)`);
  const instances = await state.listInstances();
  const funnel = runFunnel(run, instances.length);
  return writeExport(
    outDir,
    {
      runName: run.name,
      source: run.spec.source,
      discovered: funnel.discovered,
      rejectedByReason: funnel.rejectedByReason,
      instances,
      trajectories: [],
      streamTrajectories: () => state.trajectories(),
      solves: await state.listSolveAttempts(),
      price: run.spec.llm?.price,
    },
    options,
  );
}
