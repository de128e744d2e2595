// A real Kubernetes on this machine, from binaries built by build-k8s.sh.
//
//   node test/cluster/cluster.ts up --mode control-plane|node [--name N]
//   node test/cluster/cluster.ts down [--name N]
//   node test/cluster/cluster.ts status [--name N]
//
// control-plane: etcd + kube-apiserver on loopback (envtest-style: no pods ever run).
// node: adds kube-controller-manager, kube-scheduler, kube-proxy (iptables), NetworkPolicy
// enforcement (netpol.ts), containerd, bridge CNI, a self-built pause image and kubelet; the
// node becomes Ready.
// State (kubeconfig, pids, logs, certs) lives in ~/.cache/scaleswe/cluster/<name>/.
// `down` stops exactly the processes `up` started (by pid + start time) and removes the
// mounts, bridge, iptables chains and sysctl changes it made.

import {
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  realpathSync,
  renameSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { request } from 'node:https';
import { hostname, networkInterfaces } from 'node:os';
import { join } from 'node:path';
import { Command } from 'commander';
import { stringify } from 'yaml';
import { type ClientCert, ensureClientCert, ensurePki, type Pki } from './certs.ts';
import { ensurePauseImage, PAUSE_IMAGE, pruneThrowawayImages } from './images.ts';
import {
  acquireLock,
  alive,
  BIN_DIR,
  bin,
  CACHE_ROOT,
  freePort,
  K8S_VERSION,
  log,
  PrerequisiteError,
  type ProcRecord,
  procStartTime,
  REPO_ROOT,
  run,
  runAsync,
  sleep,
  startDaemon,
  stopProcess,
  tail,
  waitFor,
  which,
} from './lib.ts';
import { CHAIN_PREFIX as NETPOL_CHAIN_PREFIX } from './netpol.ts';

export type Mode = 'control-plane' | 'node';

export const SERVICE_CIDR = '10.0.0.0/24';
export const POD_SUBNET = '10.244.0.0/24';
export const CLUSTER_CIDR = '10.244.0.0/16';
const BRIDGE = 'sswe0';
const NETPOL_USER = 'scaleswe:netpol';
const CNI_NETWORK = 'scaleswe';
const CHAIN_PREFIXES = ['KUBE-', 'CNI-', NETPOL_CHAIN_PREFIX];
const IPT_TABLES = ['filter', 'nat', 'mangle', 'raw'];

export interface ClusterState {
  name: string;
  mode: Mode;
  version: string;
  stateDir: string;
  runDir: string;
  kubeconfig: string;
  server: string;
  nodeName: string;
  nodeIP: string;
  ports: Record<string, number>;
  procs: ProcRecord[];
  startedAt: string;
  /** Who started it: 'cli' (kept until `down`) or a test tier's global setup. */
  owner: string;
  /** The process that ran `up` (pid + kernel start time), to recognize orphaned clusters. */
  ownerProc?: ProcRecord;
  /** What `up` changed on the host, so `down` can undo exactly that. */
  host: {
    containerdSocket?: string;
    bridgeExisted?: boolean;
    chainsBefore?: Record<string, string[]>;
    sysctlsBefore?: Record<string, string>;
  };
}

export const ALL_COMPONENTS = [
  'etcd',
  'kube-apiserver',
  'kube-controller-manager',
  'kube-scheduler',
  'containerd',
  'kube-proxy',
  'netpol',
  'kubelet',
] as const;

export function stateDirFor(name: string): string {
  return join(CACHE_ROOT, 'cluster', name);
}

function statePath(name: string): string {
  return join(stateDirFor(name), 'state.json');
}

export function readState(name: string): ClusterState | undefined {
  const p = statePath(name);
  if (!existsSync(p)) return undefined;
  return JSON.parse(readFileSync(p, 'utf8')) as ClusterState;
}

function otherClusters(name: string): ClusterState[] {
  const root = join(CACHE_ROOT, 'cluster');
  if (!existsSync(root)) return [];
  return readdirSync(root)
    .filter((n) => n !== name && !n.endsWith('.lock'))
    .map((n) => readState(n))
    .filter((s): s is ClusterState => s !== undefined);
}

/** Clusters whose owner matches and whose owning process is gone (a killed test run). */
export function orphanedClusters(ownerPrefix: string): string[] {
  const root = join(CACHE_ROOT, 'cluster');
  if (!existsSync(root)) return [];
  return readdirSync(root).filter((n) => {
    if (n.endsWith('.lock')) return false;
    const st = readState(n);
    return (st?.owner ?? '').startsWith(ownerPrefix) && st?.ownerProc !== undefined && !alive(st.ownerProc);
  });
}

/** Tears down clusters that test runs started and could not stop (killed, timed out). */
export async function reapOrphans(ownerPrefix: string): Promise<void> {
  for (const n of orphanedClusters(ownerPrefix)) {
    log(`cluster '${n}' was left behind by a test run that is gone; tearing it down`);
    await down(n);
  }
}

/** Removes the state dirs (logs, certs) of stopped clusters whose name matches. */
export function pruneStoppedClusters(pattern: RegExp): void {
  const root = join(CACHE_ROOT, 'cluster');
  if (!existsSync(root)) return;
  for (const n of readdirSync(root)) {
    if (pattern.test(n) && !n.endsWith('.lock') && !existsSync(statePath(n)))
      rmSync(join(root, n), { recursive: true, force: true });
  }
}

function saveState(s: ClusterState): void {
  writeFileSync(statePath(s.name), JSON.stringify(s, null, 2));
}

// ---------------------------------------------------------------- prerequisites

const NODE_PACKAGES = [
  'containerd',
  'runc',
  'containernetworking-plugins',
  'iptables',
  'conntrack',
  'podman',
  'buildah',
  'skopeo',
  'umoci',
  'debootstrap',
  'musl-tools',
  'openssl',
];

let aptUpdated = false;

/** containerd's per-registry host configs (hosts.toml), read at every pull. */
export const REGISTRY_HOSTS_DIR = join(CACHE_ROOT, 'containerd', 'certs.d');

/** Lets the node pull from a plain-HTTP registry at host:port (a registry the tests run). */
export function allowPlainHTTPRegistry(host: string): void {
  const dir = join(REGISTRY_HOSTS_DIR, host);
  mkdirSync(dir, { recursive: true });
  writeFileSync(
    join(dir, 'hosts.toml'),
    `server = "http://${host}"\n\n[host."http://${host}"]\n  capabilities = ["pull", "resolve"]\n`,
  );
}

/** Installs the Debian packages that are missing (apt-get update at most once per process). */
export function ensurePackages(pkgs: string[]): void {
  const missing = pkgs.filter((p) => {
    // biome-ignore lint/suspicious/noTemplateCurlyInString: dpkg-query's own format syntax
    const r = run('dpkg-query', ['-W', '-f=${Status}', p], { allowFail: true });
    return !r.stdout.includes('install ok installed');
  });
  if (missing.length === 0) return;
  if (process.getuid?.() !== 0) {
    throw new PrerequisiteError(`missing Debian packages ${missing.join(' ')} and not root to install them`);
  }
  if (!which('apt-get')) throw new PrerequisiteError(`missing packages ${missing.join(' ')} and no apt-get`);
  log(`apt-get install ${missing.join(' ')}`);
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  if (!aptUpdated) {
    run('apt-get', ['update', '-qq'], { env });
    aptUpdated = true;
  }
  run('apt-get', ['install', '-y', '-qq', ...missing], { env });
}

/** Builds the Kubernetes binaries when missing (a warm cache costs milliseconds). */
export async function ensureBinaries(): Promise<void> {
  const needed = [
    'etcd',
    'kube-apiserver',
    'kube-controller-manager',
    'kube-scheduler',
    'kubelet',
    'kube-proxy',
    'kubectl',
  ];
  if (needed.every((b) => existsSync(bin(b)))) return;
  if (!which('go')) {
    throw new PrerequisiteError(
      `Kubernetes ${K8S_VERSION} binaries are not in ${BIN_DIR} and 'go' is not on PATH to build them`,
    );
  }
  log(`building Kubernetes ${K8S_VERSION} (cold build: ~9 min on 2 cores)`);
  await runAsync('bash', [join(REPO_ROOT, 'test/cluster/build-k8s.sh')]);
}

function checkPrereqs(mode: Mode): void {
  if (!which('openssl')) {
    if (process.getuid?.() === 0) ensurePackages(['openssl']);
    else throw new PrerequisiteError('openssl is required to create the cluster certificates');
  }
  if (mode === 'node') {
    if (process.getuid?.() !== 0) {
      throw new PrerequisiteError('node mode needs root (containerd, kubelet, iptables, mounts)');
    }
    ensurePackages(NODE_PACKAGES);
    if (!existsSync('/sys/fs/cgroup/memory') && !existsSync('/sys/fs/cgroup/cgroup.controllers')) {
      throw new PrerequisiteError('no cgroup hierarchy mounted at /sys/fs/cgroup');
    }
  }
}

// ---------------------------------------------------------------- host facts

export function nodeIP(): string {
  const r = run('ip', ['-4', 'route', 'get', '1.1.1.1'], { allowFail: true });
  const m = /\bsrc (\d+\.\d+\.\d+\.\d+)/.exec(r.stdout);
  if (m?.[1]) return m[1];
  for (const addrs of Object.values(networkInterfaces())) {
    for (const a of addrs ?? []) if (a.family === 'IPv4' && !a.internal) return a.address;
  }
  throw new PrerequisiteError('cannot determine a non-loopback IPv4 address for the node');
}

export function nodeName(): string {
  const n = hostname().toLowerCase().split('.')[0] ?? 'node';
  return /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/.test(n) ? n : 'scaleswe-node';
}

// ---------------------------------------------------------------- kubeconfig + API

function b64(file: string): string {
  return readFileSync(file).toString('base64');
}

function writeKubeconfig(path: string, server: string, pki: Pki, user: string, cc: ClientCert): void {
  const doc = {
    apiVersion: 'v1',
    kind: 'Config',
    clusters: [{ name: 'scaleswe', cluster: { server, 'certificate-authority-data': b64(pki.caCert) } }],
    users: [
      { name: user, user: { 'client-certificate-data': b64(cc.cert), 'client-key-data': b64(cc.key) } },
    ],
    contexts: [{ name: 'scaleswe', context: { cluster: 'scaleswe', user } }],
    'current-context': 'scaleswe',
  };
  writeFileSync(path, stringify(doc), { mode: 0o600 });
}

interface ApiResponse {
  status: number;
  body: string;
}

/** GET against the apiserver as the admin user (certs read from the state dir). */
export function apiGet(s: ClusterState, path: string, timeoutMs = 5000): Promise<ApiResponse> {
  const pkiDir = join(s.stateDir, 'pki');
  const url = new URL(path, s.server);
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host: url.hostname,
        port: url.port,
        path: url.pathname + url.search,
        method: 'GET',
        ca: readFileSync(join(pkiDir, 'ca.crt')),
        cert: readFileSync(join(pkiDir, 'admin.crt')),
        key: readFileSync(join(pkiDir, 'admin.key')),
        timeout: timeoutMs,
      },
      (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (c: string) => {
          body += c;
        });
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      },
    );
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', reject);
    req.end();
  });
}

async function readyz(s: ClusterState): Promise<boolean> {
  try {
    const r = await apiGet(s, '/readyz', 3000);
    return r.status === 200;
  } catch {
    return false;
  }
}

export function kubectl(s: ClusterState, args: string[], input?: string) {
  return run(bin('kubectl'), ['--kubeconfig', s.kubeconfig, ...args], { input, allowFail: true });
}

// ---------------------------------------------------------------- up

export interface UpOptions {
  name?: string;
  mode: Mode;
  /** Recorded in the state; a test tier uses it to recognize a cluster a killed run left behind. */
  owner?: string;
}

/** Brings the cluster up, or reuses it when it already runs in (at least) the requested mode. */
export async function up(opts: UpOptions): Promise<ClusterState> {
  const name = opts.name ?? 'scaleswe';
  mkdirSync(join(CACHE_ROOT, 'cluster'), { recursive: true });
  // Two `up`s of one cluster at once would wipe each other's state.
  const release = await acquireLock(join(CACHE_ROOT, 'cluster', `${name}.up.lock`), `up ${name}`, 600_000);
  try {
    return await upLocked(name, opts);
  } finally {
    release();
  }
}

async function upLocked(name: string, opts: UpOptions): Promise<ClusterState> {
  const t0 = Date.now();
  checkPrereqs(opts.mode);
  const existing = readState(name);
  if (existing) {
    const allAlive = existing.procs.every(alive);
    const covers = existing.mode === opts.mode || existing.mode === 'node';
    if (
      allAlive &&
      covers &&
      (await readyz(existing)) &&
      (opts.mode === 'control-plane' || (await nodeReady(existing)))
    ) {
      log(`cluster '${name}' already up (${existing.mode}); reusing ${existing.kubeconfig}`);
      return existing;
    }
    log(`cluster '${name}' is stale or in mode ${existing.mode}; tearing it down first`);
    await down(name);
  }
  if (opts.mode === 'node') {
    // One kubelet per machine: the node name, bridge and iptables chains are host-global.
    for (const other of otherClusters(name)) {
      if (other.mode === 'node' && other.procs.some(alive)) {
        throw new PrerequisiteError(
          `node-mode cluster '${other.name}' already runs on this machine; stop it first (cluster.ts down --name ${other.name})`,
        );
      }
    }
  }
  await ensureBinaries();

  const stateDir = stateDirFor(name);
  mkdirSync(stateDir, { recursive: true });
  for (const d of ['pki', 'etcd', 'kubelet', 'cni', 'config', 'run']) {
    rmSync(join(stateDir, d), { recursive: true, force: true });
  }
  const logs = join(stateDir, 'logs');
  if (existsSync(logs)) {
    rmSync(`${logs}.prev`, { recursive: true, force: true });
    renameSync(logs, `${logs}.prev`);
  }
  mkdirSync(logs, { recursive: true });
  const runDir = `/run/scaleswe/${name}`;

  const ip = opts.mode === 'node' ? nodeIP() : '127.0.0.1';
  const node = nodeName();
  const ports: Record<string, number> = {
    etcdClient: await freePort(),
    etcdPeer: await freePort(),
    apiserver: await freePort(),
  };
  const server = `https://127.0.0.1:${ports.apiserver}`;
  const s: ClusterState = {
    name,
    mode: opts.mode,
    version: K8S_VERSION,
    stateDir,
    runDir,
    kubeconfig: join(stateDir, 'kubeconfig'),
    server,
    nodeName: node,
    nodeIP: ip,
    ports,
    procs: [],
    startedAt: new Date().toISOString(),
    owner: opts.owner ?? 'cli',
    ownerProc: { name: 'owner', pid: process.pid, start: procStartTime(process.pid) ?? '', log: '' },
    host: {},
  };
  saveState(s);
  try {
    await startControlPlane(s);
    log(`control plane ready in ${((Date.now() - t0) / 1000).toFixed(1)}s; kubeconfig ${s.kubeconfig}`);
    if (opts.mode === 'node') {
      await startNode(s);
      log(`node ${s.nodeName} Ready in ${((Date.now() - t0) / 1000).toFixed(1)}s`);
    }
  } catch (e) {
    log(`up failed; tearing down what was started (logs kept in ${logs})`);
    await down(name).catch((de: unknown) => log(`down after failed up: ${String(de)}`));
    throw e;
  }
  return s;
}

function startProc(s: ClusterState, name: string, cmd: string, args: string[]): ProcRecord {
  const logFile = join(s.stateDir, 'logs', `${name}.log`);
  writeFileSync(logFile, `# ${cmd} ${args.join(' ')}\n`, { flag: 'a' });
  const p = startDaemon(name, cmd, args, logFile);
  s.procs.push(p);
  saveState(s);
  return p;
}

function failedProc(s: ClusterState): string | undefined {
  const dead = s.procs.find((p) => !alive(p));
  return dead ? `${dead.name} exited; last log lines:\n${tail(dead.log)}` : undefined;
}

async function waitUp(s: ClusterState, what: string, timeoutMs: number, probe: () => Promise<boolean>) {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const dead = failedProc(s);
    if (dead) throw new Error(`while waiting for ${what}: ${dead}`);
    if (await probe().catch(() => false)) return;
    await sleep(250);
  }
  const logs = s.procs.map((p) => `--- ${p.name} (${p.log})\n${tail(p.log, 15)}`).join('\n');
  throw new Error(`timed out after ${timeoutMs / 1000}s waiting for ${what}\n${logs}`);
}

async function startControlPlane(s: ClusterState): Promise<void> {
  const pkiDir = join(s.stateDir, 'pki');
  const pki = ensurePki(pkiDir, {
    ips: [...new Set(['127.0.0.1', '10.0.0.1', s.nodeIP])],
    dns: [
      'localhost',
      s.nodeName,
      'kubernetes',
      'kubernetes.default',
      'kubernetes.default.svc',
      'kubernetes.default.svc.cluster.local',
    ],
  });
  const admin = ensureClientCert(pki, 'admin', 'kubernetes-admin', ['system:masters']);
  const kubeletClient = ensureClientCert(pki, 'apiserver-kubelet-client', 'kube-apiserver-kubelet-client', [
    'system:masters',
  ]);
  writeKubeconfig(s.kubeconfig, s.server, pki, 'admin', admin);

  const etcdUrl = `http://127.0.0.1:${s.ports.etcdClient}`;
  const peerUrl = `http://127.0.0.1:${s.ports.etcdPeer}`;
  startProc(s, 'etcd', bin('etcd'), [
    '--name=default',
    `--data-dir=${join(s.stateDir, 'etcd')}`,
    `--listen-client-urls=${etcdUrl}`,
    `--advertise-client-urls=${etcdUrl}`,
    `--listen-peer-urls=${peerUrl}`,
    `--initial-advertise-peer-urls=${peerUrl}`,
    `--initial-cluster=default=${peerUrl}`,
    '--unsafe-no-fsync',
    '--log-level=warn',
  ]);
  await waitUp(s, 'etcd /health', 30_000, async () => {
    try {
      const r = await fetch(`${etcdUrl}/health`);
      return r.ok;
    } catch {
      return false;
    }
  });

  const node = s.mode === 'node';
  startProc(s, 'kube-apiserver', bin('kube-apiserver'), [
    `--etcd-servers=${etcdUrl}`,
    // In node mode pods reach the API through the `kubernetes` Service (10.0.0.1 → node IP).
    `--bind-address=${node ? '0.0.0.0' : '127.0.0.1'}`,
    `--advertise-address=${s.nodeIP}`,
    `--secure-port=${s.ports.apiserver}`,
    `--tls-cert-file=${pki.apiserverCert}`,
    `--tls-private-key-file=${pki.apiserverKey}`,
    `--client-ca-file=${pki.caCert}`,
    `--service-account-issuer=https://kubernetes.default.svc.cluster.local`,
    `--service-account-key-file=${pki.saPub}`,
    `--service-account-signing-key-file=${pki.saKey}`,
    `--service-cluster-ip-range=${SERVICE_CIDR}`,
    `--authorization-mode=${node ? 'Node,RBAC' : 'RBAC'}`,
    '--allow-privileged=true',
    `--kubelet-client-certificate=${kubeletClient.cert}`,
    `--kubelet-client-key=${kubeletClient.key}`,
    '--kubelet-preferred-address-types=InternalIP,Hostname',
    // Without a controller-manager nothing creates the `default` ServiceAccount.
    ...(node
      ? ['--enable-admission-plugins=NodeRestriction']
      : ['--disable-admission-plugins=ServiceAccount']),
    '--profiling=false',
    '--v=1',
  ]);
  await waitUp(s, 'kube-apiserver /readyz', 90_000, () => readyz(s));
}

/**
 * Stops the cluster's kube-apiserver and starts it again with the arguments it ran with
 * (etcd and its data stay): a chaos step for tests. Resolves when /readyz answers again.
 */
export async function restartApiServer(name: string): Promise<{ downMs: number }> {
  const s = readState(name);
  const old = s?.procs.find((p) => p.name === 'kube-apiserver' && alive(p));
  if (!s || !old) throw new Error(`cluster '${name}' has no running kube-apiserver`);
  const [cmd = '', ...args] = readFileSync(`/proc/${old.pid}/cmdline`, 'utf8').split('\0').slice(0, -1);
  const t0 = Date.now();
  await stopProcess(old);
  s.procs = s.procs.filter((p) => p !== old);
  startProc(s, 'kube-apiserver', cmd, args);
  await waitUp(s, 'kube-apiserver /readyz', 90_000, () => readyz(s));
  return { downMs: Date.now() - t0 };
}

// ---------------------------------------------------------------- node mode

function readSysctl(key: string): string | undefined {
  const p = `/proc/sys/${key.replaceAll('.', '/')}`;
  return existsSync(p) ? readFileSync(p, 'utf8').trim() : undefined;
}

function writeSysctl(key: string, value: string): void {
  writeFileSync(`/proc/sys/${key.replaceAll('.', '/')}`, value);
}

function ipt(family: 4 | 6): string {
  return family === 4 ? 'iptables' : 'ip6tables';
}

/** Chains whose names start with our prefixes, per "<family>/<table>". */
function ourChains(): Record<string, string[]> {
  const out: Record<string, string[]> = {};
  for (const family of [4, 6] as const) {
    for (const table of IPT_TABLES) {
      const r = run(`${ipt(family)}-save`, ['-t', table], { allowFail: true });
      if (r.code !== 0) continue;
      out[`${family}/${table}`] = r.stdout
        .split('\n')
        .filter((l) => l.startsWith(':'))
        .map((l) => l.slice(1).split(' ')[0] ?? '')
        .filter((c) => CHAIN_PREFIXES.some((p) => c.startsWith(p)));
    }
  }
  return out;
}

function linkExists(dev: string): boolean {
  return run('ip', ['link', 'show', dev], { allowFail: true }).code === 0;
}

async function nodeReady(s: ClusterState): Promise<boolean> {
  try {
    const r = await apiGet(s, `/api/v1/nodes/${s.nodeName}`);
    if (r.status !== 200) return false;
    const nodeObj = JSON.parse(r.body) as { status?: { conditions?: { type: string; status: string }[] } };
    return nodeObj.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True') ?? false;
  } catch {
    return false;
  }
}

async function startNode(s: ClusterState): Promise<void> {
  const pki = ensurePki(join(s.stateDir, 'pki'), { ips: [], dns: [] });
  const cfg = join(s.stateDir, 'config');
  mkdirSync(cfg, { recursive: true });
  const kc = (component: string, cn: string, orgs: string[] = []) => {
    const path = join(cfg, `${component}.kubeconfig`);
    writeKubeconfig(path, s.server, pki, cn, ensureClientCert(pki, component, cn, orgs));
    return path;
  };

  // Host changes first, recorded so `down` undoes exactly them.
  s.host.chainsBefore = ourChains();
  s.host.bridgeExisted = linkExists(BRIDGE);
  s.host.sysctlsBefore = {};
  for (const [k, v] of [
    ['net.ipv4.ip_forward', '1'],
    ['net.bridge.bridge-nf-call-iptables', '1'],
  ] as const) {
    const before = readSysctl(k);
    if (before === undefined) {
      if (k === 'net.ipv4.ip_forward') throw new PrerequisiteError(`sysctl ${k} not available`);
      log(`sysctl ${k} not available (br_netfilter missing); pod-to-service hairpin may not work`);
      continue;
    }
    s.host.sysctlsBefore[k] = before;
    if (before !== v) writeSysctl(k, v);
  }
  saveState(s);

  // containerd: own config, socket and state; a persistent root so imported images survive `down`.
  const ctrRoot = join(CACHE_ROOT, 'containerd', 'root');
  const ctrState = join(s.runDir, 'containerd');
  const sock = join(s.runDir, 'containerd.sock');
  const cniConfDir = join(s.stateDir, 'cni', 'net.d');
  mkdirSync(ctrRoot, { recursive: true });
  mkdirSync(cniConfDir, { recursive: true });
  mkdirSync(s.runDir, { recursive: true });
  s.host.containerdSocket = sock;
  const ctrConfig = join(cfg, 'containerd.toml');
  writeFileSync(
    ctrConfig,
    `version = 2
root = "${ctrRoot}"
state = "${ctrState}"
disabled_plugins = ["io.containerd.snapshotter.v1.aufs", "io.containerd.snapshotter.v1.btrfs", "io.containerd.snapshotter.v1.zfs", "io.containerd.snapshotter.v1.devmapper"]

[grpc]
  address = "${sock}"

[ttrpc]
  address = "${sock}.ttrpc"

[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "${PAUSE_IMAGE}"
  restrict_oom_score_adj = true
  enable_selinux = false
  [plugins."io.containerd.grpc.v1.cri".containerd]
    snapshotter = "overlayfs"
    default_runtime_name = "runc"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
        SystemdCgroup = false
        BinaryName = "/usr/sbin/runc"
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "/usr/lib/cni"
    conf_dir = "${cniConfDir}"
  [plugins."io.containerd.grpc.v1.cri".registry]
    config_path = "${REGISTRY_HOSTS_DIR}"
`,
  );
  startProc(s, 'containerd', 'containerd', ['--config', ctrConfig]);
  await waitUp(
    s,
    'containerd',
    30_000,
    async () => run('ctr', ['--address', sock, 'version'], { allowFail: true }).code === 0,
  );
  pruneThrowawayImages(sock);
  await ensurePauseImage(sock);

  writeFileSync(
    join(cniConfDir, '10-scaleswe.conflist'),
    JSON.stringify(
      {
        cniVersion: '1.0.0',
        name: CNI_NETWORK,
        plugins: [
          {
            type: 'bridge',
            bridge: BRIDGE,
            isGateway: true,
            ipMasq: true,
            hairpinMode: true,
            ipam: {
              type: 'host-local',
              ranges: [[{ subnet: POD_SUBNET }]],
              routes: [{ dst: '0.0.0.0/0' }],
              dataDir: join(s.stateDir, 'cni', 'ipam'),
            },
          },
          { type: 'portmap', capabilities: { portMappings: true } },
        ],
      },
      null,
      2,
    ),
  );

  s.ports.controllerManager = await freePort();
  s.ports.scheduler = await freePort();
  s.ports.proxyHealthz = await freePort();
  s.ports.proxyMetrics = await freePort();
  s.ports.kubelet = await freePort(s.nodeIP);
  s.ports.kubeletHealthz = await freePort();
  saveState(s);

  startProc(s, 'kube-controller-manager', bin('kube-controller-manager'), [
    `--kubeconfig=${kc('kube-controller-manager', 'system:kube-controller-manager')}`,
    '--bind-address=127.0.0.1',
    `--secure-port=${s.ports.controllerManager}`,
    '--leader-elect=false',
    `--service-account-private-key-file=${pki.saKey}`,
    `--root-ca-file=${pki.caCert}`,
    `--cluster-signing-cert-file=${pki.caCert}`,
    `--cluster-signing-key-file=${pki.caKey}`,
    '--use-service-account-credentials=true',
    `--service-cluster-ip-range=${SERVICE_CIDR}`,
    '--allocate-node-cidrs=false',
    '--v=1',
  ]);
  startProc(s, 'kube-scheduler', bin('kube-scheduler'), [
    `--kubeconfig=${kc('kube-scheduler', 'system:kube-scheduler')}`,
    '--bind-address=127.0.0.1',
    `--secure-port=${s.ports.scheduler}`,
    '--leader-elect=false',
    '--v=1',
  ]);

  const proxyConfig = join(cfg, 'kube-proxy.yaml');
  writeFileSync(
    proxyConfig,
    stringify({
      apiVersion: 'kubeproxy.config.k8s.io/v1alpha1',
      kind: 'KubeProxyConfiguration',
      clientConnection: { kubeconfig: kc('kube-proxy', 'system:kube-proxy') },
      mode: 'iptables',
      clusterCIDR: CLUSTER_CIDR,
      hostnameOverride: s.nodeName,
      healthzBindAddress: `127.0.0.1:${s.ports.proxyHealthz}`,
      metricsBindAddress: `127.0.0.1:${s.ports.proxyMetrics}`,
      oomScoreAdj: 0,
      // Leave the host's conntrack sysctls alone (as kind does).
      conntrack: { maxPerCore: 0, tcpEstablishedTimeout: '0s', tcpCloseWaitTimeout: '0s' },
    }),
  );
  startProc(s, 'kube-proxy', bin('kube-proxy'), [`--config=${proxyConfig}`, '--v=1']);

  // NetworkPolicy enforcement, started before the kubelet so no pod runs unpoliced.
  const rbac = kubectl(
    s,
    ['apply', '-f', '-'],
    stringify({
      apiVersion: 'v1',
      kind: 'List',
      items: [
        {
          apiVersion: 'rbac.authorization.k8s.io/v1',
          kind: 'ClusterRole',
          metadata: { name: NETPOL_USER },
          rules: [
            { apiGroups: [''], resources: ['pods', 'namespaces'], verbs: ['get', 'list', 'watch'] },
            {
              apiGroups: ['networking.k8s.io'],
              resources: ['networkpolicies'],
              verbs: ['get', 'list', 'watch'],
            },
          ],
        },
        {
          apiVersion: 'rbac.authorization.k8s.io/v1',
          kind: 'ClusterRoleBinding',
          metadata: { name: NETPOL_USER },
          roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: NETPOL_USER },
          subjects: [{ apiGroup: 'rbac.authorization.k8s.io', kind: 'User', name: NETPOL_USER }],
        },
      ],
    }),
  );
  if (rbac.code !== 0) throw new Error(`netpol RBAC: ${rbac.stderr.trim()}`);
  startProc(s, 'netpol', process.execPath, [
    join(REPO_ROOT, 'test/cluster/netpol.ts'),
    `--kubeconfig=${kc('netpol', NETPOL_USER)}`,
  ]);
  await waitUp(
    s,
    'netpol to hook its chains',
    30_000,
    async () =>
      run('iptables', ['-t', 'filter', '-C', 'FORWARD', '-j', `${NETPOL_CHAIN_PREFIX}FWD`], {
        allowFail: true,
      }).code === 0,
  );

  const kubeletConfig = join(cfg, 'kubelet.yaml');
  writeFileSync(
    kubeletConfig,
    stringify({
      apiVersion: 'kubelet.config.k8s.io/v1beta1',
      kind: 'KubeletConfiguration',
      address: s.nodeIP,
      port: s.ports.kubelet,
      readOnlyPort: 0,
      healthzBindAddress: '127.0.0.1',
      healthzPort: s.ports.kubeletHealthz,
      authentication: {
        anonymous: { enabled: false },
        webhook: { enabled: true },
        x509: { clientCAFile: pki.caCert },
      },
      authorization: { mode: 'Webhook' },
      cgroupDriver: 'cgroupfs',
      failSwapOn: false,
      failCgroupV1: false,
      containerRuntimeEndpoint: `unix://${sock}`,
      resolvConf: '/etc/resolv.conf',
      oomScoreAdj: 0,
      // No registry to re-pull from: never garbage-collect images, never evict for disk.
      imageGCHighThresholdPercent: 100,
      imageGCLowThresholdPercent: 99,
      // Report every image in node status, not the 50 largest: the tiny pause image fell off
      // the list once earlier runs' images had accumulated in the persistent containerd root.
      nodeStatusMaxImages: -1,
      evictionHard: {
        'memory.available': '100Mi',
        'nodefs.available': '1%',
        'imagefs.available': '1%',
        'nodefs.inodesFree': '1%',
      },
      rotateCertificates: false,
      serializeImagePulls: false,
    }),
  );
  startProc(s, 'kubelet', bin('kubelet'), [
    `--config=${kubeletConfig}`,
    `--kubeconfig=${kc('kubelet', `system:node:${s.nodeName}`, ['system:nodes'])}`,
    `--root-dir=${join(s.stateDir, 'kubelet')}`,
    `--hostname-override=${s.nodeName}`,
    `--node-ip=${s.nodeIP}`,
    '--v=1',
  ]);
  await waitUp(s, `node ${s.nodeName} Ready`, 120_000, () => nodeReady(s));
}

// ---------------------------------------------------------------- down

function mountsUnder(rawPrefixes: string[]): string[] {
  // /proc/self/mountinfo names real paths (/run/netns/…), callers may hold /var/run/… ones.
  const prefixes = rawPrefixes.map((p) => {
    try {
      return realpathSync(p);
    } catch {
      return p;
    }
  });
  const unescapeOctal = (p: string) =>
    p.replace(/\\([0-7]{3})/g, (_m, o: string) => String.fromCharCode(parseInt(o, 8)));
  return readFileSync('/proc/self/mountinfo', 'utf8')
    .split('\n')
    .map((l) => unescapeOctal(l.split(' ')[4] ?? ''))
    .filter((m) => m && prefixes.some((p) => m === p || m.startsWith(`${p}/`)))
    .sort((a, b) => b.length - a.length);
}

function unmountAll(paths: string[]): void {
  for (const m of paths) {
    if (run('umount', [m], { allowFail: true }).code !== 0) run('umount', ['-l', m], { allowFail: true });
  }
}

/** Pids of containerd shims that serve our containerd (matched by their -address argument). */
function ourShims(sock: string): number[] {
  const pids: number[] = [];
  for (const d of readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    try {
      const argv = readFileSync(`/proc/${d}/cmdline`, 'utf8').split('\0');
      if (argv[0]?.includes('containerd-shim') && argv.includes(sock)) pids.push(Number(d));
    } catch {
      /* gone */
    }
  }
  return pids;
}

/** Processes running one of our binaries with this cluster's state or run dir in their argv. */
function strayComponents(s: ClusterState): ProcRecord[] {
  const out: ProcRecord[] = [];
  const ours = new Set<string>(ALL_COMPONENTS);
  for (const d of readdirSync('/proc')) {
    if (!/^\d+$/.test(d) || Number(d) === process.pid) continue;
    try {
      const argv = readFileSync(`/proc/${d}/cmdline`, 'utf8').split('\0');
      let base = (argv[0] ?? '').split('/').pop() ?? '';
      if (base === 'node' && argv[1]?.endsWith('/netpol.ts')) base = 'netpol';
      if (!ours.has(base)) continue;
      if (!argv.some((a) => a.includes(`${s.stateDir}/`) || a.includes(`${s.runDir}/`))) continue;
      const pid = Number(d);
      const start = procStartTime(pid);
      if (start) out.push({ name: base, pid, start, log: '' });
    } catch {
      /* gone */
    }
  }
  return out;
}

function ctr(sock: string, args: string[]) {
  return run('ctr', ['--address', sock, '-n', 'k8s.io', ...args], { allowFail: true, timeoutMs: 30_000 });
}

async function drainNode(s: ClusterState, sock: string): Promise<void> {
  const apiUp = s.procs.some((p) => p.name === 'kube-apiserver' && alive(p));
  const kubeletUp = s.procs.some((p) => p.name === 'kubelet' && alive(p));
  if (apiUp && kubeletUp) {
    // Let the kubelet tear pods down properly (CNI DEL, unmounts), then force what is left.
    kubectl(s, [
      'delete',
      'pods',
      '--all',
      '--all-namespaces',
      '--grace-period=0',
      '--force',
      '--wait=false',
    ]);
    await waitFor('pods to be torn down', 45_000, () => {
      const r = ctr(sock, ['tasks', 'ls', '-q']);
      return r.code === 0 && r.stdout.trim() === '' ? true : undefined;
    }).catch((e: unknown) => log(`drain: ${String(e)}`));
  }
}

function forceRemoveContainers(sock: string): string[] {
  const netns: string[] = [];
  const ids = ctr(sock, ['containers', 'ls', '-q']).stdout.split('\n').filter(Boolean);
  for (const id of ids) {
    const info = ctr(sock, ['containers', 'info', id]);
    try {
      const j = JSON.parse(info.stdout) as {
        Spec?: { linux?: { namespaces?: { type: string; path?: string }[] } };
      };
      for (const n of j.Spec?.linux?.namespaces ?? []) {
        if (n.type === 'network' && n.path?.startsWith('/var/run/netns/')) netns.push(n.path);
      }
    } catch {
      /* no info */
    }
    ctr(sock, ['tasks', 'kill', '-s', 'SIGKILL', id]);
  }
  for (const id of ids) {
    ctr(sock, ['tasks', 'delete', '-f', id]);
    ctr(sock, ['containers', 'delete', id]);
  }
  return netns;
}

/** Removes iptables chains with our prefixes that did not exist before `up`, and jumps to them. */
function cleanIptables(before: Record<string, string[]>): void {
  const after = ourChains();
  for (const [key, chains] of Object.entries(after)) {
    const [fam, table] = key.split('/') as [string, string];
    const cmd = ipt(fam === '4' ? 4 : 6);
    // netpol's chains are only ever ours, even when a dead cluster left them behind.
    const known = new Set((before[key] ?? []).filter((c) => !c.startsWith(NETPOL_CHAIN_PREFIX)));
    const ours = new Set(chains.filter((c) => !known.has(c)));
    if (ours.size === 0) continue;
    const dump = run(`${cmd}-save`, ['-t', table], { allowFail: true }).stdout.split('\n');
    const lines = [`*${table}`];
    for (const l of dump) {
      if (!l.startsWith('-A ')) continue;
      const chain = l.split(' ')[1] ?? '';
      const target = /-[jg] (\S+)/.exec(l)?.[1] ?? '';
      if (!ours.has(chain) && ours.has(target)) lines.push(`-D ${l.slice(3)}`);
    }
    for (const c of ours) lines.push(`-F ${c}`);
    for (const c of ours) lines.push(`-X ${c}`);
    lines.push('COMMIT', '');
    const r = run(`${cmd}-restore`, ['--noflush'], { input: lines.join('\n'), allowFail: true });
    if (r.code !== 0) log(`${cmd} cleanup in ${table}: ${r.stderr.trim()}`);
  }
}

/** Stops everything `up` started and undoes its host changes. Safe to call repeatedly. */
export async function down(name = 'scaleswe'): Promise<void> {
  const s = readState(name);
  if (!s) {
    log(`cluster '${name}' is not up`);
    return;
  }
  const t0 = Date.now();
  const byName = (n: string) => s.procs.filter((p) => p.name === n);
  const sock = s.host.containerdSocket;
  // 1. No new pods: stop controllers and scheduler, then let the kubelet remove the pods.
  for (const n of ['kube-controller-manager', 'kube-scheduler'])
    for (const p of byName(n)) await stopProcess(p);
  if (sock) await drainNode(s, sock);
  for (const n of ['kubelet', 'kube-proxy', 'netpol']) for (const p of byName(n)) await stopProcess(p);
  let netns: string[] = [];
  if (sock) {
    netns = forceRemoveContainers(sock);
    for (const p of byName('containerd')) await stopProcess(p);
    for (const pid of ourShims(sock)) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        /* gone */
      }
    }
  }
  for (const n of ['kube-apiserver', 'etcd']) for (const p of byName(n)) await stopProcess(p);
  for (const p of s.procs) await stopProcess(p); // anything else we recorded
  // Safety net: a component of this cluster that lost its record (e.g. an `up` interrupted
  // between starting a daemon and saving the state) still names our state dir in its argv.
  for (const p of strayComponents(s)) {
    log(`stopping unrecorded ${p.name} (pid ${p.pid}) of cluster '${name}'`);
    await stopProcess(p);
  }

  if (s.mode === 'node') {
    // Pod network namespaces: the ones our containers used, and any CNI left behind by an
    // earlier cluster that died (only this project's node uses CNI on the machine).
    const leftover = existsSync('/run/netns')
      ? readdirSync('/run/netns')
          .filter((f) => f.startsWith('cni-'))
          .map((f) => `/run/netns/${f}`)
      : [];
    const allNetns = [...new Set([...netns, ...leftover])];
    unmountAll([...mountsUnder([s.stateDir, s.runDir]), ...allNetns.flatMap((n) => mountsUnder([n]))]);
    for (const n of allNetns) {
      try {
        rmSync(n, { force: true });
      } catch (err) {
        log(`could not remove ${n}: ${(err as Error).message}`);
      }
    }
    if (existsSync(bin('kube-proxy'))) run(bin('kube-proxy'), ['--cleanup'], { allowFail: true });
    if (s.host.chainsBefore) cleanIptables(s.host.chainsBefore);
    if (s.host.bridgeExisted === false && linkExists(BRIDGE))
      run('ip', ['link', 'delete', BRIDGE], { allowFail: true });
    for (const [k, v] of Object.entries(s.host.sysctlsBefore ?? {})) {
      if (readSysctl(k) !== v) writeSysctl(k, v);
    }
    rmSync(s.runDir, { recursive: true, force: true });
  }
  for (const d of ['etcd', 'kubelet', 'cni', 'run'])
    rmSync(join(s.stateDir, d), { recursive: true, force: true });
  rmSync(statePath(name), { force: true });
  log(`cluster '${name}' down in ${((Date.now() - t0) / 1000).toFixed(1)}s`);
}

// ---------------------------------------------------------------- status + CLI

export async function status(name = 'scaleswe'): Promise<{ up: boolean; text: string }> {
  const s = readState(name);
  if (!s) return { up: false, text: `cluster '${name}': down` };
  const lines = [
    `cluster '${name}': mode ${s.mode}, Kubernetes ${s.version}, started ${s.startedAt} by ${s.owner}`,
  ];
  lines.push(`  kubeconfig ${s.kubeconfig}`, `  server     ${s.server}`);
  for (const p of s.procs) lines.push(`  ${p.name.padEnd(24)} pid ${p.pid} ${alive(p) ? 'running' : 'DEAD'}`);
  const ready = await readyz(s);
  lines.push(`  /readyz    ${ready ? 'ok' : 'not ready'}`);
  let ok = ready && s.procs.every(alive);
  if (s.mode === 'node') {
    const nr = await nodeReady(s);
    lines.push(`  node ${s.nodeName} ${nr ? 'Ready' : 'NotReady'}`);
    ok &&= nr;
  }
  return { up: ok, text: lines.join('\n') };
}

async function main(argv: string[]): Promise<void> {
  const program = new Command('cluster').description('A real Kubernetes for the tests, built from source');
  program
    .command('up')
    .option('--mode <mode>', 'control-plane | node', 'control-plane')
    .option('--name <name>', 'cluster name (state dir key)', 'scaleswe')
    .action(async (o: { mode: string; name: string }) => {
      if (o.mode !== 'control-plane' && o.mode !== 'node') throw new Error(`unknown mode ${o.mode}`);
      const s = await up({ name: o.name, mode: o.mode });
      process.stdout.write(`export KUBECONFIG=${s.kubeconfig}\n`);
    });
  program
    .command('down')
    .option('--name <name>', 'cluster name', 'scaleswe')
    .action(async (o: { name: string }) => down(o.name));
  program
    .command('status')
    .option('--name <name>', 'cluster name', 'scaleswe')
    .action(async (o: { name: string }) => {
      const st = await status(o.name);
      process.stdout.write(`${st.text}\n`);
      if (!st.up) process.exitCode = 1;
    });
  await program.parseAsync(argv);
}

if (import.meta.url === `file://${process.argv[1]}`) {
  main(process.argv).catch((e: unknown) => {
    process.stderr.write(`error: ${e instanceof Error ? e.message : String(e)}\n`);
    process.exit(e instanceof PrerequisiteError ? 2 : 1);
  });
}
