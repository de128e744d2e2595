import { existsSync, readFileSync } from 'node:fs';
import { basename, extname, join, resolve } from 'node:path';
import { CurationRunSpec, type InstanceRecord } from '../api/index.ts';
import {
  cloneUrlFor,
  type EvalReport,
  type InstanceVerdict,
  instanceFromRow,
  type Parsed,
  parseDataset,
  parsePredictions,
  planEval,
} from '../export/eval.ts';
import { EnvironmentStore } from '../local/environments.ts';
import { evaluateLocal } from '../local/eval.ts';
import type { IsolationMode } from '../local/executor.ts';
import { StateDir } from '../local/state.ts';
import { lockStateDir, type StateLock } from '../local/state-lock.ts';
import { UserError } from './user-error.ts';

export interface EvalFlags {
  dataset: string;
  predictions: string;
  stateDir?: string;
  repo?: string;
  out?: string;
  parallel: number;
  keepWork?: boolean;
}

/** A bad input file stops the run before anything is graded: one line, exit 2. */
function readInput<T>(file: string, parse: (text: string, file: string) => Parsed<T>): T {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    throw new UserError(`${file}: ${code === 'ENOENT' ? 'no such file' : (error as Error).message}`);
  }
  const parsed = parse(text, file);
  if (!parsed.ok) throw new UserError(parsed.error);
  return parsed.value;
}

/** A local path as an absolute one (the sandbox binds it read-only); URLs as given. */
function resolveRepo(value: string): string {
  if (/^[a-z+]+:\/\//.test(value) || /^[^/]+@[^:]+:/.test(value)) return value;
  const path = resolve(value);
  if (!existsSync(path)) throw new UserError(`--repo ${value}: no such directory`);
  return path;
}

const LABEL: Record<InstanceVerdict['status'], string> = {
  resolved: 'resolved',
  unresolved: 'unresolved',
  empty_patch: 'empty patch',
  error: 'error',
};

function summary(report: EvalReport): string {
  return [
    `${report.resolved_instances} resolved`,
    `${report.unresolved_instances} unresolved`,
    `${report.empty_patch_instances} empty patch`,
    `${report.error_instances} error`,
  ].join(', ');
}

/**
 * `scaleswe eval`: reads the dataset and the predictions (exit 2 when either is unreadable),
 * plans, grades in the stage sandbox and writes `<out>/report.json` and `<out>/logs/`.
 * With `--state-dir`, the producing run's state is locked while its environments are used.
 */
export async function evalCommand(flags: EvalFlags, isolation: IsolationMode, signal: AbortSignal) {
  const rows = readInput(flags.dataset, parseDataset);
  const predictions = readInput(flags.predictions, parsePredictions);
  const repo = flags.repo === undefined ? undefined : resolveRepo(flags.repo);
  const out = resolve(
    flags.out ??
      join('.scaleswe', 'eval', basename(flags.predictions, extname(flags.predictions)) || 'preds'),
  );
  let lock: StateLock | undefined;
  try {
    let runSpec = CurationRunSpec.parse({ source: { git: { url: repo ?? 'https://github.com/' } } });
    let store: EnvironmentStore | undefined;
    let cacheDir = join(out, 'cache');
    const recorded = new Map<string, string>();
    if (flags.stateDir !== undefined) {
      const state = new StateDir(resolve(flags.stateDir));
      const run = await state.loadRun();
      if (!run) throw new UserError(`${state.root}: no local run state here (run.json missing)`);
      // Its snapshots are restored into its work dirs: no run may use them meanwhile.
      lock = await lockStateDir(state.root);
      runSpec = run.spec;
      store = new EnvironmentStore(state.root);
      cacheDir = join(state.root, 'cache');
      for (const i of await state.listInstances()) recorded.set(i.spec.instanceId, i.spec.cloneURL);
    }
    const instances = new Map<string, InstanceRecord>(
      rows.map((row) => [
        row.instance_id,
        instanceFromRow(row, cloneUrlFor(row, { repo, recorded: recorded.get(row.instance_id) })),
      ]),
    );
    const planned = planEval(rows, predictions);
    const toGrade = planned.filter((p) => p.kind === 'grade').length;
    console.log(
      `scaleswe eval: ${predictions.length} prediction(s) for ${rows.length} instance(s); grading ${toGrade} → ${out}`,
    );
    const report = await evaluateLocal(
      {
        runSpec,
        store,
        outDir: out,
        cacheDir,
        isolation,
        parallel: flags.parallel,
        signal,
        keepWork: flags.keepWork ?? false,
        onGraded: (v) =>
          console.log(
            `${v.instanceId}: ${LABEL[v.status]} (${v.reason})${v.status === 'error' || v.status === 'unresolved' ? `: ${v.message.split('\n')[0]!.slice(0, 200)}` : ''}`,
          ),
      },
      rows.map((r) => r.instance_id),
      planned,
      instances,
    );
    if (!report) throw new UserError('interrupted: no report written', 130);
    console.log(`scaleswe eval: ${summary(report)} (of ${report.total_instances} instances in the dataset)`);
    console.log(`report: ${join(out, 'report.json')} (per instance: ${join(out, 'logs', '<instance_id>')}/)`);
  } finally {
    lock?.release();
  }
}
