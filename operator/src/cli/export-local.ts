import { join } from 'node:path';
import { renderReport } from '../export/report.ts';
import { type SweBenchRecord, toJsonl, toSweBenchRecord } from '../export/swebench.ts';
import { type ChatExample, toChatExample } from '../export/trajectories.ts';
import { writeFileAtomic } from '../local/atomic.ts';
import { funnel } from '../local/run.ts';
import type { StateDir } from '../local/state.ts';

export interface ExportSummary {
  dataset: string;
  trajectories: string;
  report: string;
  verified: number;
  examples: number;
}

/** Writes dataset.jsonl, trajectories.jsonl and report.md from a local state directory. */
export async function exportLocal(state: StateDir, outDir: string): Promise<ExportSummary> {
  const run = await state.loadRun();
  if (!run) throw new Error(`${state.root} holds no run (run.json missing)`);
  const instances = await state.listInstances();
  const records = instances.map(toSweBenchRecord).filter((r): r is SweBenchRecord => r !== undefined);
  const verifiedIds = new Set(records.map((r) => r.instance_id));
  // Trajectories of every instance are useful for training, not only verified ones; the
  // metadata says which instance each came from.
  const examples = (await state.listTrajectories())
    .map(toChatExample)
    .filter((e): e is ChatExample => e !== undefined);
  const stageDurationsMs: Record<string, number[]> = {};
  for (const instance of instances) {
    for (const [stage, ms] of Object.entries(instance.stageDurationsMs)) {
      if (ms !== undefined) stageDurationsMs[stage] = [...(stageDurationsMs[stage] ?? []), ms];
    }
  }
  const counts = funnel(run, instances.length);
  const paths = {
    dataset: join(outDir, 'dataset.jsonl'),
    trajectories: join(outDir, 'trajectories.jsonl'),
    report: join(outDir, 'report.md'),
  };
  await writeFileAtomic(paths.dataset, toJsonl(records));
  await writeFileAtomic(paths.trajectories, toJsonl(examples));
  await writeFileAtomic(
    paths.report,
    renderReport({
      runName: run.name,
      discovered: counts.discovered,
      rejectedByReason: counts.rejectedByReason,
      instances,
      stageDurationsMs,
    }),
  );
  return { ...paths, verified: verifiedIds.size, examples: examples.length };
}
