import { rm, rmdir } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import {
  type CurationRunSpec,
  type InstanceRecord,
  type StageResult,
  stageTimeoutSeconds,
} from '../api/index.ts';
import {
  evalReport,
  type InstanceVerdict,
  instanceReport,
  logSegment,
  type PlannedPrediction,
  verdictOf,
} from '../export/eval.ts';
import { stageInputFor } from '../pipeline/pipeline.ts';
import { writeFileAtomic } from './atomic.ts';
import { type EnvironmentStore, environmentForStage, type StageEnvironment } from './environments.ts';
import { type IsolationMode, runStageProcess } from './executor.ts';
import { pool } from './run.ts';

/** One prediction to grade: the instance (from its dataset row) and the patch. */
export type GradeTask = Extract<PlannedPrediction, { kind: 'grade' }> & { instance: InstanceRecord };

export interface LocalEvalOptions {
  /** Test settings (scope, network, time limits) and the verify stage's timeout. */
  runSpec: CurationRunSpec;
  /** The producing run's environment snapshots (`--state-dir`): restored instead of a setup replay. */
  store?: EnvironmentStore | undefined;
  outDir: string;
  cacheDir: string;
  isolation: IsolationMode;
  parallel: number;
  signal: AbortSignal;
  keepWork?: boolean;
  onGraded?: (verdict: InstanceVerdict) => void;
}

const NOTHING: StageEnvironment = { binds: [], release: async () => undefined };

/**
 * Grades one prediction in the stage sandbox (executor.ts: bubblewrap, allowlisted env, tests
 * without network), with the verify stage's contract plus the patch: the instance's snapshot
 * restored when the producing run kept it, else the recipe and lock replayed.
 */
async function gradeOne(opts: LocalEvalOptions, task: GradeTask): Promise<StageResult> {
  const id = task.instance.spec.instanceId;
  const workDir = join(opts.outDir, 'work', id);
  let env = NOTHING;
  try {
    if (opts.store) env = await environmentForStage(opts.store, task.instance, 'verify');
  } catch (error) {
    return failure('EnvironmentRestoreFailed', (error as Error).message);
  }
  try {
    return await runStageProcess(
      {
        ...stageInputFor({
          runSpec: opts.runSpec,
          instance: task.instance.spec,
          status: task.instance.status,
          stage: 'verify',
          llmEndpoint: undefined,
        }),
        ...(env.prepared && { prepared: env.prepared }),
        grade: { modelPatch: task.prediction.model_patch },
      },
      {
        workDir,
        cacheDir: opts.cacheDir,
        timeoutSeconds: stageTimeoutSeconds(opts.runSpec.agents.timeouts, 'verify'),
        isolation: opts.isolation,
        signal: opts.signal,
        binds: env.binds,
        // Beside the cache (the state directory's, or the eval output's): never inside the sandbox's writable dirs.
        gitMirrors: join(dirname(opts.cacheDir), 'git'),
      },
    );
  } finally {
    await env.release();
    if (!opts.keepWork) await rm(workDir, { recursive: true, force: true }).catch(() => undefined);
  }
}

function failure(reason: 'EnvironmentRestoreFailed', message: string): StageResult {
  return {
    stage: 'verify',
    outcome: 'failed',
    reason,
    message,
    tokensUsed: 0,
    durationMs: 0,
    trajectories: [],
  };
}

/**
 * logs/<id>/{patch.diff,test_output.txt,report.json,run_instance.log} of one verdict (none for
 * an id that is no path); run_instance.log: the grading run's log tail, empty without a run.
 */
async function writeInstanceLogs(
  outDir: string,
  v: InstanceVerdict,
  output: string,
  runLog = '',
): Promise<void> {
  const segment = logSegment(v.instanceId);
  if (!segment) return;
  const dir = join(outDir, 'logs', segment);
  await writeFileAtomic(join(dir, 'run_instance.log'), runLog);
  await writeFileAtomic(join(dir, 'patch.diff'), v.patch);
  await writeFileAtomic(join(dir, 'test_output.txt'), output);
  await writeFileAtomic(join(dir, 'report.json'), `${JSON.stringify(instanceReport(v), null, 2)}\n`);
}

/**
 * Grades the planned predictions (at most `parallel` at once) and writes the report:
 * `<out>/report.json` and `<out>/logs/<instance_id>/`. Undefined when interrupted.
 */
export async function evaluateLocal(
  opts: LocalEvalOptions,
  datasetIds: readonly string[],
  planned: readonly PlannedPrediction[],
  instances: ReadonlyMap<string, InstanceRecord>,
): Promise<ReturnType<typeof evalReport> | undefined> {
  const verdicts: InstanceVerdict[] = [];
  for (const p of planned) {
    if (p.kind !== 'decided') continue;
    verdicts.push(p.verdict);
    await writeInstanceLogs(opts.outDir, p.verdict, `${p.verdict.reason}: ${p.verdict.message}\n`);
    opts.onGraded?.(p.verdict);
  }
  const tasks = planned
    .filter((p): p is Extract<PlannedPrediction, { kind: 'grade' }> => p.kind === 'grade')
    .map((p) => ({ ...p, instance: instances.get(p.row.instance_id)! }));
  await pool(tasks, opts.parallel, async (task) => {
    if (opts.signal.aborted) return;
    const result = await gradeOne(opts, task);
    if (opts.signal.aborted) return;
    const verdict = verdictOf(task.prediction, result);
    verdicts.push(verdict);
    const output =
      result.grade?.testOutput ??
      `${result.reason}: ${result.message}\n${result.logTail ? `\n${result.logTail}\n` : ''}`;
    await writeInstanceLogs(opts.outDir, verdict, output, result.logTail ? `${result.logTail}\n` : '');
    opts.onGraded?.(verdict);
  });
  // The work dirs' parent, when nothing was kept there.
  await rmdir(join(opts.outDir, 'work')).catch(() => undefined);
  if (opts.signal.aborted) return undefined;
  const report = evalReport(datasetIds, verdicts);
  await writeFileAtomic(join(opts.outDir, 'report.json'), `${JSON.stringify(report, null, 2)}\n`);
  return report;
}
