// Environment images on a real node: a real registry (Debian's docker-registry, distribution
// v2) on the node IP, the sandbox image pushed there, the operator installed by helm, the
// sample curated with spec.environment.registry. The build runs as a real pod; the tests and
// verify pods run the recorded digest and run no setup; `podman pull` of that digest plus the
// instance's test command, run in the image's filesystem on the host, reproduces FAIL_TO_PASS.
import { execFileSync, spawnSync } from 'node:child_process';
import { lookup } from 'node:dns/promises';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ENV_IMAGE_CHECKOUT } from '../../operator/src/api/index.ts';
import { createSampleRepo, SAMPLE_EXPECTED } from '../../operator/src/cli/sample.ts';
import { allowPlainHTTPRegistry, readState } from '../cluster/cluster.ts';
import { pushToRegistry, sandboxImageRef } from '../cluster/images.ts';
import { sleep } from '../cluster/lib.ts';
import { startRegistry, type TestRegistry } from '../cluster/registry.ts';
import {
  cluster,
  createNamespace,
  deleteNamespace,
  kubectl,
  type TestNamespace,
} from '../integration/support.ts';
import { type GitServer, startGitServer } from '../support/git-server.ts';
import { ensureOperatorImage } from './operator-image.ts';
import { installOperator, k, kubectlAsync, operatorDiagnostics, uninstallOperator } from './support.ts';

const RUN = 'envimg';
const PODMAN = ['--runtime', '/usr/sbin/runc', '--cgroup-manager', 'cgroupfs', '--events-backend', 'file'];

/**
 * The image's filesystem and environment, unpacked on the host: `podman run` cannot start
 * containers here (runc's setrlimit is refused by this machine's own sandbox), so the
 * reproduction runs the image's tree under bubblewrap, with no network, as a container would.
 */
function imageRootfs(image: string, dir: string): { dir: string; env: string[] } {
  mkdirSync(dir, { recursive: true });
  const id = execFileSync('podman', [...PODMAN, 'create', image, 'true'], { encoding: 'utf8' }).trim();
  try {
    execFileSync('sh', ['-c', `podman ${PODMAN.join(' ')} export ${id} | tar -x -C '${dir}'`]);
  } finally {
    spawnSync('podman', [...PODMAN, 'rm', id]);
  }
  const env = JSON.parse(
    execFileSync('podman', [...PODMAN, 'image', 'inspect', '--format', '{{json .Config.Env}}', image], {
      encoding: 'utf8',
    }),
  ) as string[] | null;
  return { dir, env: env ?? ['PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin'] };
}

/** The host's resolvers and the addresses PyPI resolves to here (a policy cannot name hosts). */
async function packageRegistryCIDRs(): Promise<string[]> {
  const resolvers = readFileSync('/etc/resolv.conf', 'utf8')
    .split('\n')
    .flatMap((l) => /^\s*nameserver\s+(\S+)/.exec(l)?.[1] ?? []);
  const hosts = ['pypi.org', 'files.pythonhosted.org'];
  const addrs = (await Promise.all(hosts.map((h) => lookup(h, { all: true })))).flat().map((a) => a.address);
  return [...new Set([...resolvers, ...addrs])].map((ip) => (ip.includes(':') ? `${ip}/128` : `${ip}/32`));
}

interface PodSeen {
  stage: string;
  instance: string;
  image: string;
  log: string;
}

interface Instance {
  metadata: { name: string };
  spec: { instanceId: string; patch: string; testPatch: string };
  status?: {
    phase?: string;
    environment?: { key: string; image?: string; digest?: string };
    recipe?: { testCommand: string };
    fullTestPatch?: string;
    FAIL_TO_PASS?: string[];
    conditions?: Array<{ type: string; status: string; reason?: string }>;
    lastError?: unknown;
  };
}

/** Samples the run's sandbox pods until stopped: each pod's stage, image and log (pods go once read). */
function watchPods(namespace: string) {
  const seen = new Map<string, PodSeen>();
  let stop = false;
  const loop = (async () => {
    while (!stop) {
      const r = await kubectlAsync([
        'get',
        'pods',
        '-n',
        namespace,
        '-l',
        `scaleswe.dev/run=${RUN}`,
        '-o',
        'json',
      ]);
      const items =
        r.code === 0
          ? (
              JSON.parse(r.stdout) as {
                items: Array<{
                  metadata: { name: string; labels: Record<string, string> };
                  spec: { containers: Array<{ name: string; image: string }> };
                  status: { phase: string };
                }>;
              }
            ).items
          : [];
      for (const p of items) {
        const main = p.spec.containers[0]!;
        const entry = seen.get(p.metadata.name) ?? {
          stage: p.metadata.labels['scaleswe.dev/stage'] ?? '',
          instance: p.metadata.labels['scaleswe.dev/instance'] ?? '',
          image: main.image,
          log: '',
        };
        seen.set(p.metadata.name, entry);
        if (p.status.phase === 'Running' || p.status.phase === 'Succeeded') {
          const logs = await kubectlAsync(['logs', '-n', namespace, p.metadata.name, '-c', main.name]);
          if (logs.code === 0 && logs.stdout.length >= entry.log.length) entry.log = logs.stdout;
        }
      }
      await sleep(500);
    }
  })();
  return {
    seen,
    async stop() {
      stop = true;
      await loop;
    },
  };
}

describe('environment images on a real node with a real registry', () => {
  let ns: TestNamespace;
  let work: string;
  let git: GitServer;
  let registry: TestRegistry;
  let image: { repository: string; tag: string; ref: string };
  let sandboxImage: string;

  beforeAll(async () => {
    const state = readState(cluster().clusterName);
    if (!state?.host.containerdSocket) throw new Error('the e2e cluster is not in node mode');
    image = ensureOperatorImage(state.host.containerdSocket);
    // The registry listens on the node IP: pods (and containerd) reach the host there.
    registry = await startRegistry({ bindHost: state.nodeIP });
    allowPlainHTTPRegistry(registry.host);
    sandboxImage = `${registry.host}/scaleswe/sandbox-python:0.1.0`;
    pushToRegistry(sandboxImageRef('python'), sandboxImage);

    work = mkdtempSync(join(tmpdir(), 'scaleswe-envimg-e2e-'));
    const src = createSampleRepo(join(work, 'src'));
    mkdirSync(join(work, 'srv', 'scaleswe'), { recursive: true });
    execFileSync('git', ['clone', '-q', '--bare', src, join(work, 'srv', 'scaleswe', 'minicalc.git')]);
    git = await startGitServer(join(work, 'srv'), state.nodeIP, 0);
    ns = await createNamespace('envimg-e2e');
    installOperator(ns.name, image, ['replicaCount=1']);
  });

  afterAll(async () => {
    if (ns) uninstallOperator(ns.name);
    if (ns) await deleteNamespace(ns);
    await git?.close();
    await registry?.stop();
    if (work) rmSync(work, { recursive: true, force: true });
  });

  it('builds the environment once as a pod, later stages run its digest without setup, and podman reproduces FAIL_TO_PASS', {
    timeout: 1_200_000,
  }, async () => {
    const namespace = ns.name;
    const nodeIP = registry.host.split(':')[0]!;
    const run = {
      apiVersion: 'scaleswe.dev/v1alpha1',
      kind: 'CurationRun',
      metadata: { name: RUN },
      spec: {
        source: { git: { url: `${git.url}/scaleswe/minicalc.git`, repo: 'scaleswe/minicalc', ref: 'main' } },
        limits: { maxPRs: 10, maxParallel: 4 },
        agents: { runnerImage: image.ref, images: { python: sandboxImage }, maxAttempts: 3 },
        verification: { reruns: 2 },
        // The node enforces NetworkPolicies: the package registries (setup) and the image
        // registry on the node (the build pod's push container) must be allowed.
        sandbox: { egress: { allowCIDRs: [...(await packageRegistryCIDRs()), `${nodeIP}/32`] } },
        environment: { registry: `${registry.host}/scaleswe/envs`, plainHTTP: true },
      },
    };
    const pods = watchPods(namespace);
    k(['apply', '-n', namespace, '-f', '-'], JSON.stringify(run));
    const wait = await kubectlAsync([
      'wait',
      '-n',
      namespace,
      `curationrun/${RUN}`,
      '--for=jsonpath={.status.phase}=Succeeded',
      '--timeout=900s',
    ]);
    await pods.stop();
    const items = (
      JSON.parse(k(['get', 'sweinstances', '-n', namespace, '-o', 'json'])) as { items: Instance[] }
    ).items;
    expect(
      wait.code,
      `${wait.stderr}\n${wait.code ? operatorDiagnostics(namespace) : ''}\n${JSON.stringify(
        items.map((i) => i.status),
        null,
        1,
      )}`,
    ).toBe(0);

    const byStage = (stage: string) => [...pods.seen.values()].filter((p) => p.stage === stage);
    process.stderr.write(
      `[e2e] pods: ${[...pods.seen.entries()].map(([n, p]) => `${n} ${p.image}`).join('\n  ')}\n`,
    );
    expect(byStage('envimage').length).toBeGreaterThan(0);

    for (const [id, expected] of Object.entries(SAMPLE_EXPECTED.verified)) {
      const inst = items.find((i) => i.spec.instanceId === id)!;
      expect(inst.status?.phase, JSON.stringify(inst.status?.lastError)).toBe('Verified');
      const env = inst.status?.environment;
      expect(env?.digest).toMatch(/^sha256:[0-9a-f]{64}$/);
      expect(env?.image).toBe(`${registry.host}/scaleswe/envs@${env?.digest}`);
      expect(inst.status?.conditions?.find((c) => c.type === 'EnvImageReady')?.status).toBe('True');

      // The verify pod ran the recorded digest and adopted the prepared checkout: no setup.
      const verify = byStage('verify').filter((p) => p.instance === inst.metadata.name);
      expect(verify.length, `verify pods of ${id}`).toBeGreaterThan(0);
      for (const p of verify) {
        expect(p.image).toBe(env?.image);
        expect(p.log).toContain(`adopted at ${ENV_IMAGE_CHECKOUT}`);
      }

      // The image reproduces the labels on the host: tests fail at base, pass with the gold patch.
      const dir = mkdtempSync(join(work, 'repro-'));
      writeFileSync(join(dir, 'test.patch'), inst.status?.fullTestPatch ?? inst.spec.testPatch);
      writeFileSync(join(dir, 'gold.patch'), inst.spec.patch);
      execFileSync('podman', [...PODMAN, 'pull', '--quiet', '--tls-verify=false', env!.image!]);
      const rootfs = imageRootfs(env!.image!, join(work, `rootfs-${id}`));
      const runIn = (script: string) =>
        spawnSync(
          'bwrap',
          [
            ...['--bind', rootfs.dir, '/', '--dev', '/dev', '--proc', '/proc', '--tmpfs', '/tmp'],
            ...['--ro-bind', dir, '/patches', '--unshare-all', '--die-with-parent'],
            ...['--chdir', ENV_IMAGE_CHECKOUT, '--clearenv'],
            ...rootfs.env.flatMap((kv) => [
              '--setenv',
              kv.slice(0, kv.indexOf('=')),
              kv.slice(kv.indexOf('=') + 1),
            ]),
            // The checkout's owner may be the build pod's user: git must still work in it.
            ...[
              '--setenv',
              'HOME',
              '/tmp',
              'bash',
              '-c',
              `git config --global safe.directory '*' && ${script}`,
            ],
          ],
          { encoding: 'utf8' },
        );
      const testCommand = inst.status!.recipe!.testCommand;
      const before = runIn(`git apply /patches/test.patch && ${testCommand}`);
      // The same checkout: back to base before the gold run.
      const after = runIn(
        `git reset -q --hard && git clean -fdq && git apply /patches/test.patch && git apply /patches/gold.patch && ${testCommand}`,
      );
      // pytest -rA summary lines: `FAILED <id> - …` before, `PASSED <id>` after.
      for (const test of expected.FAIL_TO_PASS) {
        expect(`${before.stdout}${before.stderr}`, `before gold: ${test}`).toContain(`FAILED ${test}`);
        expect(`${after.stdout}${after.stderr}`, `after gold: ${test}`).toContain(`PASSED ${test}`);
      }
      expect(after.status, after.stdout).toBe(0);
    }
    const out = k(['get', 'swei', '-n', namespace, '-o', 'wide']);
    process.stderr.write(`[e2e] kubectl get swei -o wide\n${out}`);
    expect(out).toMatch(/ENVIRONMENT/);
    expect(out).toMatch(/sha256:[0-9a-f]{64}/);

    // No build pod outlives its result.
    expect(
      k(['get', 'pods', '-n', namespace, '-l', 'scaleswe.dev/stage=envimage', '-o', 'name']).trim(),
    ).toBe('');
    // Every stage pod after env ran an environment image.
    for (const p of [...byStage('tests'), ...byStage('verify')])
      expect(p.image).toContain('/scaleswe/envs@sha256:');
    expect(kubectl(['get', 'pods', '-n', namespace]).code).toBe(0);
  });

  // Issue #16 item 4 on the node: Evaluations against the run above. Gold patches resolve
  // 100% in grading pods that run each instance's environment image (no setup); empty
  // patches are 0% with their reason and need no pod.
  it('an Evaluation grades gold patches 100% resolved in the environment images, empty patches 0%', {
    timeout: 900_000,
  }, async () => {
    const namespace = ns.name;
    const items = (
      JSON.parse(k(['get', 'sweinstances', '-n', namespace, '-o', 'json'])) as { items: Instance[] }
    ).items.filter((i) => i.status?.phase === 'Verified');
    expect(items.map((i) => i.spec.instanceId).sort()).toEqual(Object.keys(SAMPLE_EXPECTED.verified).sort());
    const evaluation = (name: string, patch: (i: Instance) => string) => ({
      apiVersion: 'scaleswe.dev/v1alpha1',
      kind: 'Evaluation',
      metadata: { name },
      spec: {
        instances: { runRef: RUN },
        predictions: {
          inline: items.map((i) => ({
            instanceId: i.spec.instanceId,
            modelPatch: patch(i),
            modelName: name,
          })),
        },
      },
    });
    const pods = watchPods(namespace);
    k(['apply', '-n', namespace, '-f', '-'], JSON.stringify(evaluation('gold', (i) => i.spec.patch)));
    k(['apply', '-n', namespace, '-f', '-'], JSON.stringify(evaluation('empty', () => '')));
    for (const name of ['gold', 'empty']) {
      const wait = await kubectlAsync([
        'wait',
        '-n',
        namespace,
        `evaluation/${name}`,
        '--for=jsonpath={.status.phase}=Succeeded',
        '--timeout=600s',
      ]);
      expect(wait.code, `${wait.stderr}\n${wait.code ? operatorDiagnostics(namespace) : ''}`).toBe(0);
    }
    await pods.stop();
    type Results = {
      status: Record<string, unknown> & {
        results: Array<{ instanceId: string; status: string; reason: string; failToPassPassed?: number }>;
      };
    };
    const gold = JSON.parse(k(['get', 'evaluation', 'gold', '-n', namespace, '-o', 'json'])) as Results;
    expect(gold.status).toMatchObject({ total: 2, resolved: 2, unresolved: 0, errors: 0, progress: '2/2' });
    for (const r of gold.status.results) {
      const expected = SAMPLE_EXPECTED.verified[r.instanceId as keyof typeof SAMPLE_EXPECTED.verified];
      expect(r).toMatchObject({
        status: 'resolved',
        reason: 'Resolved',
        failToPassPassed: expected.FAIL_TO_PASS.length,
        passToPassBroken: 0,
      });
    }
    const empty = JSON.parse(k(['get', 'evaluation', 'empty', '-n', namespace, '-o', 'json'])) as Results;
    expect(empty.status).toMatchObject({ total: 2, resolved: 0, emptyPatch: 2 });
    expect(empty.status.results.map((r) => r.reason)).toEqual(['EmptyPatch', 'EmptyPatch']);

    // One grading pod per gold prediction, on the instance's environment image, prepared.
    const grading = [...pods.seen.values()].filter((p) => p.stage === 'grade');
    expect(grading.map((p) => p.instance).sort()).toEqual(items.map((i) => i.metadata.name).sort());
    for (const p of grading) {
      const inst = items.find((i) => i.metadata.name === p.instance)!;
      expect(p.image).toBe(inst.status?.environment?.image);
    }
    // Each graded pod's logs outlive it (the operator's own RBAC creates them). A grading pod
    // is deleted as soon as its verdict is recorded (the poller may never see its log), so the
    // proof it adopted the image's prepared checkout is the log tail the grade log keeps.
    const logs = k(['get', 'configmaps', '-n', namespace, '-l', 'scaleswe.dev/grade-log=true', '-o', 'json']);
    const logMaps = (JSON.parse(logs) as { items: Array<{ data: Record<string, string> }> }).items;
    expect(logMaps).toHaveLength(2);
    for (const cm of logMaps) {
      expect(cm.data['test_output.txt']).toMatch(/PASSED tests\/test_stats\.py::/);
      expect(cm.data['run_instance.log']).toContain(`adopted at ${ENV_IMAGE_CHECKOUT}`);
      expect(cm.data['run_instance.log']).not.toMatch(/^==> setup/m);
    }
    const table = k(['get', 'evaluations', '-n', namespace]);
    process.stderr.write(`[e2e] kubectl get evaluations\n${table}`);
    expect(table).toMatch(/^gold\s+Succeeded\s+2\s+2\s+2\/2\s/m);
    expect(table).toMatch(/^empty\s+Succeeded\s+0\s+2\s+2\/2\s/m);
  });
});
