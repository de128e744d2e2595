import { cp, mkdir, readdir, rename, rm, stat } from 'node:fs/promises';
import path from 'node:path';

/**
 * A sandbox image may ship warm caches in the directory this variable names, laid out like a
 * stage's cache directory ($XDG_CACHE_HOME: `go-build/`, …). The Go image ships the standard
 * library compiled there: a stage pod's cache starts empty, and every stage (env, tests,
 * verify) would otherwise compile it again before its first test run.
 */
export const CACHE_SEED_ENV = 'SCALESWE_CACHE_SEED';

/**
 * Copies each entry of `seedDir` that `cacheDir` lacks into it (entries already there are
 * kept: an environment image's own caches, an earlier seeding). A copy lands whole or not at
 * all (copied beside, then renamed). Returns the entries seeded; nothing when either
 * directory is unset or the seed is missing.
 */
export async function seedCaches(
  seedDir: string | undefined,
  cacheDir: string | undefined,
): Promise<string[]> {
  if (!seedDir || !cacheDir) return [];
  const entries = await readdir(seedDir).catch(() => [] as string[]);
  const seeded: string[] = [];
  if (entries.length) await mkdir(cacheDir, { recursive: true });
  for (const name of entries.sort()) {
    const target = path.join(cacheDir, name);
    if (
      await stat(target).then(
        () => true,
        () => false,
      )
    )
      continue;
    const partial = `${target}.seeding-${process.pid}`;
    try {
      await cp(path.join(seedDir, name), partial, { recursive: true, preserveTimestamps: true });
      await rename(partial, target);
      seeded.push(name);
    } finally {
      await rm(partial, { recursive: true, force: true });
    }
  }
  return seeded;
}
