import { mkdir, readdir, rename, rm, stat } from 'node:fs/promises';
import path from 'node:path';
import { sh, shellQuote } from './exec.ts';

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
      // cp(1), not fs.cp: a few times faster on the thousands of small files of a build cache.
      const r = await sh(`cp -a ${shellQuote(path.join(seedDir, name))} ${shellQuote(partial)}`, {
        cwd: cacheDir,
        timeoutMs: 600_000,
      });
      if (r.code !== 0) throw new Error(`cp ${name}: ${r.output.trim().slice(-300)}`);
      await rename(partial, target);
      seeded.push(name);
    } finally {
      await rm(partial, { recursive: true, force: true });
    }
  }
  return seeded;
}
