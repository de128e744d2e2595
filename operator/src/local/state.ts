import { readdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import {
  type CurationRunSpec,
  type InstanceRecord,
  type RunCostStatus,
  ScaleSweError,
  SolveAttempt,
  StageResult,
  SWEInstanceSpec,
  type SWEInstanceStatus,
  type Trajectory,
} from '../api/index.ts';
import type { RejectedPR } from '../mining/types.ts';
import { readJsonIfExists, removeAbandonedTemps, writeFileAtomic } from './atomic.ts';

/** Run-level state of a local run: what mining has done so far. */
export interface LocalRunState {
  name: string;
  spec: CurationRunSpec;
  cursor?: string | undefined;
  exhausted: boolean;
  /** PRs the candidate filter rejected; the funnel counts derive from these and the instances. */
  rejected: RejectedPR[];
  startedAt: string;
  completedAt?: string | undefined;
  /** Tokens and dollars spent, as CurationRun.status.cost (numbers only). */
  cost?: RunCostStatus | undefined;
}

/**
 * An instance id as a path segment, checked first: ids come from mined data (a repository
 * name) and from file names, and only the SWE-bench shape owner__repo-<PR> (one segment,
 * never `.` or `..`) is ever joined into a path.
 */
export function instanceSegment(instanceId: string): string {
  const parsed = SWEInstanceSpec.shape.instanceId.safeParse(instanceId);
  if (!parsed.success)
    throw new ScaleSweError(
      'InvalidInstanceId',
      `instance id ${JSON.stringify(instanceId)}: ${parsed.error.issues[0]?.message}`,
    );
  return instanceId;
}

/** The local record of an instance: the same spec + status as an SWEInstance, status always set. */
export type LocalInstance = InstanceRecord & { status: SWEInstanceStatus };

/**
 * The local state directory. Every file is written atomically, so a killed run resumes
 * from what was recorded: finished stages are never redone.
 *
 *   run.json                               mining cursor, funnel
 *   instances/<instance_id>.json           spec + status (the SWEInstance equivalent)
 *   results/<instance_id>/<stage>-<n>.json raw stage results
 *   trajectories/<instance_id>/<stage>-<n>.json
 *   export/                                dataset.jsonl, trajectories.jsonl, report.md, report-funnel.svg
 */
export class StateDir {
  readonly root: string;

  constructor(root: string) {
    this.root = root;
  }

  get exportDir(): string {
    return join(this.root, 'export');
  }

  workDir(instanceId: string, stage: string, attempt: number): string {
    return join(this.root, 'work', instanceSegment(instanceId), `${stage}-${attempt}`);
  }

  /** Before a resume: what a killed run was writing when it died is dropped (never renamed in). */
  async removeAbandonedWrites(): Promise<void> {
    const dirs = [this.root, this.exportDir, join(this.root, 'instances')];
    for (const parent of ['results', 'trajectories']) {
      const root = join(this.root, parent);
      const ids = await readdir(root).catch(() => [] as string[]);
      dirs.push(root, ...ids.map((id) => join(root, id)));
    }
    await Promise.all(dirs.map((d) => removeAbandonedTemps(d)));
  }

  async loadRun(): Promise<LocalRunState | undefined> {
    return readJsonIfExists<LocalRunState>(join(this.root, 'run.json'));
  }

  async saveRun(run: LocalRunState): Promise<void> {
    await writeFileAtomic(join(this.root, 'run.json'), `${JSON.stringify(run, null, 2)}\n`);
  }

  async removeRun(): Promise<void> {
    await rm(join(this.root, 'run.json'), { force: true });
  }

  /** Whether the run ever got a page from its source: a cursor, a verdict or an instance. */
  async hasMined(run: LocalRunState): Promise<boolean> {
    if (run.cursor !== undefined || run.exhausted || run.rejected.length > 0) return true;
    return (await this.listInstanceIds()).length > 0;
  }

  /**
   * After a start that failed before any run was recorded (no run.json): everything in the
   * directory but the caller's run.lock is removed. False (nothing touched) when a run exists.
   */
  async removeUnstarted(): Promise<boolean> {
    if (await this.loadRun()) return false;
    const names = await readdir(this.root).catch(() => [] as string[]);
    await Promise.all(
      names
        .filter((n) => n !== 'run.lock')
        .map((n) => rm(join(this.root, n), { recursive: true, force: true })),
    );
    return true;
  }

  private instancePath(instanceId: string): string {
    return join(this.root, 'instances', `${instanceSegment(instanceId)}.json`);
  }

  async loadInstance(instanceId: string): Promise<LocalInstance | undefined> {
    return readJsonIfExists<LocalInstance>(this.instancePath(instanceId));
  }

  async saveInstance(instance: LocalInstance): Promise<void> {
    await writeFileAtomic(
      this.instancePath(instance.spec.instanceId),
      `${JSON.stringify(instance, null, 2)}\n`,
    );
  }

  /** Instance ids from the file names alone (no JSON is read). */
  async listInstanceIds(): Promise<string[]> {
    let files: string[];
    try {
      files = await readdir(join(this.root, 'instances'));
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return [];
      throw error;
    }
    // Only names of the instance-id shape: anything else in the directory is not ours.
    return files
      .filter((f) => f.endsWith('.json'))
      .map((f) => f.slice(0, -'.json'.length))
      .filter((id) => SWEInstanceSpec.shape.instanceId.safeParse(id).success);
  }

  async listInstances(): Promise<LocalInstance[]> {
    const loaded = await Promise.all((await this.listInstanceIds()).map((id) => this.loadInstance(id)));
    return loaded
      .filter((i): i is LocalInstance => i !== undefined)
      .sort((a, b) => a.spec.pullNumber - b.spec.pullNumber);
  }

  private resultName(stage: string, attempt: number): string {
    return `${stage}-${attempt}.json`;
  }

  /**
   * The result file is the commit record of a stage attempt (any outcome, infrastructure
   * failures included): it is written last, after its trajectories, so a run killed before the
   * instance file caught up still finds it. Its durationMs is the attempt's wall time.
   */
  async saveStageResult(instanceId: string, attempt: number, result: StageResult): Promise<void> {
    const { trajectories, ...rest } = result;
    const name = this.resultName(result.stage, attempt);
    instanceSegment(instanceId);
    if (trajectories.length > 0) {
      await writeFileAtomic(
        join(this.root, 'trajectories', instanceId, name),
        `${JSON.stringify(trajectories)}\n`,
      );
    }
    await writeFileAtomic(join(this.root, 'results', instanceId, name), `${JSON.stringify(rest, null, 2)}\n`);
  }

  /** Every recorded attempt of an instance, by `<stage>-<attempt>` (what a resume observes). */
  async loadStageResults(instanceId: string): Promise<Map<string, StageResult>> {
    const dir = join(this.root, 'results', instanceSegment(instanceId));
    const names = (await readdir(dir).catch(() => [] as string[])).filter((n) =>
      /^[a-z]+-[0-9]+\.json$/.test(n),
    );
    const found = new Map<string, StageResult>();
    for (const name of names) {
      const raw = await readJsonIfExists<Record<string, unknown>>(join(dir, name));
      if (!raw) continue;
      const trajectories =
        (await readJsonIfExists<unknown[]>(join(this.root, 'trajectories', instanceId, name))) ?? [];
      found.set(name.slice(0, -'.json'.length), StageResult.parse({ ...raw, trajectories }));
    }
    return found;
  }

  /** The trajectories one file at a time, by instance then file name (what the export streams). */
  async *trajectories(): AsyncGenerator<Trajectory> {
    const dir = join(this.root, 'trajectories');
    let instances: string[];
    try {
      instances = await readdir(dir);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return;
      throw error;
    }
    for (const instance of instances.sort()) {
      for (const file of (await readdir(join(dir, instance))).sort()) {
        yield* (await readJsonIfExists<Trajectory[]>(join(dir, instance, file))) ?? [];
      }
    }
  }

  /** Solve attempts live apart from stage results: a measurement of a Verified instance, not a stage. */
  async saveSolveAttempt(attempt: SolveAttempt): Promise<void> {
    await writeFileAtomic(
      join(this.root, 'solves', instanceSegment(attempt.instanceId), `attempt-${attempt.attempt}.json`),
      `${JSON.stringify(attempt)}\n`,
    );
  }

  /** An instance's recorded solve attempts, by attempt number. */
  async loadSolveAttempts(instanceId: string): Promise<SolveAttempt[]> {
    const dir = join(this.root, 'solves', instanceSegment(instanceId));
    const names = (await readdir(dir).catch(() => [] as string[])).filter((n) =>
      /^attempt-[0-9]+\.json$/.test(n),
    );
    const out: SolveAttempt[] = [];
    for (const name of names) {
      const raw = await readJsonIfExists<unknown>(join(dir, name));
      if (raw) out.push(SolveAttempt.parse(raw));
    }
    return out.sort((a, b) => a.attempt - b.attempt);
  }

  /** Every instance's solve attempts, instance by instance. */
  async listSolveAttempts(): Promise<SolveAttempt[]> {
    const all: SolveAttempt[] = [];
    for (const id of (await this.listInstanceIds()).sort()) all.push(...(await this.loadSolveAttempts(id)));
    return all;
  }
}
