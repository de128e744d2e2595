import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import {
  type CurationRunSpec,
  StageResult,
  type SWEInstanceSpec,
  type SWEInstanceStatus,
  type Trajectory,
} from '../api/index.ts';
import { readJsonIfExists, removeAbandonedTemps, writeFileAtomic } from './atomic.ts';

/** Run-level state of a local run: what mining has done so far. */
export interface LocalRunState {
  name: string;
  spec: CurationRunSpec;
  cursor?: string | undefined;
  exhausted: boolean;
  /** PRs the candidate filter rejected; the funnel counts derive from these and the instances. */
  rejected: { pullNumber: number; reason: string; detail: string }[];
  startedAt: string;
  completedAt?: string | undefined;
}

export interface LocalInstance {
  spec: SWEInstanceSpec;
  status: SWEInstanceStatus;
  stageDurationsMs: Partial<Record<string, number>>;
}

/**
 * The local state directory. Every file is written atomically, so a killed run resumes
 * from what was recorded: finished stages are never redone.
 *
 *   run.json                               mining cursor, funnel
 *   instances/<instance_id>.json           spec + status (the SWEInstance equivalent)
 *   results/<instance_id>/<stage>-<n>.json raw stage results
 *   trajectories/<instance_id>/<stage>-<n>.json
 *   export/                                dataset.jsonl, trajectories.jsonl, report.md
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
    return join(this.root, 'work', instanceId, `${stage}-${attempt}`);
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

  private instancePath(instanceId: string): string {
    return join(this.root, 'instances', `${instanceId}.json`);
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
    return files.filter((f) => f.endsWith('.json')).map((f) => f.slice(0, -'.json'.length));
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
   * The result file is the commit record of a stage attempt: it is written last (after its
   * trajectories), so a run killed before the instance file caught up can still recall it.
   */
  async saveStageResult(
    instanceId: string,
    attempt: number,
    result: StageResult,
    durationMs: number,
  ): Promise<void> {
    const { trajectories, ...rest } = result;
    const name = this.resultName(result.stage, attempt);
    if (trajectories.length > 0) {
      await writeFileAtomic(
        join(this.root, 'trajectories', instanceId, name),
        `${JSON.stringify(trajectories)}\n`,
      );
    }
    await writeFileAtomic(
      join(this.root, 'results', instanceId, name),
      `${JSON.stringify({ ...rest, durationMs }, null, 2)}\n`,
    );
  }

  /** A stage attempt recorded by an earlier (possibly killed) run, with its duration. */
  async loadStageResult(
    instanceId: string,
    stage: string,
    attempt: number,
  ): Promise<{ result: StageResult; durationMs: number } | undefined> {
    const name = this.resultName(stage, attempt);
    const raw = await readJsonIfExists<Record<string, unknown>>(join(this.root, 'results', instanceId, name));
    if (!raw) return undefined;
    const trajectories =
      (await readJsonIfExists<unknown[]>(join(this.root, 'trajectories', instanceId, name))) ?? [];
    const result = StageResult.parse({ ...raw, trajectories });
    return { result, durationMs: typeof raw.durationMs === 'number' ? raw.durationMs : 0 };
  }

  async listTrajectories(): Promise<Trajectory[]> {
    const dir = join(this.root, 'trajectories');
    let instances: string[];
    try {
      instances = await readdir(dir);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return [];
      throw error;
    }
    const all: Trajectory[] = [];
    for (const instance of instances.sort()) {
      for (const file of (await readdir(join(dir, instance))).sort()) {
        all.push(...((await readJsonIfExists<Trajectory[]>(join(dir, instance, file))) ?? []));
      }
    }
    return all;
  }
}
