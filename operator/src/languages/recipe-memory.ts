/**
 * Recipe memory per repository: a recipe that brought up one PR's environment is tried first
 * for the next PR of the same repository, as long as the manifests and lockfiles that decide
 * the install are unchanged. Pure: the env stage and the drivers do the I/O.
 */
import { createHash } from 'node:crypto';
import type { InstanceRecord, Recipe, RememberedRecipe, SWEInstanceSpec } from '../api/index.ts';
import { ENV_MANIFESTS, LOCKFILES } from './index.ts';

/** How many remembered recipes an env stage gets (the stage input is a Secret in a cluster). */
export const MAX_REMEMBERED = 5;

/** Root manifests and lockfiles of every ecosystem: the files a recipe's validity hangs on. */
export function memoryManifestFiles(files: readonly string[]): string[] {
  return files.filter(
    (f) => !f.includes('/') && (ENV_MANIFESTS.includes(f) || LOCKFILES.has(f.toLowerCase())),
  );
}

/** One digest over those files' contents (path and content, in path order). */
export function manifestDigest(contents: Readonly<Record<string, string>>): string {
  const hash = createHash('sha256');
  for (const path of Object.keys(contents).sort()) hash.update(`${path}\0${contents[path]}\0`);
  return `sha256:${hash.digest('hex')}`;
}

export interface MemoryChoice {
  /** Recipes to try before the search, best first. */
  tryFirst: { recipe: Recipe; from: string }[];
  /** Remembered recipes left out, and why (for the stage log). */
  skipped: { from: string; why: string }[];
}

const sameRecipe = (a: Recipe, b: Recipe) =>
  a.setupScript === b.setupScript && a.testCommand === b.testCommand && a.resultFormat === b.resultFormat;

/**
 * Which remembered recipes to try, in order: only those made at the same manifests and
 * lockfiles (a change there may need another install, so the search decides); the nearest
 * earlier PR first, then later ones nearest first; one try per distinct recipe.
 */
export function chooseRemembered(
  remembered: readonly RememberedRecipe[],
  current: { createdAt: string; manifestDigest: string },
): MemoryChoice {
  const at = Date.parse(current.createdAt);
  const skipped: MemoryChoice['skipped'] = [];
  const usable = remembered.filter((m) => {
    if (m.recipe.manifestDigest === current.manifestDigest) return true;
    skipped.push({
      from: m.instanceId,
      why: m.recipe.manifestDigest ? 'manifests or lockfiles changed' : 'no manifest digest recorded',
    });
    return false;
  });
  const distance = (m: RememberedRecipe) => {
    const d = Date.parse(m.createdAt) - at;
    // Earlier PRs (d <= 0) before any later one; within each side, nearest first.
    return d <= 0 ? -d : Number.MAX_SAFE_INTEGER / 2 + d;
  };
  const ordered = [...usable].sort(
    (a, b) => distance(a) - distance(b) || a.instanceId.localeCompare(b.instanceId),
  );
  const tryFirst: MemoryChoice['tryFirst'] = [];
  for (const m of ordered) {
    if (tryFirst.some((t) => sameRecipe(t.recipe, m.recipe))) continue;
    tryFirst.push({ recipe: m.recipe, from: m.instanceId });
  }
  return { tryFirst, skipped };
}

/**
 * What an instance's env stage remembers from other instances of its repository (their
 * recorded recipes), nearest PRs first and at most MAX_REMEMBERED distinct recipes.
 */
export function rememberedFor(
  instance: SWEInstanceSpec,
  others: readonly (InstanceRecord | RememberedRecipe)[],
): RememberedRecipe[] {
  const entries: RememberedRecipe[] = others.flatMap((o) => {
    if ('recipe' in o) return o.instanceId === instance.instanceId ? [] : [o];
    const recipe = o.status?.recipe;
    if (!recipe?.manifestDigest || o.spec.repo !== instance.repo || o.spec.instanceId === instance.instanceId)
      return [];
    return [{ instanceId: o.spec.instanceId, createdAt: o.spec.createdAt, recipe }];
  });
  const at = Date.parse(instance.createdAt);
  const byId = new Map<string, RememberedRecipe>();
  for (const e of entries) byId.set(e.instanceId, e);
  const sorted = [...byId.values()].sort(
    (a, b) => Math.abs(Date.parse(a.createdAt) - at) - Math.abs(Date.parse(b.createdAt) - at),
  );
  const out: RememberedRecipe[] = [];
  for (const e of sorted) {
    if (out.length >= MAX_REMEMBERED) break;
    if (
      out.some((o) => sameRecipe(o.recipe, e.recipe) && o.recipe.manifestDigest === e.recipe.manifestDigest)
    )
      continue;
    out.push(e);
  }
  return out;
}
