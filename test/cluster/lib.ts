// Small process/file helpers shared by the cluster and image scripts. Node built-ins only.
import { type SpawnOptions, spawn, spawnSync } from 'node:child_process';
import { existsSync, openSync, readFileSync, rmSync, unlinkSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { homedir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
export const K8S_VERSION = process.env.K8S_VERSION ?? 'v1.33.13';
export const CACHE_ROOT = process.env.SCALESWE_CACHE ?? join(homedir(), '.cache', 'scaleswe');
export const BIN_DIR = join(CACHE_ROOT, `k8s-${K8S_VERSION}`, 'bin');

export function bin(name: string): string {
  return join(BIN_DIR, name);
}

export function log(msg: string): void {
  process.stderr.write(`[cluster ${new Date().toISOString().slice(11, 19)}] ${msg}\n`);
}

export class PrerequisiteError extends Error {
  override name = 'PrerequisiteError';
}

export interface RunOptions {
  input?: string | Buffer;
  cwd?: string;
  env?: NodeJS.ProcessEnv;
  /** Do not throw on a non-zero exit. */
  allowFail?: boolean;
  /** Stream output to stderr instead of capturing it. */
  inherit?: boolean;
  timeoutMs?: number;
}

export interface RunResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs a command synchronously; throws with its stderr on failure unless allowFail. */
export function run(cmd: string, args: string[], opts: RunOptions = {}): RunResult {
  const r = spawnSync(cmd, args, {
    input: opts.input,
    cwd: opts.cwd,
    env: opts.env ?? process.env,
    encoding: 'utf8',
    maxBuffer: 256 * 1024 * 1024,
    timeout: opts.timeoutMs,
    stdio: opts.inherit ? ['pipe', process.stderr, process.stderr] : 'pipe',
  });
  if (r.error) {
    if (opts.allowFail) return { code: -1, stdout: '', stderr: String(r.error) };
    throw new Error(`${cmd} ${args.join(' ')}: ${r.error.message}`);
  }
  const res = { code: r.status ?? -1, stdout: r.stdout ?? '', stderr: r.stderr ?? '' };
  if (res.code !== 0 && !opts.allowFail) {
    throw new Error(
      `${cmd} ${args.join(' ')} exited ${res.code}: ${(res.stderr || res.stdout).trim().slice(-4000)}`,
    );
  }
  return res;
}

/** Like run, but asynchronous and streaming output (for long builds). */
export function runAsync(cmd: string, args: string[], opts: RunOptions = {}): Promise<void> {
  return new Promise((resolvePromise, reject) => {
    const so: SpawnOptions = {
      cwd: opts.cwd,
      env: opts.env ?? process.env,
      stdio: ['ignore', process.stderr, process.stderr],
    };
    const child = spawn(cmd, args, so);
    child.on('error', reject);
    child.on('exit', (code, signal) => {
      if (code === 0) resolvePromise();
      else reject(new Error(`${cmd} ${args.join(' ')} failed (${signal ?? `exit ${code}`})`));
    });
  });
}

export function which(cmd: string): string | undefined {
  const r = spawnSync('sh', ['-c', `command -v ${cmd}`], { encoding: 'utf8' });
  const out = r.stdout.trim();
  return r.status === 0 && out ? out : undefined;
}

export function freePort(host = '127.0.0.1'): Promise<number> {
  return new Promise((resolvePromise, reject) => {
    const srv = createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, host, () => {
      const addr = srv.address();
      const port = typeof addr === 'object' && addr ? addr.port : 0;
      srv.close(() => resolvePromise(port));
    });
  });
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** The kernel's start time of a pid (clock ticks since boot); identifies a pid across reuse. */
export function procStartTime(pid: number): string | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Field 2 (comm) may contain spaces; the rest starts after the last ')'.
    const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return rest[19];
  } catch {
    return undefined;
  }
}

export interface ProcRecord {
  name: string;
  pid: number;
  start: string;
  log: string;
}

/** True when the pid still runs the very process we recorded (not a reused pid). */
export function alive(p: ProcRecord): boolean {
  if (procStartTime(p.pid) !== p.start) return false;
  try {
    const stat = readFileSync(`/proc/${p.pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2)[0] !== 'Z';
  } catch {
    return false;
  }
}

/** Starts a daemon detached from us, output appended to logFile. */
export function startDaemon(
  name: string,
  cmd: string,
  args: string[],
  logFile: string,
  env?: NodeJS.ProcessEnv,
): ProcRecord {
  const fd = openSync(logFile, 'a');
  const child = spawn(cmd, args, { detached: true, stdio: ['ignore', fd, fd], env: env ?? process.env });
  child.unref();
  const pid = child.pid;
  if (pid === undefined) throw new Error(`could not start ${name} (${cmd})`);
  const start = procStartTime(pid);
  if (start === undefined) throw new Error(`${name} exited immediately; see ${logFile}:\n${tail(logFile)}`);
  return { name, pid, start, log: logFile };
}

export function tail(file: string, lines = 30): string {
  if (!existsSync(file)) return '(no log)';
  return readFileSync(file, 'utf8').split('\n').slice(-lines).join('\n');
}

/** Stops one recorded process: SIGTERM, then SIGKILL after graceMs. Only if it is still ours. */
export async function stopProcess(p: ProcRecord, graceMs = 10_000): Promise<void> {
  if (!alive(p)) return;
  try {
    process.kill(p.pid, 'SIGTERM');
  } catch {
    return;
  }
  const deadline = Date.now() + graceMs;
  while (Date.now() < deadline) {
    if (!alive(p)) return;
    await sleep(100);
  }
  if (alive(p)) {
    log(`${p.name} (pid ${p.pid}) ignored SIGTERM; sending SIGKILL`);
    try {
      process.kill(p.pid, 'SIGKILL');
    } catch {
      /* already gone */
    }
    for (let i = 0; i < 50 && alive(p); i++) await sleep(100);
  }
}

export async function waitFor<T>(
  what: string,
  timeoutMs: number,
  probe: () => Promise<T | undefined> | T | undefined,
  onTimeout?: () => string,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let lastErr = '';
  while (Date.now() < deadline) {
    try {
      const v = await probe();
      if (v !== undefined && v !== false) return v;
    } catch (e) {
      lastErr = e instanceof Error ? e.message : String(e);
    }
    await sleep(250);
  }
  throw new Error(
    `timed out after ${timeoutMs / 1000}s waiting for ${what}${lastErr ? ` (last error: ${lastErr})` : ''}` +
      (onTimeout ? `\n${onTimeout()}` : ''),
  );
}

/**
 * A lock file owned by this process (pid + start time inside). A lock whose owner is gone is
 * taken over; otherwise waits up to timeoutMs. Returns the release function.
 */
export async function acquireLock(path: string, what: string, timeoutMs: number): Promise<() => void> {
  const me: ProcRecord = { name: 'lock', pid: process.pid, start: procStartTime(process.pid) ?? '', log: '' };
  const deadline = Date.now() + timeoutMs;
  let announced = false;
  for (;;) {
    try {
      writeFileSync(path, JSON.stringify(me), { flag: 'wx' });
      return () => {
        try {
          const cur = JSON.parse(readFileSync(path, 'utf8')) as ProcRecord;
          if (cur.pid === me.pid && cur.start === me.start) unlinkSync(path);
        } catch {
          /* already gone */
        }
      };
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
    }
    let holder: ProcRecord | undefined;
    try {
      holder = JSON.parse(readFileSync(path, 'utf8')) as ProcRecord;
    } catch {
      holder = undefined; // being written or removed; retry
    }
    if (holder && !alive(holder)) {
      log(`${what}: lock holder pid ${holder.pid} is gone; taking over`);
      rmSync(path, { force: true });
      continue;
    }
    if (Date.now() > deadline) {
      throw new Error(
        `${what}: still held by pid ${holder?.pid ?? '?'} after ${timeoutMs / 1000}s (${path})`,
      );
    }
    if (!announced && holder) {
      log(`${what}: waiting for pid ${holder.pid} to finish`);
      announced = true;
    }
    await sleep(1000);
  }
}
