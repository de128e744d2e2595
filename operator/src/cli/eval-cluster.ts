import { join } from 'node:path';
import {
  EVALUATIONS,
  Evaluation,
  FINAL_PREDICTION_STATUSES,
  type PredictionResult,
  SWEINSTANCES,
  SWEInstance,
} from '../api/index.ts';
import { type EvalReport, type EvalStatus, evalReport, type InstanceVerdict } from '../export/eval.ts';
import type { Kube } from '../kube/index.ts';
import { writeFileAtomic } from '../local/atomic.ts';

/**
 * `scaleswe eval-report <evaluation>`: an Evaluation of the cluster as the report `scaleswe
 * eval` writes locally (SWE-bench's report.json), from its status. The status keeps counts,
 * not test output: per-instance results go to results.json as the status has them.
 */

/** A graded result as a verdict of export/eval.ts; undefined while it has none. */
export function verdictOfResult(r: PredictionResult): InstanceVerdict | undefined {
  if (!FINAL_PREDICTION_STATUSES.has(r.status)) return undefined;
  return {
    instanceId: r.instanceId,
    modelName: r.modelName,
    status: r.status as EvalStatus,
    reason: r.reason,
    message: r.message,
    patch: '',
    patchApplied: r.patchApplied,
  };
}

/** The Evaluation's dataset as instance ids: the Verified instances it names. */
async function datasetIds(kube: Kube, namespace: string, evaluation: Evaluation): Promise<string[]> {
  const { runRef, names } = evaluation.spec.instances;
  const wanted = new Set(names ?? []);
  const items = (await kube.list<{ metadata: { name?: string } }>(SWEINSTANCES, namespace)).items;
  return items
    .flatMap((raw) => {
      const parsed = SWEInstance.safeParse(raw);
      return parsed.success ? [parsed.data] : [];
    })
    .filter((i) => i.status?.phase === 'Verified')
    .filter((i) => (runRef ? i.spec.runRef === runRef : wanted.has(i.metadata.name ?? '')))
    .map((i) => i.spec.instanceId)
    .sort();
}

export async function writeClusterEvalReport(
  kube: Kube,
  namespace: string,
  name: string,
  out: string,
): Promise<{ report: EvalReport; pending: number; phase: string }> {
  const evaluation = Evaluation.parse(await kube.get(EVALUATIONS, namespace, name));
  const results = evaluation.status?.results ?? [];
  const verdicts = results.flatMap((r) => verdictOfResult(r) ?? []);
  const report = evalReport(await datasetIds(kube, namespace, evaluation), verdicts);
  await writeFileAtomic(join(out, 'report.json'), `${JSON.stringify(report, null, 2)}\n`);
  await writeFileAtomic(join(out, 'results.json'), `${JSON.stringify(results, null, 2)}\n`);
  return {
    report,
    pending: results.length - verdicts.length,
    phase: evaluation.status?.phase ?? 'Pending',
  };
}
