// The whole product on a real node, the way a user runs it: the operator image built
// locally and imported, `helm install` of charts/scaleswe-operator, `kubectl apply` of a
// CurationRun whose git source is the bundled sample repository served from the host over
// smart HTTP, `kubectl wait` until it succeeds. Sandbox pods run the agent stages for real.
// Faults injected into that same run: a running sandbox pod is deleted (its stage retries)
// and the leading operator pod is force-killed (the standby takes over; deterministic names
// mean no duplicate and no lost instance). Invalid CurationRuns are rejected at apply time.
// Beside the sample, with mutation testing on: the Node fixture, and the truncate PR in Python
// and Go with strong, weak and off-target tests, whose status.mutation must equal the local
// mode's hand-written records (agents/e2e-mutation.test.ts; test/fixtures/truncate-repos.ts).
import { execFileSync } from 'node:child_process';
import { lookup } from 'node:dns/promises';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse as parseYaml, stringify as toYaml } from 'yaml';
import { STAGE_CONDITION, STAGES } from '../../operator/src/api/index.ts';
import { createSampleRepo, SAMPLE_EXPECTED, SAMPLE_REPO } from '../../operator/src/cli/sample.ts';
import { readState } from '../cluster/cluster.ts';
import { REPO_ROOT } from '../cluster/lib.ts';
import { buildNodeRepo, type FixtureRepo } from '../fixtures/repos.ts';
import {
  buildTruncateRepo,
  expectedTruncateMutation,
  TRUNCATE_MIN_SCORE,
  TRUNCATE_MUTATION,
  TRUNCATE_VARIANTS,
  type TruncateLanguage,
  type TruncateVariant,
} from '../fixtures/truncate-repos.ts';
import {
  cluster,
  createNamespace,
  deleteNamespace,
  kubectl,
  poll,
  type TestNamespace,
} from '../integration/support.ts';
import { type GitServer, startGitServer } from '../support/git-server.ts';
import { ensureOperatorImage } from './operator-image.ts';
import {
  helm,
  installOperator,
  k,
  kubectlAsync,
  operatorDiagnostics,
  RELEASE,
  uninstallOperator,
} from './support.ts';

/**
 * The node enforces NetworkPolicies and a policy cannot name hosts: sandbox pods get the
 * host's resolvers (pods use /etc/resolv.conf, there is no cluster DNS) and the addresses
 * the package registries resolve to here.
 */
async function sandboxEgress(): Promise<{ egress: { allowCIDRs: string[] } }> {
  const resolvers = readFileSync('/etc/resolv.conf', 'utf8')
    .split('\n')
    .flatMap((l) => /^\s*nameserver\s+(\S+)/.exec(l)?.[1] ?? []);
  const hosts = ['pypi.org', 'files.pythonhosted.org', 'registry.npmjs.org'];
  const addrs = (await Promise.all(hosts.map((h) => lookup(h, { all: true })))).flat().map((a) => a.address);
  const ips = [...new Set([...resolvers, ...addrs])];
  return { egress: { allowCIDRs: ips.map((ip) => (ip.includes(':') ? `${ip}/128` : `${ip}/32`)) } };
}

const RUN = 'minicalc';
const NODE_RUN = 'rangekit';
/**
 * The truncate PR of the mutation tests (agents/e2e-mutation.test.ts, local mode) in the
 * languages the Node fixture leaves, one run per test strength: the same status.mutation here.
 */
const TRUNCATE_LANGS = ['python', 'go'] as const satisfies readonly TruncateLanguage[];

interface TruncateRun {
  lang: TruncateLanguage;
  variant: TruncateVariant;
  /** The run's name and the repository's (`fixtures/<name>`). */
  name: string;
  fixture: FixtureRepo;
}

interface Condition {
  type: string;
  status: string;
  reason?: string;
  lastTransitionTime?: string;
}
interface Instance {
  metadata: { name: string; uid: string; creationTimestamp: string };
  spec: { instanceId: string; pullNumber: number; runRef: string };
  status?: {
    phase?: string;
    FAIL_TO_PASS?: string[];
    PASS_TO_PASS?: string[];
    problemStatement?: string;
    attempts?: Record<string, number>;
    lastError?: { stage?: string; reason: string; message: string };
    conditions?: Condition[];
    startedAt?: string;
    completedAt?: string;
    mutation?: unknown;
  };
}
interface Run {
  status?: {
    phase?: string;
    progress?: string;
    counts?: Record<string, number>;
    rejectedByReason?: Record<string, number>;
    startedAt?: string;
    completedAt?: string;
  };
}

function instances(ns: string, run = RUN): Instance[] {
  return (
    JSON.parse(k(['get', 'sweinstances', '-n', ns, '-o', 'json'])) as { items: Instance[] }
  ).items.filter((i) => i.spec.runRef === run);
}

interface SandboxPod {
  name: string;
  uid: string;
  phase: string;
  stage: string;
  instance: string;
  run: string;
}

function sandboxPods(ns: string): SandboxPod[] {
  const out = k([
    'get',
    'pods',
    '-n',
    ns,
    '-l',
    'app.kubernetes.io/managed-by=scaleswe-operator',
    '-o',
    'json',
  ]);
  return (
    JSON.parse(out) as {
      items: {
        metadata: { name: string; uid: string; labels: Record<string, string> };
        status: { phase: string };
      }[];
    }
  ).items.map((p) => ({
    name: p.metadata.name,
    uid: p.metadata.uid,
    phase: p.status.phase,
    stage: p.metadata.labels['scaleswe.dev/stage'] ?? '',
    instance: p.metadata.labels['scaleswe.dev/instance'] ?? '',
    run: p.metadata.labels['scaleswe.dev/run'] ?? '',
  }));
}

const secs = (from?: string, to?: string) =>
  from && to ? ((Date.parse(to) - Date.parse(from)) / 1000).toFixed(0).padStart(5) : '    -';

/** Per instance: seconds per stage from the stage conditions' transition times. */
function timingTable(items: Instance[]): string {
  const rows = [
    `${'instance'.padEnd(24)} ${'phase'.padEnd(9)} ${STAGES.map((s) => s.padStart(7)).join('')}   total`,
  ];
  for (const i of items) {
    let prev = i.status?.startedAt;
    const cells = STAGES.map((s) => {
      const c = i.status?.conditions?.find((x) => x.type === STAGE_CONDITION[s]);
      const at = c?.lastTransitionTime && c.status !== 'Unknown' ? c.lastTransitionTime : undefined;
      const cell = at ? secs(prev, at) : '    -';
      if (at) prev = at;
      return cell.padStart(7);
    });
    rows.push(
      `${i.spec.instanceId.padEnd(24)} ${(i.status?.phase ?? '').padEnd(9)} ${cells.join('')} ${secs(i.status?.startedAt, i.status?.completedAt).padStart(7)}`,
    );
  }
  return rows.join('\n');
}

describe('operator on a real node: helm install, kubectl apply, verified instances', () => {
  let ns: TestNamespace;
  let work: string;
  let git: GitServer;
  let repoURL: string;
  let node: FixtureRepo;
  const truncate: TruncateRun[] = [];
  let image: { repository: string; tag: string; ref: string };
  let uninstalled = false;

  beforeAll(async () => {
    const c = cluster();
    const state = readState(c.clusterName);
    if (!state?.host.containerdSocket) throw new Error(`cluster ${c.clusterName} is not in node mode`);
    const t0 = Date.now();
    image = ensureOperatorImage(state.host.containerdSocket);
    process.stderr.write(`[e2e] operator image ${image.ref} ready in ${Date.now() - t0} ms\n`);

    // The sample repository, bare, served on the node IP (pods reach the host there).
    work = mkdtempSync(join(tmpdir(), 'scaleswe-op-e2e-'));
    const src = createSampleRepo(join(work, 'src'));
    mkdirSync(join(work, 'srv', 'scaleswe'), { recursive: true });
    execFileSync('git', ['clone', '-q', '--bare', src, join(work, 'srv', 'scaleswe', 'minicalc.git')]);
    // Fixture repositories served as fixtures/<name>, the fix commit named like a squash-merged PR.
    mkdirSync(join(work, 'srv', 'fixtures'), { recursive: true });
    const serve = (f: FixtureRepo, name: string) => {
      execFileSync('git', ['-C', f.dir, 'commit', '-q', '--amend', '-m', `${f.spec.title} (#1)`], {
        env: { ...process.env, GIT_COMMITTER_NAME: 'Fixture', GIT_COMMITTER_EMAIL: 'fixture@example.com' },
      });
      execFileSync('git', ['clone', '-q', '--bare', f.dir, join(work, 'srv', 'fixtures', `${name}.git`)]);
    };
    // The agents' Node fixture (vitest).
    node = await buildNodeRepo(work);
    serve(node, 'rangekit');
    // The truncate PR in Python (pip + pytest) and Go, with strong, weak and off-target tests.
    for (const lang of TRUNCATE_LANGS) {
      for (const variant of TRUNCATE_VARIANTS) {
        const fixture = await buildTruncateRepo(join(work, 'truncate'), lang, variant);
        const name = `${fixture.name}-${variant}`;
        serve(fixture, name);
        truncate.push({ lang, variant, name, fixture });
      }
    }
    git = await startGitServer(join(work, 'srv'), state.nodeIP, 0);
    repoURL = `${git.url}/scaleswe/minicalc.git`;

    ns = await createNamespace('op-e2e');
  });

  afterAll(async () => {
    if (ns && !uninstalled) uninstallOperator(ns.name);
    if (ns) await deleteNamespace(ns);
    await git?.close();
    if (work) rmSync(work, { recursive: true, force: true });
  });

  it('helm install: the operator rolls out, one replica leads', () => {
    const t0 = Date.now();
    const printed = installOperator(ns.name, image, [
      'replicaCount=2',
      'leaderElection.leaseDurationSeconds=6',
    ]);
    // NOTES.txt names the release's namespace in the next commands a user types.
    expect(printed).toContain(`kubectl get curationruns,sweinstances -n ${ns.name}`);
    // Two replicas: the chart adds a PodDisruptionBudget so a drain keeps one.
    expect(k(['get', 'pdb', '-n', ns.name, '-o', 'name'])).toContain('poddisruptionbudget');
    process.stderr.write(`[e2e] helm install + rollout in ${Date.now() - t0} ms\n`);
    const lease = JSON.parse(k(['get', 'lease', RELEASE, '-n', ns.name, '-o', 'json'])) as {
      spec: { holderIdentity?: string };
    };
    expect(lease.spec.holderIdentity).toMatch(new RegExp(`^${RELEASE}-`));
  });

  it('rejects invalid CurationRuns at apply time, naming the field', () => {
    const dir = join(REPO_ROOT, 'examples/invalid');
    const files = readdirSync(dir).filter((f) => f.endsWith('.yaml'));
    expect(files.length).toBeGreaterThan(3);
    for (const f of files) {
      const doc = parseYaml(readFileSync(join(dir, f), 'utf8')) as {
        metadata: { annotations: Record<string, string> };
      };
      const field = doc.metadata.annotations['scaleswe.dev/expected-field']!;
      const r = kubectl(['apply', '-n', ns.name, '-f', join(dir, f)]);
      expect(r.code, `${f} was accepted`).not.toBe(0);
      // The API server's own message (CEL rule or OpenAPI schema) names the field.
      expect(r.stderr, f).toContain(field);
    }
    expect(k(['get', 'curationruns', '-n', ns.name, '-o', 'name'])).toBe('');
  });

  it('curates the sample, the Node fixture and the truncate fixtures (Python, Go): kubectl apply, a sandbox pod deleted and the leader killed mid-run, kubectl wait', {
    timeout: 1_200_000,
  }, async () => {
    const namespace = ns.name;
    // The example a user applies, pointed at the host's git server and this build's runner.
    const manifest = parseYaml(
      readFileSync(join(REPO_ROOT, 'examples/curationrun-sample-cluster.yaml'), 'utf8'),
    ) as {
      metadata: { name: string };
      spec: {
        source: { git: { url: string; repo: string } };
        agents: Record<string, unknown>;
        sandbox?: unknown;
      };
    };
    expect(manifest.metadata.name).toBe(RUN);
    expect(manifest.spec.source.git.repo).toBe(SAMPLE_REPO);
    manifest.spec.source.git.url = repoURL;
    manifest.spec.agents.runnerImage = image.ref;
    const sandbox = await sandboxEgress();
    manifest.spec.sandbox = sandbox;
    const nodeRun = {
      apiVersion: 'scaleswe.dev/v1alpha1',
      kind: 'CurationRun',
      metadata: { name: NODE_RUN },
      spec: {
        source: { git: { url: `${git.url}/fixtures/rangekit.git`, repo: 'fixtures/rangekit', ref: 'main' } },
        limits: { maxPRs: 5, maxParallel: 1 },
        agents: { runnerImage: image.ref, maxAttempts: 3 },
        // Mutation testing and diff coverage in a verify pod (vitest's V8 provider installed there).
        verification: { reruns: 2, mutation: { enabled: true, maxMutants: 10, minScore: 1 } },
        sandbox,
      },
    };
    // Mutation testing in the Python and Go verify pods, as the local test configures it.
    const truncateRuns = truncate.map((t) => ({
      apiVersion: 'scaleswe.dev/v1alpha1',
      kind: 'CurationRun',
      metadata: { name: t.name },
      spec: {
        source: {
          git: { url: `${git.url}/fixtures/${t.name}.git`, repo: `fixtures/${t.name}`, ref: 'main' },
        },
        limits: { maxPRs: 5, maxParallel: 1 },
        agents: { runnerImage: image.ref, maxAttempts: 3 },
        verification: {
          reruns: 1,
          mutation: {
            ...TRUNCATE_MUTATION,
            ...(TRUNCATE_MIN_SCORE[t.variant] !== undefined && { minScore: TRUNCATE_MIN_SCORE[t.variant] }),
          },
        },
        sandbox,
      },
    }));
    const t0 = Date.now();
    k(
      ['apply', '-n', namespace, '-f', '-'],
      [manifest, nodeRun, ...truncateRuns].map((m) => toYaml(m)).join('---\n'),
    );

    // Fault 1: delete a sandbox pod while it runs (the tests stage of the first instance
    // to get there); the operator runs that stage again in a new pod.
    // (PR #5, whose tests stage used to reject within seconds, is now rejected at mining.)
    const victim = await poll('a running tests-stage sandbox pod', 600_000, async () =>
      sandboxPods(namespace).find((p) => p.run === RUN && p.stage === 'tests' && p.phase === 'Running'),
    );
    k(['delete', 'pod', '-n', namespace, victim.name, '--wait=false']);
    process.stderr.write(`[e2e] deleted running sandbox pod ${victim.name} at +${Date.now() - t0} ms\n`);
    const retry = await poll(`a new tests pod for ${victim.instance}`, 120_000, async () =>
      sandboxPods(namespace).find(
        (p) => p.instance === victim.instance && p.stage === 'tests' && p.uid !== victim.uid,
      ),
    );
    process.stderr.write(`[e2e] the operator retried the stage in ${retry.name} (${retry.phase})\n`);

    // Fault 2: force-kill the leading operator while instances are mid-pipeline.
    const before = instances(namespace);
    const leader = (
      JSON.parse(k(['get', 'lease', RELEASE, '-n', namespace, '-o', 'json'])) as {
        spec: { holderIdentity: string };
      }
    ).spec.holderIdentity;
    k(['delete', 'pod', '-n', namespace, leader, '--grace-period=0', '--force']);
    process.stderr.write(
      `[e2e] killed leader ${leader} at +${Date.now() - t0} ms with ${before.length} instances: ${before
        .map((i) => `${i.spec.instanceId}=${i.status?.phase ?? 'new'}`)
        .join(' ')}\n`,
    );

    // Asynchronous: the git server the pods fetch from lives in this process's event loop.
    const wait = await kubectlAsync([
      'wait',
      '-n',
      namespace,
      `curationrun/${RUN}`,
      '--for=jsonpath={.status.phase}=Succeeded',
      '--timeout=900s',
    ]);
    const wall = Date.now() - t0;
    const items = instances(namespace).sort((a, b) => a.spec.pullNumber - b.spec.pullNumber);
    process.stderr.write(
      `[e2e] run ${RUN}: wall time ${(wall / 1000).toFixed(1)} s\n${timingTable(items)}\n`,
    );
    expect(
      wait.code,
      `${wait.stderr}\n${wait.code ? operatorDiagnostics(namespace) : ''}\n${JSON.stringify(
        items.map((i) => [i.metadata.name, i.status]),
        null,
        1,
      )}`,
    ).toBe(0);

    const newLeader = (
      JSON.parse(k(['get', 'lease', RELEASE, '-n', namespace, '-o', 'json'])) as {
        spec: { holderIdentity: string };
      }
    ).spec.holderIdentity;
    expect(newLeader).not.toBe(leader);

    // No duplicate, no lost instance: exactly the PRs the pipeline kept, and the objects
    // that existed before the kill are the same objects (same uid) now.
    const ids = items.map((i) => i.spec.instanceId);
    expect(ids).toEqual(
      [...Object.keys(SAMPLE_EXPECTED.verified), ...Object.keys(SAMPLE_EXPECTED.rejectedInPipeline)].sort(
        (a, b) => a.localeCompare(b, 'en', { numeric: true }),
      ),
    );
    for (const b of before) {
      expect(items.find((i) => i.metadata.name === b.metadata.name)?.metadata.uid, b.metadata.name).toBe(
        b.metadata.uid,
      );
    }

    for (const [id, expected] of Object.entries(SAMPLE_EXPECTED.verified)) {
      const i = items.find((x) => x.spec.instanceId === id)!;
      expect(i.status?.phase, `${id}: ${JSON.stringify(i.status?.lastError)}`).toBe('Verified');
      expect([...(i.status?.FAIL_TO_PASS ?? [])].sort(), id).toEqual([...expected.FAIL_TO_PASS].sort());
      expect([...(i.status?.PASS_TO_PASS ?? [])].sort(), id).toEqual([...expected.PASS_TO_PASS].sort());
      expect(i.status?.problemStatement?.length ?? 0, id).toBeGreaterThan(20);
      expect(i.status?.conditions?.find((c) => c.type === 'Verified')?.status).toBe('True');
    }
    const reasons = Object.fromEntries(
      items
        .filter((i) => i.status?.phase === 'Rejected')
        .map((i) => [i.spec.instanceId, i.status?.lastError?.reason]),
    );
    expect(reasons).toEqual(SAMPLE_EXPECTED.rejectedInPipeline);

    // The instance whose tests pod was deleted still verified or was judged on its merits.
    const retried = items.find((i) => i.metadata.name === victim.instance);
    expect(['Verified', 'Rejected'], victim.name).toContain(retried?.status?.phase);

    const run = JSON.parse(k(['get', 'curationrun', RUN, '-n', namespace, '-o', 'json'])) as Run;
    expect(run.status).toMatchObject({
      phase: 'Succeeded',
      counts: { verified: 2, failed: 1, rejected: SAMPLE_EXPECTED.rejectedAtMining.length, instances: 3 },
    });
    expect(run.status?.rejectedByReason).toEqual(
      Object.fromEntries(SAMPLE_EXPECTED.rejectedAtMining.map((r) => [r.reason, 1])),
    );
    // The Node fixture (npm + vitest in the node sandbox image), run beside the sample.
    const nodeWait = await kubectlAsync([
      'wait',
      '-n',
      namespace,
      `curationrun/${NODE_RUN}`,
      '--for=jsonpath={.status.phase}=Succeeded',
      '--timeout=600s',
    ]);
    const nodeItems = instances(namespace, NODE_RUN);
    process.stderr.write(
      `[e2e] run ${NODE_RUN}: done at +${((Date.now() - t0) / 1000).toFixed(1)} s\n${timingTable(nodeItems)}\n`,
    );
    expect(
      nodeWait.code,
      `${nodeWait.stderr}\n${JSON.stringify(
        nodeItems.map((i) => i.status),
        null,
        1,
      )}`,
    ).toBe(0);
    expect(nodeItems.map((i) => i.spec.instanceId)).toEqual(['fixtures__rangekit-1']);
    const rangekit = nodeItems[0]!;
    expect(rangekit.status?.phase, JSON.stringify(rangekit.status?.lastError)).toBe('Verified');
    expect([...(rangekit.status?.FAIL_TO_PASS ?? [])].sort()).toEqual([...node.expected.FAIL_TO_PASS].sort());
    expect([...(rangekit.status?.PASS_TO_PASS ?? [])].sort()).toEqual([...node.expected.PASS_TO_PASS].sort());
    // Its gold patch `x >= lo && x <= hi` has 4 mutants (two boundaries, `||`, `return
    // undefined`), each killed by one of its tests; the F2P test runs the one changed line.
    expect(rangekit.status?.mutation).toEqual({
      tried: 4,
      killed: 4,
      survived: 0,
      notCompiling: 0,
      errored: 0,
      equivalent: 0,
      score: 1,
      survivors: [],
      diffCoverage: { covered: 1, total: 1, ratio: 1, engine: 'v8', uncovered: [] },
    });

    // The truncate PR in Python and Go: exactly the local mode's records, diff coverage from
    // the sandbox images' engines (coverage.py installed into the venv; go test -coverprofile).
    for (const t of truncate) {
      const done = await kubectlAsync([
        'wait',
        '-n',
        namespace,
        `curationrun/${t.name}`,
        '--for=jsonpath={.status.phase}=Succeeded',
        '--timeout=600s',
      ]);
      const items = instances(namespace, t.name);
      process.stderr.write(
        `[e2e] run ${t.name}: done at +${((Date.now() - t0) / 1000).toFixed(1)} s\n${timingTable(items)}\n`,
      );
      expect(
        done.code,
        `${t.name}: ${done.stderr}\n${JSON.stringify(
          items.map((i) => i.status),
          null,
          1,
        )}`,
      ).toBe(0);
      expect(items.map((i) => i.spec.instanceId)).toEqual([`fixtures__${t.name}-1`]);
      const st = items[0]!.status;
      expect([...(st?.FAIL_TO_PASS ?? [])].sort(), t.name).toEqual(
        [...t.fixture.expected.FAIL_TO_PASS].sort(),
      );
      expect([...(st?.PASS_TO_PASS ?? [])].sort(), t.name).toEqual(
        [...t.fixture.expected.PASS_TO_PASS].sort(),
      );
      // Weak tests fall below minScore 0.9: rejected as WeakTests, the record kept.
      if (t.variant === 'weak') {
        expect(st?.phase, t.name).toBe('Rejected');
        expect(st?.lastError?.reason, t.name).toBe('WeakTests');
      } else expect(st?.phase, `${t.name}: ${JSON.stringify(st?.lastError)}`).toBe('Verified');
      expect(st?.mutation, t.name).toEqual(expectedTruncateMutation(t.lang, t.variant));
    }

    // Every sandbox pod is deleted once its result is recorded and its instance finished
    // (finished pods hold no node resources; each instance's go in one deletecollection).
    await poll('sandbox pods to be deleted', 60_000, async () =>
      sandboxPods(namespace).length === 0 ? true : undefined,
    );
  });

  it('kubectl get curationruns,sweinstances shows phase, progress and verified counts', () => {
    const out = k(['get', 'curationruns,sweinstances', '-n', ns.name]);
    process.stderr.write(`[e2e] kubectl get curationruns,sweinstances\n${out}`);
    expect(out).toMatch(/NAME\s+PHASE\s+PROGRESS\s+VERIFIED/);
    expect(out).toMatch(new RegExp(`curationrun\\.scaleswe\\.dev/${RUN}\\s+Succeeded\\s+\\S+\\s+2\\s`));
    expect(out).toMatch(/NAME\s+INSTANCE\s+PHASE\s+REASON/);
    expect(out).toMatch(/scaleswe__minicalc-1\s+Verified/);
    expect(out).toMatch(/fixtures__rangekit-1\s+Verified/);
    expect(out).toMatch(/scaleswe__minicalc-4\s+Rejected\s+NoFailToPass/);
    expect(out).toMatch(/fixtures__textx-weak-1\s+Rejected\s+WeakTests/);
    expect(out).toMatch(/fixtures__textutils-off-target-1\s+Verified/);
  });

  it('helm uninstall leaves no pods behind and keeps the curated data', async () => {
    helm(['uninstall', RELEASE, '-n', ns.name, '--wait', '--timeout', '120s']);
    uninstalled = true;
    // Garbage collection removes the ReplicaSet's pods right after the Deployment.
    await poll('no pods left in the release namespace', 90_000, async () =>
      k(['get', 'pods', '-n', ns.name, '-o', 'name']).trim() === '' ? true : undefined,
    );
    // The sample's 3 instances, the Node fixture's one and the truncate fixtures' six.
    expect(k(['get', 'sweinstances', '-n', ns.name, '-o', 'name']).trim().split('\n')).toHaveLength(
      4 + truncate.length,
    );
  });
});
