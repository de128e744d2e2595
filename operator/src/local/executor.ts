import { spawn, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type InfraFailureReason, type StageInput, StageResult } from '../api/index.ts';
import { languageCacheEnv, languageToolchainEnv } from '../languages/index.ts';

/** The agent runner: the source next to this file, or the bundle next to the bundled CLI. */
const AGENT_MAIN =
  process.env.SCALESWE_AGENT_MAIN ??
  [new URL('../agents/scaleswe-agent.ts', import.meta.url), new URL('../agent/main.js', import.meta.url)]
    .map((u) => fileURLToPath(u))
    .find((path) => existsSync(path)) ??
  fileURLToPath(new URL('../agents/scaleswe-agent.ts', import.meta.url));

export type IsolationMode = 'bwrap' | 'none';

export interface StageProcessOptions {
  workDir: string;
  cacheDir: string;
  timeoutSeconds: number;
  isolation: IsolationMode;
  signal?: AbortSignal | undefined;
  /** More directories the stage may write (a restored environment), at the same paths. */
  binds?: readonly string[] | undefined;
}

let bwrapChecked: boolean | undefined;

/** bubblewrap present and able to create namespaces here. */
export function bwrapAvailable(): boolean {
  bwrapChecked ??=
    spawnSync('bwrap', ['--ro-bind', '/', '/', '--unshare-all', 'true'], { stdio: 'ignore' }).status === 0;
  return bwrapChecked;
}

/**
 * The sandbox a stage pod gets, as bubblewrap flags: read-only root (so /tmp too: TMPDIR
 * points into the work dir; a tmpfs there would hide state and repos that live under /tmp),
 * only the work and cache dirs writable, fresh pid/ipc/uts namespaces. Network stays shared because
 * the stages need the package registries, as the pods' NetworkPolicy allows.
 */
export function bwrapArgs(
  workDir: string,
  cacheDir: string,
  command: string[],
  binds: readonly string[] = [],
): string[] {
  // biome-ignore format: flag/value pairs read best one pair a line
  return [
    '--ro-bind', '/', '/',
    '--dev', '/dev',
    '--proc', '/proc',
    '--bind', workDir, workDir,
    '--bind', cacheDir, cacheDir,
    ...binds.flatMap((dir) => ['--bind', dir, dir]),
    '--unshare-all', '--share-net',
    '--die-with-parent', '--new-session',
    '--chdir', workDir,
    ...command,
  ];
}

/** A stage's own HOME and TMPDIR; package caches shared across stages under cacheDir. */
function cacheEnv(home: string, cacheDir: string): Record<string, string> {
  return {
    HOME: home,
    TMPDIR: join(home, '..', 'tmp'),
    XDG_CACHE_HOME: cacheDir,
    ...languageCacheEnv(cacheDir),
  };
}

/** Credentials of the user's environment a stage never inherits (the local gateway holds the LLM key). */
export const WITHHELD_ENV = ['SCALESWE_LLM_API_KEY', 'OPENAI_API_KEY', 'GITHUB_TOKEN', 'GH_TOKEN'] as const;

/**
 * The environment of a stage process: the caller's, less its credentials, plus the stage's
 * homes. The installed toolchains stay found where the caller's HOME would have found them
 * (rustup's), since the stage's HOME is its own.
 */
export function stageEnv(parent: NodeJS.ProcessEnv, home: string, cacheDir: string): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...parent };
  for (const name of WITHHELD_ENV) delete env[name];
  const toolchains = languageToolchainEnv({ env: parent, home: parent.HOME ?? homedir() });
  return { ...env, ...toolchains, ...cacheEnv(home, cacheDir) };
}

/**
 * Runs one stage as a local process (the local stand-in for a sandbox pod) and returns its
 * result; process facts (timer, exit, missing or unreadable result) become `failed` results
 * with a reason of the one failure vocabulary. durationMs is the attempt's wall time.
 */
export async function runStageProcess(input: StageInput, opts: StageProcessOptions): Promise<StageResult> {
  const started = Date.now();
  const failed = (reason: InfraFailureReason, message: string): StageResult => ({
    stage: input.stage,
    outcome: 'failed',
    reason,
    message,
    tokensUsed: 0,
    durationMs: Date.now() - started,
    trajectories: [],
  });
  const home = join(opts.workDir, 'home');
  // A stage interrupted earlier may have left its work dir: start clean. After a hard kill
  // its sandbox may still be dying (bwrap --die-with-parent) and writing there: retry.
  await rm(opts.workDir, { recursive: true, force: true, maxRetries: 10, retryDelay: 200 });
  await mkdir(home, { recursive: true });
  await mkdir(join(opts.workDir, 'tmp'), { recursive: true });
  await mkdir(opts.cacheDir, { recursive: true });
  const inputPath = join(opts.workDir, 'input.json');
  const outputPath = join(opts.workDir, 'result.json');
  await writeFile(inputPath, JSON.stringify(input));
  const agent = [
    process.execPath,
    AGENT_MAIN,
    input.stage,
    '--input',
    inputPath,
    '--output',
    outputPath,
    '--workdir',
    join(opts.workDir, 'ws'),
  ];
  const [command, ...args] =
    opts.isolation === 'bwrap'
      ? ['bwrap', ...bwrapArgs(opts.workDir, opts.cacheDir, agent, opts.binds)]
      : agent;
  const child = spawn(command!, args, {
    cwd: opts.workDir,
    env: stageEnv(process.env, home, opts.cacheDir),
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true,
  });
  let log = '';
  const keep = (chunk: Buffer) => {
    log = (log + chunk.toString()).slice(-20_000);
  };
  child.stdout.on('data', keep);
  child.stderr.on('data', keep);
  const killGroup = () => {
    if (child.pid !== undefined) {
      try {
        process.kill(-child.pid, 'SIGKILL');
      } catch {
        // already gone
      }
    }
  };
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    killGroup();
  }, opts.timeoutSeconds * 1000);
  opts.signal?.addEventListener('abort', killGroup, { once: true });
  const exitCode: number | null = await new Promise((resolve) => child.on('close', (code) => resolve(code)));
  clearTimeout(timer);
  opts.signal?.removeEventListener('abort', killGroup);
  await writeFile(join(opts.workDir, 'agent.log'), log);

  if (timedOut) return failed('DeadlineExceeded', `stage exceeded ${opts.timeoutSeconds}s`);
  let raw: string;
  try {
    raw = await readFile(outputPath, 'utf8');
  } catch {
    return exitCode === 0
      ? failed('ResultMissing', 'agent exited 0 without writing a result')
      : failed('AgentCrashed', `agent exited ${exitCode}: ${log.slice(-2000)}`);
  }
  let parsed: ReturnType<typeof StageResult.safeParse>;
  try {
    parsed = StageResult.safeParse(JSON.parse(raw));
  } catch (error) {
    return failed('ResultCorrupt', `result is not JSON: ${(error as Error).message}`);
  }
  if (!parsed.success) return failed('ResultCorrupt', parsed.error.message.slice(0, 2000));
  return { ...parsed.data, durationMs: Date.now() - started };
}
