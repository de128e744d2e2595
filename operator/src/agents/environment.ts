import { createHash } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import type { Environment, Language, PreparedWorkspace, Recipe } from '../api/index.ts';
import { freezeCommand, lockReplayEnv } from '../languages/index.ts';
import { sh } from './exec.ts';
import type { StageContext } from './stage-context.ts';
import type { StageOutput } from './stage-output.ts';
import { RUN_ENV, runSetup } from './test-run.ts';
import { createWorkspace, resetToSetup, switchBase, takeWorkspace, type Workspace } from './workspace.ts';

/**
 * Environments built once: the env stage describes the environment it prepared (key, lock),
 * and every later stage starts from that prepared tree instead of replaying setup. How the
 * tree arrives is the mode's business (a restored snapshot locally, the environment image in
 * a cluster); the stage input says where it is (`StageInput.prepared`).
 */

function sha256(value: unknown): string {
  return createHash('sha256').update(JSON.stringify(value)).digest('hex');
}

function sortedEntries(record: Record<string, string> | undefined): [string, string][] {
  return Object.entries(record ?? {}).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
}

/** Equal keys, one environment: language, toolchain, setup script and resolved lock. Pure. */
export function environmentKey(parts: {
  language: Language;
  recipe: Pick<Recipe, 'setupScript' | 'toolchain'>;
  lock: string | undefined;
}): string {
  return sha256([
    parts.language,
    sortedEntries(parts.recipe.toolchain),
    parts.recipe.setupScript,
    parts.lock ?? '',
  ]);
}

/** Hash of the files a recipe was derived from (manifests, lockfiles, pins). Pure. */
export function sourcesDigest(language: Language, manifests: Record<string, string>): string {
  return sha256([language, sortedEntries(manifests)]);
}

/**
 * May an instance whose recipe sources hash to `sources` adopt an environment prepared at
 * another base commit? Only when the same files produced it (so its recipe is the one this
 * instance would build, frozen at the donor's resolution) and the recipe is a deterministic
 * one, which installs the project editable: its code is then the checkout's, swapped per
 * instance. An LLM's recipe may have installed a copy of the project into the environment,
 * which would shadow the swapped checkout. Pure.
 */
export function canAdoptAcrossCommits(prepared: PreparedWorkspace, sources: string): boolean {
  return (
    prepared.recipe.source === 'deterministic' &&
    prepared.environment.sources !== undefined &&
    prepared.environment.sources === sources
  );
}

/** A lock travels in status and in every later stage input (a Secret in a cluster): bounded. */
const MAX_LOCK_CHARS = 256 * 1024;

/** The resolved versions after setup, through the language's freeze hook; undefined: none. */
export async function freezeLock(
  ctx: StageContext,
  ws: Workspace,
  language: Language,
): Promise<string | undefined> {
  const command = freezeCommand(language);
  if (!command) return undefined;
  const r = await sh(command, {
    cwd: ws.dir,
    timeoutMs: ctx.commandTimeoutMs,
    env: RUN_ENV,
    maxChars: 1_000_000,
  });
  if (r.code !== 0 || r.timedOut) {
    ctx.remember(`freeze (exit ${r.code})`, r.output);
    return undefined;
  }
  const lock = r.output.trim();
  if (lock.length > MAX_LOCK_CHARS) {
    ctx.log.warn(
      `freeze: ${lock.length} characters, more than status and stage inputs should carry; no lock kept`,
    );
    return undefined;
  }
  return lock ? `${lock}\n` : undefined;
}

/** What the env stage records of the environment it prepared in `ws`. */
export async function describeEnvironment(
  ctx: StageContext,
  ws: Workspace,
  recipe: Recipe,
  language: Language,
  sources: string,
): Promise<Environment> {
  const lock = await freezeLock(ctx, ws, language);
  return {
    key: environmentKey({ language, recipe, lock }),
    ...(lock !== undefined && { lock }),
    sources,
  };
}

/**
 * Takes over the prepared tree for this instance: the checkout is moved to its base commit
 * when the tree was prepared at another one (installed files — .venv, node_modules — stay),
 * then reset to base + setup changes. Undefined when the setup changed tracked files and the
 * tree is at another commit: those changes belong to the donor's checkout.
 */
export async function adoptPrepared(
  ctx: StageContext,
  prepared: PreparedWorkspace,
): Promise<Workspace | undefined> {
  const { instance } = ctx.input;
  const ws = await takeWorkspace(prepared.dir, instance.baseCommit);
  if (ws.head !== instance.baseCommit) {
    if (ws.setupDiff.trim()) return undefined;
    await switchBase(ws, instance.cloneURL, instance.baseCommit);
  }
  await resetToSetup(ws);
  const adopted = `environment ${prepared.environment.key.slice(0, 12)} adopted at ${prepared.dir}`;
  ctx.log.info(adopted);
  // In the result's logTail too: the pod's log goes with the pod, the grade log keeps this.
  ctx.remember('environment', adopted);
  return ws;
}

/**
 * The one place a later stage gets its workspace: the prepared environment when the input
 * has one for this instance's environment (no setup runs), else a fresh checkout and a replay
 * of the recipe — installing the recorded lock where the language can, so a rebuild next year
 * gets the same versions.
 */
export async function prepareStageWorkspace(
  ctx: StageContext,
  name: string,
): Promise<{ ws: Workspace; recipe: Recipe } | StageOutput> {
  const { instance, previous, prepared } = ctx.input;
  const recipe = previous.recipe;
  if (!recipe)
    return {
      outcome: 'failed',
      reason: 'MissingRecipe',
      message: 'the env stage has not produced a recipe yet',
    };
  if (prepared && previous.environment && prepared.environment.key === previous.environment.key) {
    const ws = await adoptPrepared(ctx, prepared);
    if (ws) return { ws, recipe };
  }
  const ws = await createWorkspace(instance.cloneURL, instance.baseCommit, await ctx.dir(name));
  const lock = previous.environment?.lock;
  let env: Record<string, string> = {};
  if (lock) {
    const lockFile = `${ws.dir}.lock`;
    await writeFile(lockFile, lock);
    env = lockReplayEnv(instance.language, lockFile);
  }
  const setup = await runSetup(ctx, ws, recipe, env);
  if (setup.code !== 0) {
    return {
      outcome: 'failed',
      reason: 'SetupReplayFailed',
      message: `replaying the setup script ${setup.timedOut ? 'timed out' : `exited ${setup.code}`}`,
    };
  }
  return { ws, recipe };
}
