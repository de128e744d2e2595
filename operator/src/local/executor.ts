import { spawn, spawnSync } from 'node:child_process';
import { existsSync, realpathSync } from 'node:fs';
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import { dirname, isAbsolute, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type InfraFailureReason, infraFaultIn, type StageInput, StageResult } from '../api/index.ts';
import { languageCacheEnv, languageToolchainEnv } from '../languages/index.ts';
import { LLM_SOCKET_ENV } from '../llm/socket-relay.ts';
import { stageRepository } from './repo-mirror.ts';
import {
  attachSetupNetwork,
  SANDBOX_BLOCK_FD,
  SANDBOX_INFO_FD,
  type SetupNetwork,
  SYSTEMD_UPSTREAM_RESOLV_CONF,
  sandboxResolvConf,
} from './setup-network.ts';

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
  /** The run's LLM gateway socket, bound into the sandbox (its loopback port is not reachable there). */
  llmSocket?: string | undefined;
  /** Where bare mirrors of remote repositories live (repo-mirror.ts); absent: stages clone themselves. */
  gitMirrors?: string | undefined;
}

let bwrapChecked: boolean | undefined;

/** bubblewrap present and able to create namespaces here. */
export function bwrapAvailable(): boolean {
  bwrapChecked ??=
    spawnSync('bwrap', ['--ro-bind', '/', '/', '--unshare-all', 'true'], { stdio: 'ignore' }).status === 0;
  return bwrapChecked;
}

/**
 * The host paths a stage may read, besides its own dirs: the toolchains (system dirs, the
 * homes the language modules point at, PATH entries such as ~/.cargo/bin) and a minimal /etc
 * (name resolution, users, the CA bundle of the TLS-intercepting proxy the registries may be
 * reached through, the alternatives/JDK/Maven/Python config the toolchains link into).
 * Everything else (HOME, /root, kubeconfigs, ~/.ssh, cloud credentials, other state) is absent.
 */
export const SYSTEM_RO = ['/usr', '/bin', '/sbin', '/lib', '/lib32', '/lib64', '/libx32', '/opt', '/sys'];
// biome-ignore format: a table, several names a line
export const ETC_RO = [
  'resolv.conf', 'hosts', 'hostname', 'host.conf', 'gai.conf', 'nsswitch.conf', 'networks',
  'protocols', 'services', 'passwd', 'group', 'ssl', 'ca-certificates', 'ca-certificates.conf',
  'pki', 'crypto-policies', 'alternatives', 'ld.so.cache', 'ld.so.conf', 'ld.so.conf.d', 'localtime',
  'timezone', 'os-release', 'debian_version', 'mime.types', 'java-17-openjdk', 'java-21-openjdk', 'java-25-openjdk',
  'maven', 'python3', 'python3.11', 'python3.12', 'python3.13', 'pip.conf', 'npmrc',
  'terminfo', 'xml', 'sgml', 'fonts',
].map((name) => `/etc/${name}`);

/** What a stage sees of the host: read-only paths and the writable dirs of this stage. */
export interface SandboxView {
  workDir: string;
  cacheDir: string;
  /** Further writable dirs (e.g. an environment restored at its build path). */
  binds?: readonly string[] | undefined;
  /** Read-only, beyond SYSTEM_RO and ETC_RO: toolchain homes, the agent runner, a local source repo. */
  readOnly: readonly string[];
  /** The host file bound at /etc/resolv.conf when not the host's own (setup-network.ts). */
  resolvConf?: string | undefined;
}

/**
 * The sandbox a stage pod gets, as bubblewrap flags: an empty root with the system and
 * toolchain dirs read-only, a minimal /etc, a fresh /tmp, only the work and cache dirs
 * writable, fresh pid/ipc/uts/user/net namespaces. The network namespace gets its outside
 * link from slirp4netns once bwrap reports its child (--info-fd) and before the stage runs
 * (--block-fd): the registries are reachable, the host's loopback is not (setup-network.ts).
 * Test commands get a loopback-only namespace of their own (agents/offline.ts).
 */
export function bwrapArgs(view: SandboxView, command: string[]): string[] {
  const ro = [...SYSTEM_RO, ...ETC_RO, ...view.readOnly].flatMap((p) => ['--ro-bind-try', p, p]);
  // biome-ignore format: flag/value pairs read best one pair a line
  return [
    '--tmpfs', '/',
    '--dev', '/dev',
    '--proc', '/proc',
    // A fresh /tmp first: state, caches and repositories may live under it, bound after.
    '--tmpfs', '/tmp',
    ...ro,
    ...(view.resolvConf && view.resolvConf !== '/etc/resolv.conf' ? ['--ro-bind', view.resolvConf, '/etc/resolv.conf'] : []),
    '--bind', view.workDir, view.workDir,
    '--bind', view.cacheDir, view.cacheDir,
    ...(view.binds ?? []).flatMap((dir) => ['--bind', dir, dir]),
    '--remount-ro', '/',
    '--unshare-all',
    '--info-fd', String(SANDBOX_INFO_FD),
    '--block-fd', String(SANDBOX_BLOCK_FD),
    '--die-with-parent', '--new-session',
    '--chdir', view.workDir,
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

/**
 * The caller's variables a stage inherits (an allowlist: everything else, credentials and
 * cloud settings included, stays out): the search path and locale, proxies and CA bundles
 * (the registries may sit behind a TLS-intercepting proxy), toolchain homes, and the package
 * index settings the README documents (a mirror the user points the installers at).
 */
// biome-ignore format: a table, several names a line
export const STAGE_ENV_ALLOW: readonly (string | RegExp)[] = [
  'PATH', 'LANG', 'LANGUAGE', /^LC_[A-Z]+$/, 'TZ', 'TERM',
  /^(HTTP|HTTPS|FTP|ALL|NO)_PROXY$/i,
  'SSL_CERT_FILE', 'SSL_CERT_DIR', 'REQUESTS_CA_BUNDLE', 'CURL_CA_BUNDLE', 'NODE_EXTRA_CA_CERTS',
  'PIP_CERT', 'GIT_SSL_CAINFO', 'CARGO_HTTP_CAINFO',
  'PYENV_ROOT', 'PYENV_VERSION', 'RUSTUP_HOME', 'RUSTUP_TOOLCHAIN', 'GOROOT', 'GOTOOLCHAIN',
  'JAVA_HOME', 'MAVEN_HOME', 'M2_HOME',
  'UV_DEFAULT_INDEX', 'UV_INDEX', 'UV_INDEX_URL', 'UV_EXTRA_INDEX_URL', 'UV_INSECURE_HOST',
  'PIP_INDEX_URL', 'PIP_EXTRA_INDEX_URL', 'PIP_TRUSTED_HOST', /^npm_config_registry$/i,
  'GOPROXY', 'GOSUMDB', 'GONOSUMDB', 'GOPRIVATE', 'GONOPROXY', 'GOINSECURE',
];

/** Credentials of the user's environment a stage never inherits (the local gateway holds the LLM key). */
export const WITHHELD_ENV = ['SCALESWE_LLM_API_KEY', 'OPENAI_API_KEY', 'GITHUB_TOKEN', 'GH_TOKEN'] as const;

function allowed(name: string): boolean {
  if ((WITHHELD_ENV as readonly string[]).includes(name)) return false;
  return STAGE_ENV_ALLOW.some((rule) => (typeof rule === 'string' ? rule === name : rule.test(name)));
}

/**
 * The environment of a stage process: the allowlisted part of the caller's, plus the stage's
 * homes. The installed toolchains stay found where the caller's HOME would have found them
 * (rustup's), since the stage's HOME is its own.
 */
export function stageEnv(parent: NodeJS.ProcessEnv, home: string, cacheDir: string): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [name, value] of Object.entries(parent))
    if (value !== undefined && allowed(name)) env[name] = value;
  const toolchains = languageToolchainEnv({ env: parent, home: parent.HOME ?? homedir() });
  return { ...env, ...toolchains, ...cacheEnv(home, cacheDir) };
}

/** True when `path` is `dir` or inside it. */
function within(path: string, dir: string): boolean {
  const rel = relative(dir, path);
  return rel === '' || (!rel.startsWith('..') && !isAbsolute(rel));
}

/**
 * The read-only paths of a stage beyond the system dirs, from host facts (pure): the toolchain
 * homes, the PATH entries (never HOME itself, `/` or an ancestor of HOME: a PATH entry such as
 * ~/.cargo/bin is bound, ~ is not), the agent runner's code, and the source repository when
 * its clone URL is a local path.
 */
export function stageReadOnlyPaths(facts: {
  env: NodeJS.ProcessEnv;
  home: string;
  agentRoots: readonly string[];
  cloneURL: string;
}): string[] {
  const { env, home } = facts;
  const toolchains = languageToolchainEnv({ env, home });
  const homes = ['PYENV_ROOT', 'RUSTUP_HOME', 'GOROOT', 'JAVA_HOME', 'MAVEN_HOME', 'M2_HOME']
    .map((name) => toolchains[name] ?? env[name])
    .filter((p): p is string => Boolean(p) && isAbsolute(p!));
  const pathEntries = (env.PATH ?? '').split(':').filter((p) => isAbsolute(p) && !within(home, p));
  const local = localRepoPath(facts.cloneURL);
  return [...new Set([...homes, ...pathEntries, ...facts.agentRoots, ...(local ? [local] : [])])];
}

/** The directory of a clone URL that names a local repository, else undefined. */
function localRepoPath(cloneURL: string): string | undefined {
  if (cloneURL.startsWith('file://')) return fileURLToPath(cloneURL);
  return isAbsolute(cloneURL) ? cloneURL : undefined;
}

/**
 * What the agent runner needs to start: the node binary's package and, for the source
 * layout, the project's package.json, operator/src and node_modules (not the rest of the
 * checkout: other runs' state may live there); for the bundle, its directory.
 */
function agentRoots(): string[] {
  const node = realpathSync(process.execPath);
  const roots = [dirname(dirname(node))];
  const agent = realpathSync(AGENT_MAIN);
  const src = agent.lastIndexOf('/operator/src/');
  if (src >= 0) {
    const project = agent.slice(0, src);
    roots.push(
      join(project, 'package.json'),
      join(project, 'operator', 'src'),
      join(project, 'node_modules'),
    );
  } else {
    roots.push(dirname(dirname(agent)));
  }
  // node_modules/.bin/node is a symlink: its target dir too.
  return roots.filter((r) => !['/', '/usr', '/bin'].includes(r));
}

/** File-system errors of the host that make an attempt fail for the machine's sake. */
const DISK_FAULTS: Record<string, InfraFailureReason> = {
  ENOSPC: 'DiskFull',
  EDQUOT: 'DiskFull',
  EROFS: 'ReadOnlyFilesystem',
};

/**
 * Runs one stage as a local process (the local stand-in for a sandbox pod) and returns its
 * result; process facts (timer, exit, missing or unreadable result) become `failed` results
 * with a reason of the one failure vocabulary. durationMs is the attempt's wall time.
 */
export async function runStageProcess(given: StageInput, opts: StageProcessOptions): Promise<StageResult> {
  let input = given;
  if (opts.gitMirrors) {
    try {
      const cloneURL = await stageRepository(given.instance.cloneURL, opts.gitMirrors);
      input = { ...given, instance: { ...given.instance, cloneURL } };
    } catch (error) {
      return {
        stage: given.stage,
        outcome: 'failed',
        reason: 'CheckoutFailed',
        message: (error as Error).message,
        tokensUsed: 0,
        durationMs: 0,
        trajectories: [],
      };
    }
  }
  // bwrap itself failing to build the sandbox (seen under load: "bwrap: loopback: Failed
  // RTM_NEWADDR") ran no stage code: start it again after a pause, not a stage backoff. Under
  // two parallel workers on a busy 2-core gVisor machine it failed four times within 4 s, so
  // the pauses reach half a minute before the failure is reported (as infrastructure).
  let result = await runStageProcessOnce(input, opts);
  for (const pauseMs of SANDBOX_SETUP_RETRY_PAUSES_MS) {
    if (!sandboxSetupFailed(result) || opts.signal?.aborted) break;
    await new Promise((resolve) => setTimeout(resolve, pauseMs));
    result = await runStageProcessOnce(input, opts);
  }
  return result;
}

const SANDBOX_SETUP_RETRY_PAUSES_MS = [250, 1000, 3000, 8000, 20000];

/**
 * A failure of bwrap's own set-up or of the sandbox's network, before the agent started: no
 * stage code ran (it waits on the block fd until the network is up), so it is started again
 * at once (pure). google/uuid#172 failed its prompt stage this way under load.
 */
export function sandboxSetupFailed(result: StageResult): boolean {
  if (result.reason === 'SandboxNetworkFailed') return true;
  return result.reason === 'AgentCrashed' && /^agent exited \d+: bwrap: /.test(result.message ?? '');
}

async function runStageProcessOnce(input: StageInput, opts: StageProcessOptions): Promise<StageResult> {
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
  const inputPath = join(opts.workDir, 'input.json');
  const outputPath = join(opts.workDir, 'result.json');
  try {
    await mkdir(home, { recursive: true });
    await mkdir(join(opts.workDir, 'tmp'), { recursive: true });
    await mkdir(opts.cacheDir, { recursive: true });
    await writeFile(inputPath, JSON.stringify(input));
  } catch (error) {
    // A full or read-only disk under the work dir is this attempt's failure, not the run's.
    const fault = DISK_FAULTS[(error as NodeJS.ErrnoException).code ?? ''];
    if (fault) return failed(fault, `preparing the stage's work dir: ${(error as Error).message}`);
    throw error;
  }
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
  const view: SandboxView = {
    workDir: opts.workDir,
    cacheDir: opts.cacheDir,
    binds: opts.binds ?? [],
    readOnly: stageReadOnlyPaths({
      env: process.env,
      home: process.env.HOME ?? homedir(),
      agentRoots: agentRoots(),
      cloneURL: input.instance.cloneURL,
    }),
    resolvConf: sandboxResolvConf(
      await readFile('/etc/resolv.conf', 'utf8').catch(() => ''),
      existsSync(SYSTEMD_UPSTREAM_RESOLV_CONF),
    ),
  };
  const sandboxed = opts.isolation === 'bwrap';
  if (sandboxed && opts.llmSocket) view.readOnly = [...view.readOnly, dirname(opts.llmSocket)];
  const [command, ...args] = sandboxed ? ['bwrap', ...bwrapArgs(view, agent)] : agent;
  const env = stageEnv(process.env, home, opts.cacheDir);
  if (sandboxed && opts.llmSocket) env[LLM_SOCKET_ENV] = opts.llmSocket;
  const child = spawn(command!, args, {
    cwd: opts.workDir,
    env,
    // In the sandbox: bwrap's info fd (its child's pid) and block fd (go once networked).
    stdio: sandboxed ? ['ignore', 'pipe', 'pipe', 'pipe', 'pipe'] : ['ignore', 'pipe', 'pipe'],
    detached: true,
  });
  const closed = new Promise<number | null>((resolve) => child.on('close', (code) => resolve(code)));
  let log = '';
  const keep = (chunk: Buffer) => {
    log = (log + chunk.toString()).slice(-20_000);
  };
  child.stdout?.on('data', keep);
  child.stderr?.on('data', keep);
  const killGroup = () => {
    if (child.pid !== undefined) {
      try {
        process.kill(-child.pid, 'SIGKILL');
      } catch {
        // already gone
      }
    }
  };
  let network: SetupNetwork | undefined;
  if (sandboxed) {
    try {
      network = await attachSetupNetwork(child);
    } catch (error) {
      killGroup();
      await closed;
      // bwrap's own words, when it died first (e.g. "bwrap: loopback: Failed RTM_NEWADDR").
      const said = log.trim() ? `: ${log.trim().slice(-500)}` : '';
      return failed('SandboxNetworkFailed', `${(error as Error).message}${said}`);
    }
  }
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    killGroup();
  }, opts.timeoutSeconds * 1000);
  opts.signal?.addEventListener('abort', killGroup, { once: true });
  const exitCode = await closed;
  clearTimeout(timer);
  network?.stop();
  opts.signal?.removeEventListener('abort', killGroup);
  // Kept for the user when the disk allows: the attempt's outcome does not depend on it.
  await writeFile(join(opts.workDir, 'agent.log'), log).catch(() => undefined);

  if (timedOut) return failed('DeadlineExceeded', `stage exceeded ${opts.timeoutSeconds}s`);
  let raw: string;
  try {
    raw = await readFile(outputPath, 'utf8');
  } catch {
    return exitCode === 0
      ? failed('ResultMissing', 'agent exited 0 without writing a result')
      : failed(
          infraFaultIn({ reason: 'AgentCrashed', text: log })?.reason ?? 'AgentCrashed',
          `agent exited ${exitCode}: ${log.slice(-2000)}`,
        );
  }
  let parsed: ReturnType<typeof StageResult.safeParse>;
  try {
    parsed = StageResult.safeParse(JSON.parse(raw));
  } catch (error) {
    return failed('ResultCorrupt', `result is not JSON: ${(error as Error).message}`);
  }
  if (!parsed.success) return failed('ResultCorrupt', parsed.error.message.slice(0, 2000));
  const result = parsed.data;
  // A rejection caused by the machine (full disk, OOM, registry down …) is no verdict: retried.
  if (result.outcome === 'rejected') {
    const text = [result.message, result.logTail ?? '', log].join('\n');
    const fault = infraFaultIn({ reason: result.reason, text });
    if (fault)
      return {
        ...failed(fault.reason, fault.message),
        logTail: result.logTail,
        tokensUsed: result.tokensUsed,
        ...(result.inputTokens !== undefined && { inputTokens: result.inputTokens }),
        ...(result.outputTokens !== undefined && { outputTokens: result.outputTokens }),
        trajectories: result.trajectories,
      };
  }
  return { ...result, durationMs: Date.now() - started };
}
