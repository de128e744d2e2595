/**
 * Benchmark: the real operator (a child process, as deployed) curates 2,000 SWEInstances
 * mined by the real git source from a generated repository, against a real kube-apiserver.
 * Stages "complete instantly": a fake kubelet in this process marks every sandbox pod
 * Succeeded with a valid result envelope in its termination message as soon as it appears.
 * The dataset store is on by default (a real S3-compatible server, gofakes3, as the
 * integration tests start it; `--store off` keeps content in status).
 * Prints instances/second, the operator's API requests per instance (from its /metrics), its
 * peak RSS (VmHWM), its CPU-ms per instance (/proc/<pid>/stat utime+stime), and the etcd bytes
 * per instance: every key etcd holds under the bench's namespace, read from etcd itself (its
 * v3 JSON gateway: key + value bytes, by resource), plus etcd's own db size in use before and
 * after (both after a compaction to the current revision).
 *
 *   npm run bench:operator [-- --instances 10000 --max-parallel 1000 --workers 32 --qps 1000 --store on
 *     --node-options=--max-semi-space-size=4 --operator /tmp/b/operator/main.mjs]
 * (V8 flags for the operator process; the bundle the image runs: node scripts/bundle.ts --out /tmp/b)
 *
 * Uses KUBECONFIG when set (CRDs must be installed; etcd figures only with --etcd-url);
 * otherwise starts a control plane (test/cluster, control-plane mode) and stops it afterwards.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { appendFileSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { CURATIONRUNS } from '../operator/src/api/index.ts';
import type { RawObject } from '../operator/src/controller/resources.ts';
import { collectionPath, createLogger, Informer, Kube } from '../operator/src/kube/index.ts';
import {
  encodeResultEnvelope,
  LABEL_MANAGED_BY,
  LABEL_STAGE,
  MANAGED_BY,
} from '../operator/src/sandbox/index.ts';
import { createSquashHistory } from '../test/integration/git-history.ts';
import { succeededResult } from '../test/integration/operator-harness.ts';
import { type S3Server, startS3Server } from '../test/support/s3-server.ts';

const { values: args } = parseArgs({
  options: {
    instances: { type: 'string', default: '2000' },
    'max-parallel': { type: 'string', default: '1000' },
    workers: { type: 'string', default: '32' },
    qps: { type: 'string', default: '1000' },
    burst: { type: 'string', default: '2000' },
    store: { type: 'string', default: 'on' },
    'etcd-url': { type: 'string' },
    /** The control plane this bench starts (another bench on the machine uses another name). */
    'cluster-name': { type: 'string', default: 'scaleswe-bench' },
    /** V8 flags for the operator process, e.g. "--max-semi-space-size=4" (the chart's nodeOptions). */
    'node-options': { type: 'string', default: '' },
    /** The operator's entry: its TypeScript source, or the bundle the image runs (scripts/bundle.ts). */
    operator: { type: 'string', default: 'operator/src/operator.ts' },
  },
});
const INSTANCES = Number(args.instances);
const ROOT = join(import.meta.dirname, '..');
const log = createLogger({ level: 'warn', name: 'bench' });

async function controlPlane(): Promise<{ kubeconfig: string; etcdUrl?: string; stop: () => Promise<void> }> {
  if (process.env.KUBECONFIG)
    return {
      kubeconfig: process.env.KUBECONFIG,
      ...(args['etcd-url'] && { etcdUrl: args['etcd-url'] }),
      stop: async () => {},
    };
  const { up, down, status } = await import('../test/cluster/cluster.ts');
  const { installCrds } = await import('../test/cluster/crds.ts');
  const name = args['cluster-name'];
  const wasUp = (await status(name)).up;
  const state = await up({ name, mode: 'control-plane' });
  installCrds(state);
  return {
    kubeconfig: state.kubeconfig,
    etcdUrl: `http://127.0.0.1:${state.ports.etcdClient}`,
    stop: async () => (wasUp ? undefined : down(name)),
  };
}

const b64 = (s: string | Buffer) => Buffer.from(s).toString('base64');

async function etcdPost<T>(etcdUrl: string, path: string, body: unknown): Promise<T> {
  const res = await fetch(`${etcdUrl}${path}`, { method: 'POST', body: JSON.stringify(body) });
  if (!res.ok) throw new Error(`etcd ${path}: ${res.status} ${await res.text()}`);
  return (await res.json()) as T;
}

/** Every key under /registry/ whose namespace is `namespace`: bytes (key + value) and count by resource. */
async function etcdBytesByResource(
  etcdUrl: string,
  namespace: string,
): Promise<Map<string, { keys: number; bytes: number }>> {
  const out = new Map<string, { keys: number; bytes: number }>();
  const end = b64('/registry0'); // '/' + 1
  let from = b64('/registry/');
  for (;;) {
    const page = await etcdPost<{ kvs?: { key: string; value?: string }[]; more?: boolean }>(
      etcdUrl,
      '/v3/kv/range',
      { key: from, range_end: end, limit: 1000 },
    );
    const kvs = page.kvs ?? [];
    for (const kv of kvs) {
      const key = Buffer.from(kv.key, 'base64').toString();
      const parts = key.split('/');
      if (parts.at(-2) !== namespace) continue;
      const resource = parts.slice(2, -2).join('/');
      const bytes = Buffer.from(kv.key, 'base64').length + Buffer.from(kv.value ?? '', 'base64').length;
      const entry = out.get(resource) ?? { keys: 0, bytes: 0 };
      entry.keys++;
      entry.bytes += bytes;
      out.set(resource, entry);
    }
    const last = kvs.at(-1);
    if (!page.more || !last) break;
    from = b64(Buffer.concat([Buffer.from(last.key, 'base64'), Buffer.from([0])]));
  }
  return out;
}

/** etcd's db size in use, after compacting to the current revision (history dropped). */
async function etcdDbInUse(etcdUrl: string): Promise<number> {
  const head = await etcdPost<{ header: { revision: string } }>(etcdUrl, '/v3/kv/range', {
    key: b64('/'),
    count_only: true,
  });
  try {
    await etcdPost(etcdUrl, '/v3/kv/compaction', { revision: head.header.revision, physical: true });
  } catch {
    // Already compacted to it (the API server compacts every 5 minutes): fine.
  }
  const text = await (await fetch(`${etcdUrl}/metrics`)).text();
  const m = /^etcd_mvcc_db_total_size_in_use_in_bytes (\S+)$/m.exec(text);
  return m ? Number(m[1]) : Number.NaN;
}

/** User + system CPU seconds of a process so far (clock ticks of /proc/<pid>/stat, USER_HZ 100). */
function cpuSeconds(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8')
    .replace(/^.*\) /, '')
    .split(' ');
  return (Number(fields[11]) + Number(fields[12])) / 100;
}

function peakRssMiB(pid: number): number {
  const m = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) / 1024 : Number.NaN;
}

async function operatorRequests(
  port: number,
): Promise<{ total: number; byVerb: Map<string, number>; heapUsedMiB: number }> {
  const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
  const heap = /^nodejs_heap_size_used_bytes (\S+)$/m.exec(text);
  const byVerb = new Map<string, number>();
  let total = 0;
  for (const m of text.matchAll(/^scaleswe_api_requests_total\{([^}]*)\} (\d+)/gm)) {
    const labels = Object.fromEntries(
      [...(m[1] ?? '').matchAll(/(\w+)="([^"]*)"/g)].map((l) => [l[1], l[2]]),
    );
    const n = Number(m[2]);
    total += n;
    // Refusals (409 AlreadyExists, 404 NotFound, 429 throttled, 5xx) apart: they are the waste.
    const code = labels.code ?? '';
    const k = `${labels.verb} ${labels.resource}${code.startsWith('2') ? '' : ` (${code})`}`;
    byVerb.set(k, (byVerb.get(k) ?? 0) + n);
  }
  return { total, byVerb, heapUsedMiB: heap ? Number(heap[1]) / 2 ** 20 : Number.NaN };
}

function startOperator(
  kubeconfig: string,
  namespace: string,
  s3: S3Server | undefined,
): { proc: ChildProcess; port: Promise<number> } {
  const proc = spawn(
    process.execPath,
    [
      // BENCH_HEAP_SNAPSHOT=1: the operator writes a heap snapshot on SIGUSR2 (sent at the end).
      ...(process.env.BENCH_HEAP_SNAPSHOT ? ['--heapsnapshot-signal=SIGUSR2'] : []),
      ...(args['node-options'] ? args['node-options'].split(/\s+/) : []),
      resolve(ROOT, args.operator),
      '--kubeconfig',
      kubeconfig,
      '--namespace',
      namespace,
      '--leader-election-namespace',
      namespace,
      '--metrics-port',
      '0',
      '--instance-workers',
      String(args.workers),
      '--qps',
      String(args.qps),
      '--burst',
      String(args.burst),
      '--git-cache-dir',
      join(tmpdir(), 'scaleswe-bench-git'),
      ...(s3
        ? ['--store-bucket', s3.bucket, '--store-endpoint', s3.endpoint, '--store-prefix', namespace]
        : []),
    ],
    {
      stdio: ['ignore', 'pipe', 'inherit'],
      env: {
        ...process.env,
        LOG_LEVEL: process.env.BENCH_LOG_LEVEL ?? 'info',
        ...(s3 && {
          AWS_ACCESS_KEY_ID: s3.config.credentials.accessKeyId,
          AWS_SECRET_ACCESS_KEY: s3.config.credentials.secretAccessKey,
        }),
      },
    },
  );
  const port = new Promise<number>((resolve, reject) => {
    let buffer = '';
    proc.stdout?.on('data', (chunk: Buffer) => {
      if (process.env.BENCH_OPERATOR_LOG) appendFileSync(process.env.BENCH_OPERATOR_LOG, chunk);
      buffer += chunk.toString();
      const lines = buffer.split('\n');
      buffer = lines.pop() ?? '';
      for (const line of lines) {
        if (line.includes('"operator starting"')) resolve(JSON.parse(line).metricsPort);
        else if (line.includes('"level":"error"') || line.includes('"level":"fatal"'))
          process.stderr.write(`${line}\n`);
      }
    });
    proc.on('exit', (code) => reject(new Error(`operator exited with ${code}`)));
  });
  return { proc, port };
}

/** The kubelet's part: a pod that appears is marked Succeeded with a valid result at once. */
function fakeKubelet(kube: Kube, namespace: string) {
  const selector = `${LABEL_MANAGED_BY}=${MANAGED_BY}`;
  const pods = new Informer<RawObject & { status?: { phase?: string } }>({
    name: 'bench-kubelet',
    kube,
    path: collectionPath('pods', namespace),
    list: () => kube.listPods(namespace, selector) as never,
    labelSelector: selector,
    log,
  });
  const done = new Set<string>();
  let finished = 0;
  pods.onEvent((pod, event) => {
    const name = pod.metadata.name ?? '';
    if (
      event === 'delete' ||
      done.has(name) ||
      pod.status?.phase === 'Succeeded' ||
      pod.metadata.deletionTimestamp
    )
      return;
    done.add(name);
    const now = new Date();
    const result = succeededResult(pod.metadata.labels?.[LABEL_STAGE] ?? 'env');
    kube
      .setPodStatus(namespace, name, {
        phase: 'Succeeded',
        startTime: now,
        containerStatuses: [
          {
            name: 'agent',
            image: 'bench',
            imageID: '',
            ready: false,
            restartCount: 0,
            state: {
              terminated: {
                exitCode: 0,
                reason: 'Completed',
                message: encodeResultEnvelope(result),
                startedAt: now,
                finishedAt: now,
              },
            },
          },
        ],
      })
      .then(
        () => finished++,
        () => done.delete(name),
      );
  });
  return { pods, finished: () => finished };
}

const cp = await controlPlane();
const workdir = mkdtempSync(join(tmpdir(), 'bench-operator-'));
let operator: ChildProcess | undefined;
let s3: S3Server | undefined;
try {
  if (args.store === 'on') s3 = await startS3Server();
  const dbBefore = cp.etcdUrl ? await etcdDbInUse(cp.etcdUrl) : Number.NaN;
  const t0 = performance.now();
  const repo = createSquashHistory(join(workdir, 'repo.git'), INSTANCES);
  console.log(
    `generated a repository with ${INSTANCES} merged PRs in ${((performance.now() - t0) / 1000).toFixed(2)} s`,
  );

  const kube = new Kube({ kubeconfig: cp.kubeconfig, qps: 5000, burst: 5000 });
  const namespace = `bench-${Date.now().toString(36)}`;
  await kube.createNamespace(namespace);
  const kubelet = fakeKubelet(kube, namespace);
  await kubelet.pods.start();

  const started = startOperator(cp.kubeconfig, namespace, s3);
  operator = started.proc;
  const port = await started.port;

  const maxParallel = Math.min(Number(args['max-parallel']), INSTANCES);
  const t1 = performance.now();
  await kube.create(CURATIONRUNS, namespace, {
    apiVersion: 'scaleswe.dev/v1alpha1',
    kind: 'CurationRun',
    metadata: { name: 'bench' },
    spec: {
      source: { git: { url: repo, repo: 'bench/repo' } },
      limits: { maxPRs: INSTANCES, maxParallel },
      filters: { maxFiles: 50 },
    },
  });
  let lastReport = 0;
  let peakHeapMiB = 0;
  for (;;) {
    const run = await kube.get<
      RawObject & { status?: { phase?: string; progress?: string; counts?: { verified?: number } } }
    >(CURATIONRUNS, namespace, 'bench');
    if (run.status?.phase === 'Succeeded') {
      if ((run.status.counts?.verified ?? 0) !== INSTANCES)
        throw new Error(`expected ${INSTANCES} verified, got ${JSON.stringify(run.status.counts)}`);
      break;
    }
    if (performance.now() - lastReport > 5000) {
      lastReport = performance.now();
      peakHeapMiB = Math.max(peakHeapMiB, (await operatorRequests(port)).heapUsedMiB);
      console.log(
        `  ${((lastReport - t1) / 1000).toFixed(0)} s: ${run.status?.phase ?? '-'} ${run.status?.progress ?? ''}`,
      );
    }
    await new Promise((r) => setTimeout(r, 250));
  }
  const seconds = (performance.now() - t1) / 1000;
  const requests = await operatorRequests(port);
  const rss = peakRssMiB(operator.pid ?? 0);
  const cpu = cpuSeconds(operator.pid ?? 0);

  console.log(
    `\n${INSTANCES} SWEInstances, 4 stages each (${kubelet.finished()} sandbox pods), maxParallel ${maxParallel}, ${args.workers} instance workers, client QPS ${args.qps}, dataset store ${s3 ? 'on (gofakes3)' : 'off'}, operator ${args.operator} with V8 flags: ${args['node-options'] || 'none'}`,
  );
  console.log(
    `run Succeeded in ${seconds.toFixed(1)} s: ${(INSTANCES / seconds).toFixed(1)} instances/second`,
  );
  console.log(
    `operator API requests: ${requests.total} = ${(requests.total / INSTANCES).toFixed(1)} per instance`,
  );
  for (const [k, n] of [...requests.byVerb].sort((a, b) => b[1] - a[1]))
    console.log(`  ${k.padEnd(28)} ${String(n).padStart(7)}  (${(n / INSTANCES).toFixed(2)}/instance)`);
  console.log(
    `operator peak RSS: ${rss.toFixed(0)} MiB (V8 heap in use: peak of 5 s samples ${peakHeapMiB.toFixed(0)} MiB, at the end ${requests.heapUsedMiB.toFixed(0)} MiB)`,
  );
  console.log(
    `operator CPU: ${cpu.toFixed(1)} s = ${((cpu / INSTANCES) * 1000).toFixed(1)} ms per instance (the machine: ${cpus().length} CPUs, load ${loadavg()[0]?.toFixed(1)})`,
  );
  await kubelet.pods.stop();
  if (process.env.BENCH_HEAP_SNAPSHOT) {
    operator.kill('SIGUSR2');
    console.log('operator heap snapshot requested (Heap.*.heapsnapshot in the working directory)');
    await new Promise((r) => setTimeout(r, 30_000));
  }
  if (cp.etcdUrl) {
    const byResource = await etcdBytesByResource(cp.etcdUrl, namespace);
    const dbAfter = await etcdDbInUse(cp.etcdUrl);
    const total = [...byResource.values()].reduce((a, e) => a + e.bytes, 0);
    const gcd = byResource.get('secrets')?.bytes ?? 0; // stage inputs, owned by pods already deleted
    const events = byResource.get('events')?.bytes ?? 0; // expire after the API server's --event-ttl (1 h)
    const perInstance = (n: number) => `${(n / INSTANCES / 1024).toFixed(2)} KiB`;
    console.log(
      `etcd bytes in the namespace (key + value, read from etcd): ${(total / 2 ** 20).toFixed(1)} MiB = ${perInstance(total)} per instance`,
    );
    for (const [resource, e] of [...byResource].sort((a, b) => b[1].bytes - a[1].bytes))
      console.log(
        `  ${resource.padEnd(28)} ${String(e.keys).padStart(7)} keys ${perInstance(e.bytes).padStart(11)}/instance`,
      );
    console.log(
      `  kept for good (without Events, which expire, and Secrets of deleted pods, which the GC a control-plane-only cluster lacks collects): ${perInstance(total - gcd - events)} per instance`,
    );
    console.log(
      `etcd db in use (after compaction): ${(dbBefore / 2 ** 20).toFixed(1)} MiB before, ${(dbAfter / 2 ** 20).toFixed(1)} MiB after = ${perInstance(dbAfter - dbBefore)} per instance`,
    );
  }
} finally {
  await s3?.stop();
  operator?.kill('SIGTERM');
  await new Promise((r) => setTimeout(r, 500));
  rmSync(workdir, { recursive: true, force: true });
  await cp.stop();
}
