import { randomBytes } from 'node:crypto';
import { mkdir, open, readdir, readFile, rename, rm } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { ScaleSweError } from '../api/index.ts';

/** A write that fails part-way for want of disk space, named so callers can say so. */
export class DiskFullError extends ScaleSweError {
  constructor(path: string, cause: unknown) {
    super('DiskFull', `disk full while writing ${path}; the state directory is unchanged`, { cause });
  }
}

/**
 * Removes the temporary files a killed writer left in `dir` (its rename never happened).
 * Only for a directory no other writer is using at the moment.
 */
export async function removeAbandonedTemps(dir: string): Promise<void> {
  let names: string[];
  try {
    names = await readdir(dir);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return;
    throw error;
  }
  const abandoned = names.filter((n) => /^\.[0-9a-f]{12}\.tmp$/.test(n));
  await Promise.all(abandoned.map((n) => rm(join(dir, n), { force: true })));
}

/**
 * Write-then-rename, with fsync: after a crash a reader sees the old file or the new one,
 * never a torn one. On ENOSPC the temporary file is removed and the old file stays.
 */
export async function writeFileAtomic(path: string, data: string): Promise<void> {
  await mkdir(dirname(path), { recursive: true });
  const tmp = join(dirname(path), `.${randomBytes(6).toString('hex')}.tmp`);
  try {
    const handle = await open(tmp, 'w');
    try {
      await handle.writeFile(data);
      await handle.sync();
    } finally {
      await handle.close();
    }
    await rename(tmp, path);
  } catch (error) {
    await rm(tmp, { force: true });
    if ((error as NodeJS.ErrnoException).code === 'ENOSPC') throw new DiskFullError(path, error);
    throw error;
  }
}

export async function readJsonIfExists<T>(path: string): Promise<T | undefined> {
  try {
    return JSON.parse(await readFile(path, 'utf8')) as T;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw error;
  }
}
