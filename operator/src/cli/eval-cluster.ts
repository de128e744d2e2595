import { join } from 'node:path';
import {
  EVALUATIONS,
  Evaluation,
  FINAL_PREDICTION_STATUSES,
  type PredictionResult,
  SWEINSTANCES,
  SWEInstance,
} from '../api/index.ts';
import {
  type EvalReport,
  type EvalStatus,
  evalReport,
  type InstanceVerdict,
  instanceReport,
  logSegment,
} from '../export/eval.ts';
import type { Kube } from '../kube/index.ts';
import { writeFileAtomic } from '../local/atomic.ts';
import {
  ANNOTATION_ATTEMPT,
  ANNOTATION_INSTANCE_ID,
  ANNOTATION_PATCH_DIGEST,
  GRADE_LOG_FILES,
  LABEL_EVALUATION,
  LABEL_GRADE_LOG,
  labelValue,
} from '../sandbox/index.ts';

/**
 * `scaleswe eval-report <evaluation>`: an Evaluation of the cluster as the report `scaleswe
 * eval` writes locally — SWE-bench's report.json from its status, logs/<instance_id>/ from the
 * grade-log ConfigMaps the operator keeps per graded pod (sandbox/grade-log.ts) — plus
 * results.json, the status's results as they are.
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
  await writeInstanceLogs(kube, namespace, name, out, results);
  await writeFileAtomic(join(out, 'report.json'), `${JSON.stringify(report, null, 2)}\n`);
  await writeFileAtomic(join(out, 'results.json'), `${JSON.stringify(results, null, 2)}\n`);
  return {
    report,
    pending: results.length - verdicts.length,
    phase: evaluation.status?.phase ?? 'Pending',
  };
}

/**
 * logs/<instance_id>/{patch.diff,test_output.txt,report.json,run_instance.log} of each result with a verdict:
 * the grade log of its last pod, or (decided without a pod: empty patch, unknown id) what the
 * status says.
 */
async function writeInstanceLogs(
  kube: Kube,
  namespace: string,
  name: string,
  out: string,
  results: readonly PredictionResult[],
): Promise<void> {
  const maps = (
    await kube.listConfigMaps(namespace, `${LABEL_EVALUATION}=${labelValue(name)},${LABEL_GRADE_LOG}=true`)
  ).items;
  for (const r of results) {
    const verdict = verdictOfResult(r);
    const segment = logSegment(r.instanceId);
    if (!verdict || !segment) continue;
    const log = maps
      .filter((cm) => {
        const a = cm.metadata?.annotations ?? {};
        return a[ANNOTATION_INSTANCE_ID] === r.instanceId && a[ANNOTATION_PATCH_DIGEST] === r.patchDigest;
      })
      .sort(
        (a, b) =>
          Number(b.metadata?.annotations?.[ANNOTATION_ATTEMPT]) -
          Number(a.metadata?.annotations?.[ANNOTATION_ATTEMPT]),
      )[0];
    const files: Record<string, string> = log?.data ?? {
      'patch.diff': '',
      'test_output.txt': `${r.reason}: ${r.message}\n`,
      'report.json': `${JSON.stringify(instanceReport(verdict), null, 2)}\n`,
    };
    for (const file of GRADE_LOG_FILES)
      await writeFileAtomic(join(out, 'logs', segment, file), files[file] ?? '');
  }
}
