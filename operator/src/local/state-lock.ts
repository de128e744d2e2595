import { readFileSync, readlinkSync, unlinkSync } from 'node:fs';
import { readlink, rm, symlink } from 'node:fs/promises';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { ScaleSweError } from '../api/index.ts';
import { MKDIR_REFUSED, makeDirectories, NotWritableError, refused, WRITE_REFUSED } from './atomic.ts';

/** Who holds a state directory: a process, told apart from a later one with its pid by its start time. */
export interface LockHolder {
  pid: number;
  /** Start time of the process in clock ticks since boot (/proc/<pid>/stat), when known. */
  start?: string | undefined;
  host: string;
}

/** What a lock taker knows of this machine's processes. */
export interface ProcessFacts {
  host: string;
  /** The start time of a running process; undefined when no such process runs. */
  startOf(pid: number): string | undefined;
}

/**
 * A lock is stale when its holder is gone: no process with its pid, or one with another start
 * time (the pid was reused). A holder on another host cannot be checked: never stale (pure).
 */
export function isStaleLock(holder: LockHolder, facts: ProcessFacts): boolean {
  if (holder.host !== facts.host) return false;
  const start = facts.startOf(holder.pid);
  if (start === undefined) return true;
  return holder.start !== undefined && holder.start !== start;
}

/** The start time of process `pid` (field 22 of /proc/<pid>/stat), or undefined when it is gone. */
export function processStart(pid: number): string | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command name (field 2) may hold spaces and parentheses: count from the last ')'.
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19];
  } catch {
    return undefined;
  }
}

const HERE: ProcessFacts = { host: hostname(), startOf: processStart };

export class StateLockedError extends ScaleSweError {
  constructor(root: string, holder: LockHolder) {
    super(
      'StateLocked',
      `${root} is in use by another scaleswe run (pid ${holder.pid} on ${holder.host}); wait for it to end or stop it, or use another --state-dir`,
    );
  }
}

/** The holder as a symlink target: `<host>:<pid>:<start>` (hosts hold no ':' ; IPv6 literals aside). */
function formatHolder(holder: LockHolder): string {
  return `${holder.host}:${holder.pid}:${holder.start ?? ''}`;
}

function parseHolder(raw: string): LockHolder | undefined {
  const m = /^(.*):([0-9]+):([0-9]*)$/.exec(raw);
  if (!m) return undefined;
  return { host: m[1]!, pid: Number(m[2]), ...(m[3] ? { start: m[3] } : {}) };
}

export interface StateLock {
  release(): void;
}

/**
 * Takes `<root>/run.lock` for this process, or throws StateLockedError naming the holder. The
 * lock is a symlink whose target names the holder: created whole or not at all (symlink fails
 * if it exists), and it needs no data block, so it is taken even on a nearly full disk. A
 * stale one (its holder died) is taken over. Released on release() or when the process exits,
 * however it exits short of SIGKILL (then it is stale). A state directory that cannot be made
 * or written (read-only, permissions, /proc) is a NotWritableError naming it.
 */
export async function lockStateDir(root: string, facts: ProcessFacts = HERE): Promise<StateLock> {
  try {
    await makeDirectories(root);
  } catch (error) {
    if (refused(MKDIR_REFUSED, error)) throw new NotWritableError(`state directory ${root}`, error);
    throw error;
  }
  const path = join(root, 'run.lock');
  const mine = formatHolder({ pid: process.pid, start: processStart(process.pid), host: facts.host });
  for (let tries = 0; tries < 5; tries++) {
    try {
      await symlink(mine, path);
      const release = () => {
        try {
          if (readlinkSync(path) === mine) unlinkSync(path);
        } catch {
          // already gone
        }
        process.off('exit', release);
      };
      process.on('exit', release);
      return { release };
    } catch (error) {
      if (refused(WRITE_REFUSED, error)) throw new NotWritableError(`state directory ${root}`, error);
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    }
    const raw = await readlink(path).catch(() => undefined);
    if (raw === undefined) continue;
    const holder = parseHolder(raw);
    if (holder && !isStaleLock(holder, facts)) throw new StateLockedError(root, holder);
    // Stale (or not ours to read): take it over, unless another taker replaced it meanwhile.
    if ((await readlink(path).catch(() => undefined)) === raw) await rm(path, { force: true });
  }
  throw new ScaleSweError('StateLocked', `${root}: could not take run.lock (contended)`);
}
