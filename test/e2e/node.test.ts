// A real node: pods from the locally built sandbox images run to completion, their logs are
// read through the API (client and `kubectl logs`), pod networking works (the `kubernetes`
// Service via kube-proxy, and a package registry over HTTPS with the host CA bundle baked
// into the image), and NetworkPolicies are enforced.
import { createServer, type Server } from 'node:net';
import {
  CoreV1Api,
  NetworkingV1Api,
  type V1NetworkPolicy,
  type V1NetworkPolicyEgressRule,
  type V1Pod,
} from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readState } from '../cluster/cluster.ts';
import { cluster, kubeConfig, kubectl, poll, useTestNamespace } from '../integration/support.ts';

const PAUSE = 'localhost/pause:3.9';

interface PodRun {
  phase: string;
  log: string;
  ms: number;
}

async function runPod(namespace: string, name: string, image: string, command: string[]): Promise<PodRun> {
  const core = kubeConfig().makeApiClient(CoreV1Api);
  const body: V1Pod = {
    metadata: { name, namespace },
    spec: {
      restartPolicy: 'Never',
      automountServiceAccountToken: false,
      terminationGracePeriodSeconds: 1,
      activeDeadlineSeconds: 300,
      containers: [
        {
          name: 'main',
          image,
          imagePullPolicy: 'IfNotPresent',
          command,
          resources: { limits: { cpu: '1', memory: '512Mi' } },
          securityContext: { allowPrivilegeEscalation: false, seccompProfile: { type: 'RuntimeDefault' } },
        },
      ],
    },
  };
  const t0 = Date.now();
  await core.createNamespacedPod({ namespace, body });
  const phase = await poll(`pod ${namespace}/${name} to finish`, 240_000, async () => {
    const p = await core.readNamespacedPod({ name, namespace });
    const ph = p.status?.phase;
    if (ph === 'Succeeded' || ph === 'Failed') return ph;
    const waiting = p.status?.containerStatuses?.[0]?.state?.waiting;
    if (waiting?.reason && /ErrImage|ImagePull|InvalidImageName|CreateContainer/.test(waiting.reason)) {
      throw new Error(`pod ${name}: ${waiting.reason}: ${waiting.message ?? ''}`);
    }
    return undefined;
  });
  const ms = Date.now() - t0;
  const log = await core.readNamespacedPodLog({ name, namespace, container: 'main' });
  return { phase, log, ms };
}

describe('single node', () => {
  const ns = useTestNamespace('e2e');

  it('is Ready and has the sandbox images imported', async () => {
    const core = kubeConfig().makeApiClient(CoreV1Api);
    const nodes = await core.listNode();
    expect(nodes.items).toHaveLength(1);
    const node = nodes.items[0]!;
    expect(node.status?.conditions?.find((c) => c.type === 'Ready')?.status).toBe('True');
    expect(node.status?.nodeInfo?.containerRuntimeVersion).toMatch(/^containerd:\/\//);
    expect(cluster().images).toContain('docker.io/scaleswe/sandbox-python:0.1.0');
    // The kubelet reports images in its periodic node status; on a cold run they were
    // imported only after the node registered, so give it a status cycle or two.
    const images = await poll('node status to list the imported images', 60_000, async () => {
      const n = await core.readNode({ name: node.metadata!.name! });
      const names = (n.status?.images ?? []).flatMap((i) => i.names ?? []);
      return cluster().images.every((ref) => names.includes(ref)) ? names : undefined;
    });
    expect(images).toContain('docker.io/scaleswe/sandbox-python:0.1.0');
    expect(images).toContain(PAUSE);
  });

  it('runs a pod from the local python image to completion and reads its log', async () => {
    const namespace = ns().name;
    const r = await runPod(namespace, 'hello-python', 'scaleswe/sandbox-python:0.1.0', [
      'sh',
      '-c',
      'python3 -c "import sys; print(\'hello from python\', sys.version_info[:2])" && git --version && pytest --version',
    ]);
    process.stderr.write(`[e2e] python pod ran to completion in ${r.ms} ms\n`);
    expect(r.phase, r.log).toBe('Succeeded');
    expect(r.log).toContain('hello from python (3, 11)');
    expect(r.log).toMatch(/git version \d/);
    expect(r.log).toMatch(/pytest \d/);
    const k = kubectl(['logs', '-n', namespace, 'hello-python']);
    expect(k.stderr).toBe('');
    expect(k.code).toBe(0);
    expect(k.stdout).toBe(r.log);
  });

  it('runs a pod from the local node image', async () => {
    const r = await runPod(ns().name, 'hello-node', 'scaleswe/sandbox-node:0.1.0', [
      'sh',
      '-c',
      "node -e \"console.log('hello from node', process.versions.node.split('.')[0])\" && npm --version",
    ]);
    expect(r.phase, r.log).toBe('Succeeded');
    expect(r.log).toContain('hello from node 24');
  });

  // Every image the setup built (python,node,go by default; all five with SCALESWE_SANDBOX_IMAGES=all):
  // git, the toolchain, and the language's package registry over HTTPS — which only works
  // when the host CA bundle (the CI proxy's CA) is trusted by that toolchain.
  const javaProbe = [
    'mkdir -p /tmp/p && cat > /tmp/p/P.java <<EOF',
    'public class P { public static void main(String[] a) throws Exception {',
    '  var c = (java.net.HttpURLConnection) java.net.URI.create("https://repo1.maven.org/maven2/junit/junit/maven-metadata.xml").toURL().openConnection();',
    '  System.out.println("registry " + c.getResponseCode()); } }',
    'EOF',
    'java /tmp/p/P.java',
  ].join('\n');
  const toolchain: Record<string, string> = {
    python:
      'python3 --version && pytest --version && pip download -q --no-deps -d /tmp/d six && ls /tmp/d && echo registry 200',
    node: 'node --version && npm view left-pad version && echo registry 200',
    go: 'go version && cd "$(mktemp -d)" && go mod init probe >/dev/null 2>&1 && go list -m -versions golang.org/x/text && echo registry 200',
    rust: 'rustc --version && cargo new -q /tmp/probe && cd /tmp/probe && echo \'itoa = "1"\' >> Cargo.toml && cargo fetch && echo registry 200',
    java: `java -version && mvn --version && ${javaProbe}`,
  };
  it.each(cluster().images.map((ref) => [ref]))(
    'runs git, the toolchain and its registry in %s',
    async (ref) => {
      const lang = /sandbox-(\w+):/.exec(ref)?.[1] ?? '';
      expect(toolchain[lang], `toolchain check for ${lang}`).toBeDefined();
      const r = await runPod(ns().name, `tools-${lang}`, ref, [
        'sh',
        '-c',
        `set -e; git --version; ${toolchain[lang]}`,
      ]);
      expect(r.phase, r.log).toBe('Succeeded');
      expect(r.log).toMatch(/git version \d/);
      expect(r.log).toContain('registry 200');
    },
  );

  it('gives pods the network: the kubernetes Service and a registry over HTTPS', async () => {
    const script = [
      'import ssl, urllib.request',
      // kube-proxy: the API server behind the `kubernetes` ClusterIP (anonymous /readyz).
      'ctx = ssl._create_unverified_context()',
      "print('service', urllib.request.urlopen('https://10.0.0.1/readyz', context=ctx, timeout=20).read().decode())",
      // The host CA bundle baked into the image verifies the registry's certificate.
      "r = urllib.request.urlopen('https://pypi.org/simple/pip/', timeout=60)",
      "print('registry', r.status)",
    ].join('\n');
    const r = await runPod(ns().name, 'net', 'scaleswe/sandbox-python:0.1.0', ['python3', '-c', script]);
    expect(r.phase, r.log).toBe('Succeeded');
    expect(r.log).toContain('service ok');
    expect(r.log).toContain('registry 200');
  });
});

describe('NetworkPolicy enforcement', () => {
  const ns = useTestNamespace('e2e-np');
  const PY = 'docker.io/scaleswe/sandbox-python:0.1.0';
  // A TCP server on the host, reached from pods at the node IP (INPUT path, as the API
  // server behind the `kubernetes` Service is).
  let server: Server;
  let target: { ip: string; port: number };

  beforeAll(async () => {
    const ip = readState(cluster().clusterName)?.nodeIP;
    if (!ip) throw new Error(`no node IP in the state of cluster ${cluster().clusterName}`);
    server = createServer((sock) => sock.end());
    await new Promise<void>((resolve) => server.listen(0, '0.0.0.0', resolve));
    const addr = server.address();
    if (!addr || typeof addr === 'string') throw new Error('server has no port');
    target = { ip, port: addr.port };
  });
  afterAll(() => new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve())));

  async function startIdlePod(namespace: string, name: string, role: string): Promise<void> {
    const core = kubeConfig().makeApiClient(CoreV1Api);
    await core.createNamespacedPod({
      namespace,
      body: {
        metadata: { name, namespace, labels: { role } },
        spec: {
          automountServiceAccountToken: false,
          terminationGracePeriodSeconds: 0,
          containers: [{ name: 'main', image: PY, imagePullPolicy: 'Never', command: ['sleep', 'infinity'] }],
        },
      },
    });
    await poll(`pod ${namespace}/${name} to run`, 120_000, async () => {
      const p = await core.readNamespacedPod({ name, namespace });
      return p.status?.phase === 'Running' ? true : undefined;
    });
  }

  /** One TCP connect from inside the pod (2 s timeout): 'open', or 'blocked: <error>'. */
  function probe(namespace: string, pod: string): string {
    const script =
      'import socket, sys\n' +
      'try:\n' +
      '    socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=2).close(); print("open")\n' +
      'except OSError as e:\n' +
      '    print("blocked:", e)';
    const r = kubectl([
      'exec',
      '-n',
      namespace,
      pod,
      '--',
      'python3',
      '-c',
      script,
      target.ip,
      String(target.port),
    ]);
    if (r.code !== 0) throw new Error(`kubectl exec ${pod}: ${r.stderr.trim()}`);
    return r.stdout.trim();
  }

  /** Polls (bounded) until the pod's connection attempt gives the expected outcome. */
  async function expectReach(namespace: string, pod: string, want: 'open' | 'blocked', why: string) {
    let last = '';
    await poll(`${pod} -> ${target.ip}:${target.port} to be ${want} (${why})`, 30_000, async () => {
      last = probe(namespace, pod);
      return last === want || (want === 'blocked' && last.startsWith('blocked:')) ? true : undefined;
    }).catch((e: unknown) => {
      throw new Error(`${(e as Error).message}; last probe: ${last}`);
    });
  }

  function denyEgress(namespace: string, egress?: V1NetworkPolicyEgressRule[]): V1NetworkPolicy {
    return {
      metadata: { name: 'deny-egress', namespace },
      spec: { podSelector: { matchLabels: { role: 'blocked' } }, policyTypes: ['Egress'], egress },
    };
  }

  it('an Egress policy without rules cuts the selected pod off, not its neighbour', async () => {
    const namespace = ns().name;
    await Promise.all([
      startIdlePod(namespace, 'blocked', 'blocked'),
      startIdlePod(namespace, 'free', 'free'),
    ]);
    // Both reach the host first, so a later failure is the policy's doing.
    await expectReach(namespace, 'blocked', 'open', 'no policy yet');
    await expectReach(namespace, 'free', 'open', 'no policy yet');
    const net = kubeConfig().makeApiClient(NetworkingV1Api);
    const t0 = Date.now();
    await net.createNamespacedNetworkPolicy({ namespace, body: denyEgress(namespace) });
    await expectReach(namespace, 'blocked', 'blocked', 'selected by an Egress policy with no rules');
    process.stderr.write(`[e2e] egress policy enforced ${Date.now() - t0} ms after create\n`);
    expect(probe(namespace, 'free')).toBe('open');
    expect(probe(namespace, 'blocked')).toMatch(/^blocked:/);
  });

  it('an egress ipBlock rule for the address lets the selected pod through again', async () => {
    const namespace = ns().name;
    await startIdlePod(namespace, 'blocked', 'blocked');
    const net = kubeConfig().makeApiClient(NetworkingV1Api);
    await net.createNamespacedNetworkPolicy({ namespace, body: denyEgress(namespace) });
    await expectReach(namespace, 'blocked', 'blocked', 'Egress policy with no rules');
    // The address's /24 with the address itself excepted must keep it blocked.
    const excepted: V1NetworkPolicyEgressRule = {
      to: [{ ipBlock: { cidr: `${target.ip.replace(/\d+$/, '0')}/24`, except: [`${target.ip}/32`] } }],
    };
    await net.replaceNamespacedNetworkPolicy({
      name: 'deny-egress',
      namespace,
      body: denyEgress(namespace, [excepted]),
    });
    // A negative needs a window: every probe for 3 s (the controller syncs each second).
    for (const until = Date.now() + 3000; Date.now() < until; ) {
      expect(probe(namespace, 'blocked'), 'ipBlock except').toMatch(/^blocked:/);
    }
    await net.replaceNamespacedNetworkPolicy({
      name: 'deny-egress',
      namespace,
      body: denyEgress(namespace, [
        excepted,
        { to: [{ ipBlock: { cidr: `${target.ip}/32` } }], ports: [{ protocol: 'TCP', port: target.port }] },
      ]),
    });
    await expectReach(namespace, 'blocked', 'open', `ipBlock ${target.ip}/32 on port ${target.port}`);
  });
});
