import { execFile } from 'node:child_process';
import { mkdir, readdir, rename, rm } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { promisify } from 'node:util';
import type {
  Environment,
  EnvironmentSettings,
  InstanceRecord,
  Language,
  PreparedWorkspace,
  Recipe,
  Stage,
  StageResult,
  SWEInstanceSpec,
} from '../api/index.ts';
import { stageRow, TERMINAL_PHASES } from '../api/index.ts';
import { readJsonIfExists, writeFileAtomic } from './atomic.ts';

const run = promisify(execFile);

/**
 * Local environments: the env stage's prepared tree (checkout + .venv, node_modules, target/)
 * kept once per environment key and copied for every later stage instead of a setup replay.
 *
 *   <state>/environments/<key>/tree/        the tree, copied with `cp -a --reflink=auto`
 *   <state>/environments/<key>/meta.json    where it was prepared, by which instance, recipe
 *
 * A tree is restored at the absolute path it was prepared at (`meta.dir`), because venv
 * shebangs, editable installs and build caches record absolute paths. That path belongs to
 * the instance that built it, so restores of one environment are serialized (one lock per
 * key, held while the stage runs); different environments run in parallel.
 */
export interface SnapshotMeta {
  key: string;
  /** Absolute path the tree was prepared at, and is restored to. */
  dir: string;
  environment: Environment;
  recipe: Recipe;
  /** The instance whose env stage built it. */
  instanceId: string;
  repo: string;
  language: Language;
  /** When the building instance's PR merged: later PRs may share it (see chooseDonor). */
  mergedAt?: string | undefined;
}

/**
 * The environment an env stage is offered to adopt: of the same repository and language,
 * built by a deterministic recipe, and from a PR merged before this one was opened — so the
 * donor's checkout cannot hold this PR's fix, whatever its files. The newest such. The agent
 * adopts it only if the recipe sources match (agents/environment.ts). Pure.
 */
export function chooseDonor(
  instance: SWEInstanceSpec,
  metas: readonly SnapshotMeta[],
): SnapshotMeta | undefined {
  const opened = Date.parse(instance.createdAt);
  return metas
    .filter(
      (m) =>
        m.instanceId !== instance.instanceId &&
        m.repo === instance.repo &&
        m.language === instance.language &&
        m.recipe.source === 'deterministic' &&
        m.environment.sources !== undefined &&
        m.mergedAt !== undefined &&
        Date.parse(m.mergedAt) < opened,
    )
    .sort((a, b) => Date.parse(b.mergedAt!) - Date.parse(a.mergedAt!))[0];
}

/**
 * Snapshots no instance keeps: an environment lives while an unfinished instance uses it (or
 * its builder is unfinished: its status may not record the key yet), and after that only when
 * a Verified instance uses it and retention is `verified`. Rejected and Failed instances keep
 * nothing. Pure.
 */
export function snapshotsToDelete(
  metas: readonly SnapshotMeta[],
  instances: readonly InstanceRecord[],
  retention: EnvironmentSettings['retention'],
): string[] {
  const live = new Set<string>();
  const unfinished = new Set<string>();
  for (const i of instances) {
    const phase = i.status?.phase;
    const done = phase !== undefined && TERMINAL_PHASES.has(phase);
    if (!done) unfinished.add(i.spec.instanceId);
    const key = i.status?.environment?.key;
    if (key && (!done || (phase === 'Verified' && retention === 'verified'))) live.add(key);
  }
  return metas.filter((m) => !live.has(m.key) && !unfinished.has(m.instanceId)).map((m) => m.key);
}

/** A capture or restore that failed on this machine (disk full, I/O): retried, never a verdict. */
export class EnvironmentStoreError extends Error {}

export class EnvironmentStore {
  readonly root: string;
  #locks = new Map<string, Promise<void>>();

  constructor(stateRoot: string) {
    this.root = join(stateRoot, 'environments');
  }

  private metaPath(key: string): string {
    return join(this.root, key, 'meta.json');
  }

  async get(key: string): Promise<SnapshotMeta | undefined> {
    return readJsonIfExists<SnapshotMeta>(this.metaPath(key));
  }

  async list(): Promise<SnapshotMeta[]> {
    const keys = await readdir(this.root).catch(() => [] as string[]);
    const metas = await Promise.all(keys.map((k) => this.get(k)));
    return metas.filter((m): m is SnapshotMeta => m !== undefined);
  }

  /**
   * Keeps the tree at `meta.dir` as the snapshot of `meta.key` (once: a key already kept is
   * the same environment). The meta file is written last, so a half-copied tree is never used
   * and is removed by the next capture or collection. Returns the snapshot's location.
   */
  async capture(meta: SnapshotMeta): Promise<string> {
    const dir = join(this.root, meta.key);
    // Kept already (also the case of an adopted environment, whose key lock the caller holds).
    if (await this.get(meta.key)) return dir;
    const unlock = await this.#lock(meta.key);
    try {
      if (await this.get(meta.key)) return dir;
      await rm(dir, { recursive: true, force: true });
      await mkdir(dir, { recursive: true });
      await run('cp', ['-a', '--reflink=auto', meta.dir, join(dir, 'tree.partial')]);
      await rename(join(dir, 'tree.partial'), join(dir, 'tree'));
      await writeFileAtomic(
        this.metaPath(meta.key),
        `${JSON.stringify({ ...meta, environment: { ...meta.environment, snapshot: dir } }, null, 2)}\n`,
      );
    } catch (error) {
      await rm(dir, { recursive: true, force: true }).catch(() => undefined);
      throw new EnvironmentStoreError(`capturing environment ${meta.key.slice(0, 12)}: ${message(error)}`);
    } finally {
      unlock();
    }
    return dir;
  }

  /**
   * Copies the snapshot back to where it was prepared and holds the key's lock until
   * `release` (which removes the copy). Undefined when no snapshot of `key` is kept.
   */
  async restore(
    key: string,
    environment?: Environment,
    recipe?: Recipe,
  ): Promise<{ prepared: PreparedWorkspace; release: () => Promise<void> } | undefined> {
    const meta = await this.get(key);
    if (!meta) return undefined;
    const unlock = await this.#lock(key);
    const release = async () => {
      await rm(meta.dir, { recursive: true, force: true }).catch(() => undefined);
      unlock();
    };
    try {
      await rm(meta.dir, { recursive: true, force: true });
      await mkdir(join(meta.dir, '..'), { recursive: true });
      await run('cp', ['-a', '--reflink=auto', join(this.root, key, 'tree'), meta.dir]);
    } catch (error) {
      await release();
      throw new EnvironmentStoreError(`restoring environment ${key.slice(0, 12)}: ${message(error)}`);
    }
    return {
      prepared: {
        dir: meta.dir,
        environment: environment ?? meta.environment,
        recipe: recipe ?? meta.recipe,
      },
      release,
    };
  }

  /** Removes a snapshot; `onlyPartial`: only if it is an interrupted capture (no meta file). */
  async remove(key: string, onlyPartial = false): Promise<void> {
    const unlock = await this.#lock(key);
    try {
      if (onlyPartial && (await this.get(key))) return;
      await rm(join(this.root, key), { recursive: true, force: true });
    } finally {
      unlock();
    }
  }

  /** Deletes what snapshotsToDelete says (see there); returns the removed keys. */
  async collect(
    instances: readonly InstanceRecord[],
    retention: EnvironmentSettings['retention'],
  ): Promise<string[]> {
    const metas = await this.list();
    const gone = snapshotsToDelete(metas, instances, retention);
    // Directories without a meta file are interrupted captures.
    const known = new Set(metas.map((m) => m.key));
    const partial = (await readdir(this.root).catch(() => [] as string[])).filter((k) => !known.has(k));
    for (const key of gone) await this.remove(key);
    for (const key of partial) await this.remove(key, true);
    return gone;
  }

  async #lock(key: string): Promise<() => void> {
    const previous = this.#locks.get(key) ?? Promise.resolve();
    let unlock!: () => void;
    const mine = new Promise<void>((resolve) => {
      unlock = resolve;
    });
    const chained = previous.then(() => mine);
    this.#locks.set(key, chained);
    await previous;
    return () => {
      unlock();
      if (this.#locks.get(key) === chained) this.#locks.delete(key);
    };
  }
}

function message(error: unknown): string {
  const e = error as NodeJS.ErrnoException & { stderr?: string };
  return `${e.code ? `${e.code}: ` : ''}${(e.stderr || e.message || String(error)).trim().slice(0, 2000)}`;
}

/** The prepared environment a stage attempt gets, and what to undo after it. */
export interface StageEnvironment {
  prepared?: PreparedWorkspace | undefined;
  /** Directories the stage's sandbox must be able to write besides its work dir. */
  binds: string[];
  release(): Promise<void>;
}

const NOTHING: StageEnvironment = { binds: [], release: async () => undefined };

/**
 * What a stage starts from: for a stage that needs the environment, its instance's snapshot
 * restored; for the env stage, an earlier instance's it may adopt (chooseDonor); otherwise
 * nothing (the agent replays the recipe, from the lock when recorded).
 */
export async function environmentForStage(
  store: EnvironmentStore,
  instance: InstanceRecord,
  stage: Stage,
): Promise<StageEnvironment> {
  const status = instance.status;
  let restored: Awaited<ReturnType<EnvironmentStore['restore']>>;
  if (stage === 'env') {
    const donor = chooseDonor(instance.spec, await store.list());
    restored = donor && (await store.restore(donor.key));
  } else if ((stageRow(stage).needs as readonly string[]).includes('environment') && status?.environment) {
    restored = await store.restore(status.environment.key, status.environment, status.recipe);
  }
  if (!restored) return NOTHING;
  // The parent too: the agents write their scripts and reports next to the checkout.
  return { prepared: restored.prepared, binds: [dirname(restored.prepared.dir)], release: restored.release };
}

/**
 * After an env stage that prepared an environment: its tree is kept as the snapshot of its
 * key (unless already kept) and the result records where. The tree must lie in the stage's
 * own work dir or be the one it was given.
 */
export async function keepEnvironment(
  store: EnvironmentStore,
  instance: InstanceRecord,
  allowed: { workDir: string; given?: string | undefined },
  result: StageResult,
): Promise<StageResult> {
  const { environment, preparedDir, recipe } = result;
  if (result.stage !== 'env' || result.outcome !== 'succeeded' || !environment || !preparedDir || !recipe)
    return result;
  const inside = preparedDir === allowed.given || preparedDir.startsWith(`${allowed.workDir}/`);
  if (!inside || preparedDir.includes('/../')) return result;
  const snapshot = await store.capture({
    key: environment.key,
    dir: preparedDir,
    environment,
    recipe,
    instanceId: instance.spec.instanceId,
    repo: instance.spec.repo,
    language: instance.spec.language,
    mergedAt: instance.spec.mergedAt,
  });
  return { ...result, environment: { ...environment, snapshot } };
}
