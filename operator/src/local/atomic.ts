import { randomBytes } from 'node:crypto';
import { type FileHandle, mkdir, open, readdir, readFile, rename, rm, stat } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { ScaleSweError } from '../api/index.ts';

/** A write that fails part-way for want of disk space, named so callers can say so. */
export class DiskFullError extends ScaleSweError {
  constructor(path: string, cause: unknown) {
    super('DiskFull', `disk full while writing ${path}; the state directory is unchanged`, { cause });
  }
}

/** A failed write or mkdir in words, by its code. */
const FS_CAUSES: Record<string, string> = {
  EROFS: 'read-only file system',
  EACCES: 'permission denied',
  EPERM: 'operation not permitted',
  // mkdir in an existing directory that takes no new entries (/proc, a dangling symlink).
  ENOENT: 'no such directory, and it cannot be created there',
  ENOTDIR: 'a component of the path is not a directory',
  EEXIST: 'exists and is not a directory',
  ENOSPC: 'no space left on device',
  EDQUOT: 'disk quota exceeded',
};

/** What a failed file-system call means to the user, with its code: "read-only file system (EROFS)". */
export function fsCause(error: unknown): string {
  const code = (error as NodeJS.ErrnoException).code;
  const said = code ? FS_CAUSES[code] : undefined;
  return said ? `${said} (${code})` : ((error as Error).message ?? String(error));
}

/** Codes of a write the file system or its permissions refuse (no retry helps). */
export const WRITE_REFUSED = new Set(['EROFS', 'EACCES', 'EPERM', 'EDQUOT']);
/** The same for making a directory: also a path that cannot hold one (/proc/x, a file on the way). */
export const MKDIR_REFUSED = new Set([...WRITE_REFUSED, 'ENOENT', 'ENOTDIR', 'EEXIST']);

export function refused(codes: Set<string>, error: unknown): boolean {
  return codes.has((error as NodeJS.ErrnoException).code ?? '');
}

/**
 * A directory (or a file in it) that cannot be written: one line naming it and the cause,
 * e.g. "cannot write state directory /x: read-only file system (EROFS)".
 */
export class NotWritableError extends ScaleSweError {
  constructor(what: string, cause: unknown) {
    super('NotWritable', `cannot write ${what}: ${fsCause(cause)}`, { cause });
  }
}

/**
 * `mkdir -p` that ends. Node's `mkdir(path, { recursive: true })` never returns when a parent
 * exists but refuses the child with ENOENT (/proc/x, a dangling symlink): it creates the parent
 * (EEXIST), retries the child (ENOENT), forever. Here each level is tried once after its parent
 * is made; the error thrown is the file system's own (EROFS, EACCES, ENOENT, ENOTDIR…).
 */
export async function makeDirectories(dir: string): Promise<void> {
  try {
    await mkdir(dir);
    return;
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'EEXIST') {
      if ((await stat(dir)).isDirectory()) return;
      throw error;
    }
    if (code !== 'ENOENT' || dirname(dir) === dir) throw error;
  }
  await makeDirectories(dirname(dir));
  await mkdir(dir).catch(async (error: NodeJS.ErrnoException) => {
    if (error.code !== 'EEXIST' || !(await stat(dir)).isDirectory()) throw error;
  });
}

/**
 * The directory `dir`, made if missing, and checked writable by writing a file in it:
 * NotWritableError ("cannot write <what> <dir>: …") before any real work starts.
 */
export async function ensureWritableDirectory(dir: string, what: string): Promise<void> {
  try {
    await makeDirectories(dir);
  } catch (error) {
    if (refused(MKDIR_REFUSED, error)) throw new NotWritableError(`${what} ${dir}`, error);
    throw error;
  }
  const probe = join(dir, `.${randomBytes(6).toString('hex')}.tmp`);
  try {
    await (await open(probe, 'wx')).close();
    await rm(probe, { force: true });
  } catch (error) {
    if (refused(WRITE_REFUSED, error)) throw new NotWritableError(`${what} ${dir}`, error);
    throw error;
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
 * never a torn one. On ENOSPC the temporary file is removed and the old file stays; a write
 * the file system refuses (read-only, permissions) is a NotWritableError naming the file.
 */
export async function writeFileAtomic(path: string, data: string | Uint8Array): Promise<void> {
  await writeAtomic(path, (handle) => handle.writeFile(data));
}

/** writeFileAtomic of lines produced one at a time: the file never holds a torn half. */
export async function writeLinesAtomic(path: string, lines: AsyncIterable<string>): Promise<void> {
  await writeAtomic(path, async (handle) => {
    for await (const line of lines) await handle.write(`${line}\n`);
  });
}

/**
 * Aligned files written in one pass (each row gives the next line of every file, in order):
 * each file is written to its own temporary and renamed once every row is written.
 */
export async function writeAlignedLinesAtomic(
  paths: readonly string[],
  rows: AsyncIterable<readonly string[]>,
): Promise<void> {
  const openFrom = async (i: number, handles: FileHandle[]): Promise<void> => {
    if (i < paths.length) return writeAtomic(paths[i]!, (handle) => openFrom(i + 1, [...handles, handle]));
    for await (const row of rows)
      for (const [j, handle] of handles.entries()) await handle.write(`${row[j]}\n`);
  };
  await openFrom(0, []);
}

async function writeAtomic(path: string, write: (handle: FileHandle) => Promise<unknown>): Promise<void> {
  try {
    await makeDirectories(dirname(path));
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOSPC') throw new DiskFullError(path, error);
    if (refused(MKDIR_REFUSED, error)) throw new NotWritableError(`directory ${dirname(path)}`, error);
    throw error;
  }
  const tmp = join(dirname(path), `.${randomBytes(6).toString('hex')}.tmp`);
  try {
    const handle = await open(tmp, 'w');
    try {
      await write(handle);
      await handle.sync();
    } finally {
      await handle.close();
    }
    await rename(tmp, path);
  } catch (error) {
    await rm(tmp, { force: true });
    if ((error as NodeJS.ErrnoException).code === 'ENOSPC') throw new DiskFullError(path, error);
    if (refused(WRITE_REFUSED, error)) throw new NotWritableError(path, error);
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
