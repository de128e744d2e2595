import { join } from 'node:path';
import { EXPORT_FILES, type ExportOptions, type RunRecord, renderExport } from '../export/export-run.ts';
import { DECLARED_KINDS, PARQUET_FILE, toParquet } from '../export/parquet.ts';
import { writeFileAtomic } from '../local/atomic.ts';
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
    (f) => (solving || (f !== 'solves' && f !== 'solvesMeta')) && (charting || f !== 'mutationChart'),
  );
  for (const file of written) await writeFileAtomic(paths[file], rendered.files[file]);
  const declared = DECLARED_KINDS[options.format ?? 'swebench'];
  const parquet = options.parquet ? toParquet(rendered.records, declared) : undefined;
  if (parquet) await writeFileAtomic(join(outDir, PARQUET_FILE), parquet);
  const { solves, solvesMeta, mutationChart, ...always } = paths;
  return {
    ...always,
    ...(parquet && { parquet: join(outDir, PARQUET_FILE) }),
    ...(solving && { solves, solvesMeta }),
    ...(charting && { mutationChart }),
    verified: rendered.verified,
    examples: rendered.examples,
    solveExamples: rendered.solves,
  };
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
      trajectories: await state.listTrajectories(),
      solves: await state.listSolveAttempts(),
      price: run.spec.llm?.price,
    },
    options,
  );
}
