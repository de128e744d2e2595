// Sandbox pods that misbehave, on a real node with the operator installed by helm. The sandbox
// image of each run is swapped for one whose preloaded script takes over the agent runner
// (test/e2e/misbehaving-sandbox): it hangs past the stage deadline, eats memory until the
// OOM killer comes, or prints a corrupt result envelope. Each must end with its own reason
// after a retry. The hanging one first probes, from inside the pod, what the run's
// NetworkPolicy and the pod spec let it reach: the repository, the LLM gateway and the listed
// CIDR yes; the API server (service and endpoint) and a host port outside the egress no; and
// no service-account token. A fourth run hangs the same way with egress.allowAll: then the
// host opens up, but the API server stays closed (its service and its endpoints, which the
// operator reads from the `kubernetes` EndpointSlices).
// A third run uses an LLM: the agents in the pods call the operator's gateway with per-pod
// tokens, the gateway calls the (local, scripted) provider with the key from the run's Secret,
// and that key appears nowhere a user or a pod can read.

import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { lookup } from 'node:dns/promises';
import { mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { networkInterfaces, tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { stringify as toYaml } from 'yaml';
import { createSampleRepo, SAMPLE_REPO } from '../../operator/src/cli/sample.ts';
import {
  decodeTrajectory,
  LABEL_TRAJECTORY,
  TRAJECTORY_KEY,
} from '../../operator/src/llm/trajectory-config-map.ts';
import { ENVELOPE_BEGIN, ENVELOPE_END } from '../../operator/src/sandbox/envelope.ts';
import { type ClusterState, readState } from '../cluster/cluster.ts';
import { buildAndImportVariants } from '../cluster/images.ts';
import {
  cluster,
  createNamespace,
  deleteNamespace,
  poll,
  type TestNamespace,
} from '../integration/support.ts';
import { type GitServer, startGitServer } from '../support/git-server.ts';
import { type ChatRequestBody, type OpenAIServer, startOpenAIServer } from '../support/openai-server.ts';
import { ensureOperatorImage } from './operator-image.ts';
import { installOperator, k, kubectlAsync, RELEASE, uninstallOperator } from './support.ts';

const MODES = ['hang', 'hog', 'corrupt'] as const;
type Mode = (typeof MODES)[number];
const imageOf = (mode: Mode) => `localhost/scaleswe-e2e/misbehaving:${mode}`;
/** One run per misbehaviour; `open` hangs too, with egress.allowAll. */
const RUNS: { name: string; mode: Mode; reason: string; allowAll?: boolean }[] = [
  { name: 'misbehave-hang', mode: 'hang', reason: 'DeadlineExceeded' },
  { name: 'misbehave-hog', mode: 'hog', reason: 'OOMKilled' },
  { name: 'misbehave-corrupt', mode: 'corrupt', reason: 'ResultCorrupt' },
  { name: 'misbehave-open', mode: 'hang', reason: 'DeadlineExceeded', allowAll: true },
];

interface Instance {
  spec: { instanceId: string; runRef: string };
  status?: {
    phase?: string;
    problemStatement?: string;
    problemStatementSource?: string;
    attempts?: Record<string, number>;
    lastError?: { stage?: string; reason: string; message: string };
    conditions?: { type: string; status: string; reason?: string; message?: string }[];
  };
}
interface ProbeReport {
  token: boolean;
  connections: Record<string, string>;
}

describe('misbehaving sandbox pods on a real node', () => {
  let state: ClusterState;
  let ns: TestNamespace;
  let work: string;
  let git: GitServer;
  let outside: Server;
  let image: { repository: string; tag: string; ref: string };
  let registry: string;
  const probes: Record<string, ProbeReport> = {};
  let provider: OpenAIServer;

  beforeAll(async () => {
    const s = readState(cluster().clusterName);
    if (!s?.host.containerdSocket) throw new Error(`cluster ${cluster().clusterName} is not in node mode`);
    state = s;
    const sock = s.host.containerdSocket;
    image = ensureOperatorImage(sock);

    work = mkdtempSync(join(tmpdir(), 'scaleswe-sbx-e2e-'));
    const src = createSampleRepo(join(work, 'src'));
    mkdirSync(join(work, 'srv', 'scaleswe'), { recursive: true });
    execFileSync('git', ['clone', '-q', '--bare', src, join(work, 'srv', 'scaleswe', 'minicalc.git')]);
    git = await startGitServer(join(work, 'srv'), s.nodeIP, 0);
    // A host port that is reachable from pods in general but not in the run's egress.
    outside = createServer((socket) => socket.end());
    await new Promise<void>((resolve) => outside.listen(0, '0.0.0.0', resolve));

    ns = await createNamespace('sbx-e2e');
    installOperator(ns.name, image, ['replicaCount=1']);
    const svc = JSON.parse(k(['get', 'service', RELEASE, '-n', ns.name, '-o', 'json'])) as {
      spec: { clusterIP: string; ports: { name: string; port: number }[] };
    };
    const gatewayPort = svc.spec.ports.find((p) => p.name === 'gateway')!.port;
    // The package registry's address: what a user lists in sandbox.egress.allowCIDRs.
    registry = (await lookup('pypi.org', { family: 4 })).address;
    const plan = {
      repository: { host: s.nodeIP, port: Number(new URL(git.url).port) },
      gateway: { host: svc.spec.clusterIP, port: gatewayPort },
      allowedCIDR: { host: registry, port: 443 },
      apiService: { host: '10.0.0.1', port: 443 },
      apiEndpoint: { host: s.nodeIP, port: Number(new URL(s.server).port) },
      outsideEgress: { host: s.nodeIP, port: (outside.address() as { port: number }).port },
      // The same host port through the node's pod bridge: an address the API server is not
      // known by, open under allowAll.
      outsideViaBridge: { host: bridgeAddress(), port: (outside.address() as { port: number }).port },
    };
    buildAndImportVariants(
      sock,
      join(import.meta.dirname, 'misbehaving-sandbox'),
      MODES.map((mode) => ({
        ref: imageOf(mode),
        args: {
          MODE: mode,
          PROBE_PLAN: JSON.stringify(plan),
          ENVELOPE_BEGIN,
          ENVELOPE_END,
        },
      })),
    );
  });

  afterAll(async () => {
    if (ns) {
      uninstallOperator(ns.name);
      await deleteNamespace(ns);
    }
    await git?.close();
    await provider?.close();
    outside?.close();
    if (work) rmSync(work, { recursive: true, force: true });
  });

  it('a hung, an OOM-killed and a corrupt-result sandbox each fail with their reason after a retry', async () => {
    const runs = RUNS.map(({ name, mode, allowAll }) => ({
      apiVersion: 'scaleswe.dev/v1alpha1',
      kind: 'CurationRun',
      metadata: { name },
      spec: {
        source: { git: { url: `${git.url}/scaleswe/minicalc.git`, repo: SAMPLE_REPO, ref: 'main' } },
        limits: { maxPRs: 1, maxParallel: 1 },
        agents: {
          runnerImage: image.ref,
          images: { python: imageOf(mode) },
          maxAttempts: 2,
          timeouts: { envSeconds: 30 },
          ...(mode === 'hog' && { resources: { limits: { memory: '128Mi' } } }),
        },
        sandbox: { egress: { allowCIDRs: [`${registry}/32`], ...(allowAll && { allowAll }) } },
      },
    }));
    k(['apply', '-n', ns.name, '-f', '-'], runs.map((r) => toYaml(r)).join('---\n'));

    // The hanging pods' probe reports are in their logs while they run (the operator deletes
    // failed pods once it has read them).
    const probing = Promise.all(
      RUNS.filter((r) => r.mode === 'hang').map(({ name }) =>
        poll(`the probe report of ${name}`, 180_000, async () => {
          const r = await kubectlAsync([
            'logs',
            '-n',
            ns.name,
            '-l',
            `scaleswe.dev/run=${name},scaleswe.dev/stage=env`,
            '--tail=50',
          ]);
          const line = r.stdout.split('\n').find((l) => l.startsWith('SCALESWE-PROBE '));
          if (line) probes[name] = JSON.parse(line.slice('SCALESWE-PROBE '.length)) as ProbeReport;
          return probes[name];
        }),
      ),
    );
    probing.catch(() => undefined);

    const done = await poll('every instance of the misbehaving runs to end', 600_000, async () => {
      const r = await kubectlAsync(['get', 'sweinstances', '-n', ns.name, '-o', 'json']);
      if (r.code !== 0) return undefined;
      const items = (JSON.parse(r.stdout) as { items: Instance[] }).items;
      const perRun = runs.map((run) => items.filter((i) => i.spec.runRef === run.metadata.name));
      const ended = perRun.every(
        (list) =>
          list.length > 0 &&
          list.every((i) => ['Failed', 'Verified', 'Rejected'].includes(i.status?.phase ?? '')),
      );
      return ended ? items : undefined;
    });
    await probing;

    for (const { name, reason } of RUNS) {
      const mine = done.filter((i) => i.spec.runRef === name);
      for (const i of mine) {
        const what = `${name}: ${i.spec.instanceId} ${JSON.stringify(i.status?.lastError)}`;
        expect(i.status?.phase, what).toBe('Failed');
        expect(i.status?.lastError?.stage, what).toBe('env');
        expect(i.status?.lastError?.reason, what).toBe(reason);
        // A retry happened: two attempts, and the condition says the operator gave up after both.
        expect(i.status?.attempts?.env, what).toBe(2);
        const env = i.status?.conditions?.find((c) => c.type === 'EnvReady');
        expect(env, what).toMatchObject({ status: 'False', reason });
        expect(env?.message, what).toMatch(/^gave up after 2 attempts/);
      }
    }
  });

  it('from inside a sandbox pod: no service-account token, no API server, nothing outside the allowed egress', () => {
    const probe = probes['misbehave-hang'];
    expect(probe, 'the hanging sandbox printed no probe report').toBeDefined();
    const { token, connections } = probe!;
    expect(token).toBe(false);
    // Allowed: the positive controls show the probe can connect at all.
    expect(connections.repository).toBe('connected');
    expect(connections.gateway).toBe('connected');
    expect(connections.allowedCIDR).toBe('connected');
    // Denied by the run's NetworkPolicy.
    expect(connections.apiService).not.toBe('connected');
    expect(connections.apiEndpoint).not.toBe('connected');
    expect(connections.outsideEgress).not.toBe('connected');
    expect(connections.outsideViaBridge).not.toBe('connected');
    process.stderr.write(`[e2e] sandbox probe: ${JSON.stringify(probe)} (node ${state.nodeIP})\n`);
  });

  it('with egress.allowAll: everything opens but the API server (its service and the endpoints the operator discovered)', () => {
    const probe = probes['misbehave-open'];
    expect(probe, 'the allowAll sandbox printed no probe report').toBeDefined();
    const { token, connections } = probe!;
    expect(token).toBe(false);
    expect(connections.outsideViaBridge).toBe('connected');
    expect(connections.allowedCIDR).toBe('connected');
    expect(connections.apiService).not.toBe('connected');
    expect(connections.apiEndpoint).not.toBe('connected');
    process.stderr.write(`[e2e] allowAll sandbox probe: ${JSON.stringify(probe)}\n`);
  });

  it('agents reach the LLM only through the gateway; the provider key is in no pod, log, status, event or ConfigMap', async () => {
    const key = `sk-e2e-${randomBytes(12).toString('hex')}`;
    provider = await startOpenAIServer(
      Array.from({ length: 300 }, () => promptAgentReply),
      state.nodeIP,
    );
    k(['create', 'secret', 'generic', 'llm-provider', '-n', ns.name, `--from-literal=api-key=${key}`]);
    const RUN = 'llm-gateway';
    const run = {
      apiVersion: 'scaleswe.dev/v1alpha1',
      kind: 'CurationRun',
      metadata: { name: RUN },
      spec: {
        source: { git: { url: `${git.url}/scaleswe/minicalc.git`, repo: SAMPLE_REPO, ref: 'main' } },
        // Newest first: #5, #4 and #3; #3 verifies.
        limits: { maxPRs: 3, maxParallel: 2 },
        // With an LLM, EnvAgent also asks it when no recipe works (#5): keep that loop short.
        agents: { runnerImage: image.ref, maxAttempts: 2, maxTurns: 3 },
        llm: {
          baseURL: provider.baseURL,
          model: 'scripted-model',
          apiKeySecretRef: { name: 'llm-provider', key: 'api-key' },
        },
        // pip reaches the package index through the proxy, by name (the host's resolver).
        sandbox: { egress: { allowCIDRs: [`${registry}/32`, `${hostResolver()}/32`] } },
        verification: { reruns: 1 },
      },
    };
    k(['apply', '-n', ns.name, '-f', '-'], toYaml(run));

    // Sandbox pods are deleted once read: keep their logs as they go, for the key search.
    const podLogs: string[] = [];
    const items = await poll(`every instance of ${RUN} to end`, 900_000, async () => {
      const logs = await kubectlAsync([
        'logs',
        '-n',
        ns.name,
        '-l',
        `scaleswe.dev/run=${RUN}`,
        '--all-containers',
        '--prefix',
        '--tail=-1',
      ]);
      podLogs.push(logs.stdout);
      const r = await kubectlAsync(['get', 'sweinstances', '-n', ns.name, '-o', 'json']);
      if (r.code !== 0) return undefined;
      const mine = (JSON.parse(r.stdout) as { items: Instance[] }).items.filter((i) => i.spec.runRef === RUN);
      return mine.length === 3 &&
        mine.every((i) => ['Failed', 'Verified', 'Rejected'].includes(i.status?.phase ?? ''))
        ? mine
        : undefined;
    });
    const verified = items.find((i) => i.spec.instanceId === 'scaleswe__minicalc-3');
    expect(verified?.status?.phase, JSON.stringify(verified?.status?.lastError)).toBe('Verified');
    expect(verified?.status?.problemStatement).toBe(
      'The calculator gives wrong answers for some inputs.\n\nExpected: the documented behaviour.',
    );
    expect(verified?.status?.problemStatementSource).toBe('llm');

    // The provider saw the operator's key and the pinned model, never a pod token.
    expect(provider.requests.length).toBeGreaterThanOrEqual(2);
    expect(new Set(provider.authorizations)).toEqual(new Set([`Bearer ${key}`]));
    expect(new Set(provider.requests.map((r) => r.model))).toEqual(new Set(['scripted-model']));

    // Every exchange is a trajectory ConfigMap owned by its instance.
    const trajectories = (
      JSON.parse(
        k([
          'get',
          'configmaps',
          '-n',
          ns.name,
          '-l',
          `${LABEL_TRAJECTORY}=true,scaleswe.dev/run=${RUN}`,
          '-o',
          'json',
        ]),
      ) as { items: { metadata: { labels: Record<string, string> }; data: Record<string, string> }[] }
    ).items;
    const prompt = trajectories
      .map((cm) => decodeTrajectory(cm.data[TRAJECTORY_KEY]))
      .find((t) => t?.instanceId === 'scaleswe__minicalc-3' && t.stage === 'prompt');
    expect(prompt?.steps.length).toBe(2);

    // The key: only in its own Secret. Stage-input Secrets and trajectories are compressed,
    // so they are searched decoded.
    const secrets = (
      JSON.parse(k(['get', 'secrets', '-n', ns.name, '-o', 'json'])) as {
        items: { metadata: { name: string }; data?: Record<string, string> }[];
      }
    ).items.filter((x) => x.metadata.name !== 'llm-provider');
    const haystacks: Record<string, string> = {
      'pods, instances, runs, ConfigMaps, NetworkPolicies': k([
        'get',
        'pods,sweinstances,curationruns,configmaps,networkpolicies',
        '-n',
        ns.name,
        '-o',
        'yaml',
      ]),
      events: k(['get', 'events', '-n', ns.name, '-o', 'yaml']),
      'operator logs': k([
        'logs',
        '-n',
        ns.name,
        '-l',
        'app.kubernetes.io/name=scaleswe-operator',
        '--tail=-1',
      ]),
      'sandbox pod logs': podLogs.join('\n'),
      'trajectories (decoded)': JSON.stringify(
        trajectories.map((cm) => decodeTrajectory(cm.data[TRAJECTORY_KEY])),
      ),
      'other Secrets (decoded)': secrets
        .flatMap((x) => Object.values(x.data ?? {}).map(decodeSecretValue))
        .join('\n'),
    };
    expect(podLogs.join('').length, 'no sandbox pod log was captured').toBeGreaterThan(0);
    for (const [where, text] of Object.entries(haystacks)) expect(text.includes(key), where).toBe(false);
  });
});

/** The scripted provider: PromptAgent's writer gets a symptom-only statement, its judge an ok. */
function promptAgentReply(request: ChatRequestBody) {
  const system = String(request.messages[0]?.content ?? '');
  if (system.includes('You review the problem statement'))
    return { content: '{"verdict": "ok", "reason": "describes the symptom only"}' };
  if (system.includes('You write the problem statement'))
    return {
      content: 'The calculator gives wrong answers for some inputs.\n\nExpected: the documented behaviour.',
    };
  return { content: `unexpected request to the scripted provider: ${system.slice(0, 80)}` };
}

/** A Secret value as text; gzip payloads (stage inputs) unpacked. */
function decodeSecretValue(b64: string): string {
  const raw = Buffer.from(b64, 'base64');
  try {
    return gunzipSync(raw).toString('utf8');
  } catch {
    return raw.toString('utf8');
  }
}

/** The node's address on the pod bridge (the pods' default gateway). */
function bridgeAddress(): string {
  const address = networkInterfaces().sswe0?.find((a) => a.family === 'IPv4')?.address;
  if (!address) throw new Error('the node has no IPv4 address on its pod bridge sswe0');
  return address;
}

/** The first nameserver of the host's resolv.conf: pods here resolve through it (no cluster DNS). */
function hostResolver(): string {
  const line = readFileSync('/etc/resolv.conf', 'utf8')
    .split('\n')
    .find((l) => l.startsWith('nameserver '));
  if (!line) throw new Error('/etc/resolv.conf names no nameserver');
  return line.split(/\s+/)[1]!;
}
