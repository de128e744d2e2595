// The dataset store against a real kube-apiserver and a real S3-compatible server (gofakes3,
// built from its Go module): instances' test-id lists and statements land in the bucket, the
// SWEInstance status keeps counts, digests and keys only, and the export reads the content
// back identically. Fault: the store unreachable for a while: instances wait, then resume,
// nothing lost, no stage run twice.
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { ListObjectsV2Command, S3Client } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { CurationRun, SWEInstance } from '../../operator/src/api/index.ts';
import { CURATIONRUNS, SWEINSTANCES } from '../../operator/src/api/index.ts';
import { exportCluster } from '../../operator/src/cli/cluster.ts';
import { Kube } from '../../operator/src/kube/index.ts';
import { STAGE_INPUT_KEY, stageInputSecretName } from '../../operator/src/sandbox/index.ts';
import { loadContent } from '../../operator/src/store/dataset-store.ts';
import { contentKey, sha256Hex } from '../../operator/src/store/instance-content.ts';
import { S3Store } from '../../operator/src/store/s3-store.ts';
import { trajectoryKey, trajectoryPrefix } from '../../operator/src/store/trajectory-keys.ts';
import { runCli } from '../support/cli.ts';
import { startKillProxy } from '../support/kill-proxy.ts';
import { type S3Server, startS3Server } from '../support/s3-server.ts';
import { createSquashHistory } from './git-history.ts';
import { fakeKubelet, type OperatorProcess, startOperator, succeededResult } from './operator-harness.ts';
import { cluster, poll, useTestNamespace } from './support.ts';

const ns = useTestNamespace('store');

// A Java-like repository's labels: 1,500 PASS_TO_PASS ids (~100 KB of JSON), as in bench/real-repos.md.
const FAIL_TO_PASS = Array.from({ length: 12 }, (_, i) => `org.acme.widgets.core.WidgetTest#fixesBug${i}`);
const PASS_TO_PASS = Array.from(
  { length: 1500 },
  (_, i) => `org.acme.widgets.module${i % 40}.Module${i % 40}IntegrationTest#behavesCorrectlyInCase${i}`,
);
const STATEMENT = `Widgets render wrong when resized.\n\n${'Steps to reproduce: resize a widget twice. '.repeat(60)}`;

function bigResult(stage: string) {
  const base = succeededResult(stage);
  if (stage === 'tests' || stage === 'verify') return { ...base, FAIL_TO_PASS, PASS_TO_PASS };
  if (stage === 'prompt') return { ...base, problemStatement: STATEMENT };
  return base;
}

let s3: S3Server;
beforeAll(async () => {
  s3 = await startS3Server();
});
afterAll(async () => {
  await s3?.stop();
});

function storeOperator(
  namespace: string,
  identity: string,
  endpoint = s3.endpoint,
  extraArgs: string[] = [],
): OperatorProcess {
  return startOperator({
    kubeconfig: cluster().kubeconfig,
    namespace,
    identity,
    extraArgs: [
      '--store-bucket',
      s3.bucket,
      '--store-endpoint',
      endpoint,
      '--store-prefix',
      namespace,
      ...extraArgs,
    ],
    env: {
      AWS_ACCESS_KEY_ID: s3.config.credentials.accessKeyId,
      AWS_SECRET_ACCESS_KEY: s3.config.credentials.secretAccessKey,
    },
  });
}

const gitRun = (name: string, url: string, maxPRs: number) => ({
  apiVersion: 'scaleswe.dev/v1alpha1',
  kind: 'CurationRun',
  metadata: { name },
  spec: {
    source: { git: { url, repo: 'acme/widgets' } },
    limits: { maxPRs, maxParallel: maxPRs },
    agents: { maxAttempts: 2 },
  },
});

async function runSucceeded(kube: Kube, namespace: string, name: string): Promise<CurationRun> {
  return poll(`run ${name} Succeeded`, 180_000, async () => {
    const r = await kube.get<CurationRun & { metadata: { name: string } }>(CURATIONRUNS, namespace, name);
    return r.status?.phase === 'Succeeded' ? r : undefined;
  });
}

type Instance = SWEInstance & { metadata: { name: string } };

/** Every Verified instance's content is in the store, status holds only its ref; returns status bytes. */
async function checkStored(store: S3Store, instances: Instance[]) {
  const figures: Array<{ name: string; statusBytes: number; inlineBytes: number }> = [];
  for (const i of instances) {
    const status = i.status!;
    expect(status.phase).toBe('Verified');
    expect(status.FAIL_TO_PASS).toBeUndefined();
    expect(status.PASS_TO_PASS).toBeUndefined();
    expect(status.problemStatement).toBeUndefined();
    expect(status.content).toMatchObject({ failToPass: 12, passToPass: 1500 });
    const body = await store.get(status.content!.key);
    expect(body).toBeDefined();
    expect(sha256Hex(body!)).toBe(status.content!.sha256);
    const full = await loadContent(store, status);
    expect(full.FAIL_TO_PASS).toEqual(FAIL_TO_PASS);
    expect(full.PASS_TO_PASS).toEqual(PASS_TO_PASS);
    expect(full.problemStatement).toBe(STATEMENT);
    const { content: _, ...inline } = full;
    figures.push({
      name: i.metadata.name,
      statusBytes: Buffer.byteLength(JSON.stringify(status)),
      inlineBytes: Buffer.byteLength(JSON.stringify(inline)),
    });
  }
  for (const f of figures) expect(f.statusBytes).toBeLessThan(4096);
  process.stderr.write(
    `[store] status bytes per instance: ${figures.map((f) => f.statusBytes).join(', ')} (content inline would be ${figures.map((f) => f.inlineBytes).join(', ')})\n`,
  );
}

/** The bucket holds exactly the objects statuses name: each one a later stage replaced (tests → prompt) was deleted. */
async function checkOneObjectEach(namespace: string, instances: Instance[]) {
  const client = new S3Client({ ...s3.config, region: 'us-east-1', forcePathStyle: true });
  try {
    const listed = await client.send(
      new ListObjectsV2Command({ Bucket: s3.bucket, Prefix: `${namespace}/` }),
    );
    const keys = (listed.Contents ?? []).map((o) => o.Key?.slice(namespace.length + 1)).sort();
    expect(keys).toEqual(instances.map((i) => i.status?.content?.key).sort());
  } finally {
    client.destroy();
  }
}

/** The export's dataset lines carry the labels and statement exactly. */
async function checkExport(kube: Kube, namespace: string, run: string, store: S3Store, count: number) {
  const out = mkdtempSync(join(tmpdir(), 'store-export-'));
  const summary = await exportCluster(kube, namespace, run, out, { lists: true }, store);
  expect(summary.verified).toBe(count);
  const lines = readFileSync(summary.dataset, 'utf8')
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l));
  expect(lines).toHaveLength(count);
  for (const line of lines) {
    expect(line.FAIL_TO_PASS).toEqual(FAIL_TO_PASS);
    expect(line.PASS_TO_PASS).toEqual(PASS_TO_PASS);
    expect(line.problem_statement).toBe(STATEMENT);
  }
  // Without the store the export refuses rather than writing instances without labels.
  await expect(
    exportCluster(kube, namespace, run, mkdtempSync(join(tmpdir(), 'store-export-'))),
  ).rejects.toThrow(/no dataset store is configured/);
}

describe('operator with a dataset store (S3)', () => {
  it("keeps instances' test-id lists and statements in the bucket, status small; the export reads them back; the objects of a deleted instance are swept", async () => {
    const { name: namespace } = ns();
    const kube = new Kube({ kubeconfig: cluster().kubeconfig });
    const store = new S3Store({ ...s3.config, prefix: namespace });
    const repo = createSquashHistory(join(mkdtempSync(join(tmpdir(), 'store-it-')), 'repo.git'), 4);
    // Sweeps every second all along: objects of live instances must never go.
    const op = storeOperator(namespace, 'store-a', s3.endpoint, ['--store-sweep-interval', '1']);
    const kubelet = fakeKubelet(kube, namespace, (p) => ({ phase: 'Succeeded', result: bigResult(p.stage) }));
    try {
      await kube.create(CURATIONRUNS, namespace, gitRun('widgets', repo, 3));
      const run = await runSucceeded(kube, namespace, 'widgets');
      expect(run.status?.counts).toMatchObject({ instances: 3, verified: 3, failed: 0 });
      const instances = (await kube.list<Instance>(SWEINSTANCES, namespace)).items;
      expect(instances).toHaveLength(3);
      await checkStored(store, instances);
      await checkOneObjectEach(namespace, instances);
      await checkExport(kube, namespace, 'widgets', store, 3);
      expect(kubelet.finished()).toBe(12);

      // The CLI: `scaleswe export --store-*` (credentials from the environment) reads the
      // labels back; without the store it says what to give instead of exporting without them.
      const env = { ...process.env, KUBECONFIG: cluster().kubeconfig };
      const out = mkdtempSync(join(tmpdir(), 'store-cli-'));
      const storeFlags = [
        '--store-bucket',
        s3.bucket,
        '--store-endpoint',
        s3.endpoint,
        '--store-prefix',
        namespace,
      ];
      const exported = await runCli(
        ['export', '--run', 'widgets', '-n', namespace, '--out', out, ...storeFlags],
        {
          ...env,
          AWS_ACCESS_KEY_ID: s3.config.credentials.accessKeyId,
          AWS_SECRET_ACCESS_KEY: s3.config.credentials.secretAccessKey,
        },
      );
      expect(exported.err).toBe('');
      expect(exported.code).toBe(0);
      const lines = readFileSync(join(out, 'dataset.jsonl'), 'utf8').trim().split('\n');
      expect(lines).toHaveLength(3);
      for (const l of lines) expect(JSON.parse(l).PASS_TO_PASS).toBe(JSON.stringify(PASS_TO_PASS));
      const refused = await runCli(['export', '--run', 'widgets', '-n', namespace, '--out', out], env);
      expect(refused.code).not.toBe(0);
      expect(refused.err).toMatch(/no dataset store is configured: give --store-bucket/);
      expect(refused.err).not.toMatch(/\n\s+at /); // one clear line, no stack

      // The data of a deleted instance goes at the second sweep that misses it. (Deleting one
      // of this run's instances would not do: the run mines its PR again, under the same name.)
      const orphans = [
        contentKey({ namespace, name: 'widgets.acme.widgets-99' }, 'ab12'),
        trajectoryKey({
          namespace,
          run: 'widgets',
          instance: 'widgets.acme.widgets-99',
          stage: 'env',
          attempt: 1,
        }),
      ];
      for (const key of orphans) await store.put(key, '{}');
      await poll("the deleted instance's objects swept", 60_000, async () =>
        (await Promise.all(orphans.map((key) => store.get(key)))).every((o) => o === undefined)
          ? true
          : undefined,
      );
      await checkOneObjectEach(namespace, instances);
      await op.waitForLog((l) => l.msg === 'dataset store: removed the objects of deleted instances');
    } finally {
      await kubelet.stop();
      op.proc.kill('SIGKILL');
      await op.exited;
      store.destroy();
    }
  });

  it('the store unreachable for a while: instances wait, then resume; nothing lost, no stage run twice', async () => {
    const { name: namespace } = ns();
    const kube = new Kube({ kubeconfig: cluster().kubeconfig });
    const store = new S3Store({ ...s3.config, prefix: namespace });
    const repo = createSquashHistory(join(mkdtempSync(join(tmpdir(), 'store-it-')), 'repo.git'), 4);
    const op = storeOperator(namespace, 'store-b');
    const kubelet = fakeKubelet(kube, namespace, (p) => ({ phase: 'Succeeded', result: bigResult(p.stage) }));
    let down = false;
    try {
      await s3.stop();
      down = true;
      await kube.create(CURATIONRUNS, namespace, gitRun('widgets', repo, 3));
      // The tests stage's labels cannot be stored: its result stays unrecorded (its pod kept).
      await op.waitForLog(
        (l) =>
          l.msg === 'reconcile failed' &&
          l.controller === 'sweinstance' &&
          /ECONNREFUSED|connect/i.test(String(l.err)),
      );
      const waiting = (await kube.list<Instance>(SWEINSTANCES, namespace)).items;
      expect(waiting.every((i) => i.status?.phase !== 'Failed' && i.status?.phase !== 'Verified')).toBe(true);
      expect(
        waiting.every((i) => i.status?.FAIL_TO_PASS === undefined && i.status?.content === undefined),
      ).toBe(true);
      await s3.start();
      down = false;
      const run = await runSucceeded(kube, namespace, 'widgets');
      expect(run.status?.counts).toMatchObject({ instances: 3, verified: 3, failed: 0 });
      const instances = (await kube.list<Instance>(SWEINSTANCES, namespace)).items;
      for (const i of instances)
        expect(i.status?.attempts).toEqual({ env: 1, tests: 1, prompt: 1, verify: 1 });
      expect(kubelet.finished()).toBe(12); // one pod per stage: the outage repeated none
      await checkStored(store, instances);
      await checkExport(kube, namespace, 'widgets', store, 3);
    } finally {
      if (down) await s3.start();
      await kubelet.stop();
      op.proc.kill('SIGKILL');
      await op.exited;
      store.destroy();
    }
  });
  it('the operator killed between the object write and the status write: the restart writes the same key, nothing lost or duplicated', async () => {
    const { name: namespace } = ns();
    const kube = new Kube({ kubeconfig: cluster().kubeconfig });
    const store = new S3Store({ ...s3.config, prefix: namespace });
    const repo = createSquashHistory(join(mkdtempSync(join(tmpdir(), 'store-it-')), 'repo.git'), 4);
    let victim: OperatorProcess | undefined;
    let killedAfter: string | undefined;
    // The first object the store accepted: the operator dies before it hears the answer.
    const proxy = await startKillProxy(s3.endpoint, (req) => {
      if (killedAfter || req.method !== 'PUT' || req.status !== 200 || !victim) return undefined;
      killedAfter = req.url;
      victim.proc.kill('SIGKILL');
      return victim.exited.then(() => {});
    });
    const kubelet = fakeKubelet(kube, namespace, (p) => ({ phase: 'Succeeded', result: bigResult(p.stage) }));
    let op: OperatorProcess | undefined;
    try {
      victim = storeOperator(namespace, 'store-c', proxy.endpoint);
      await kube.create(CURATIONRUNS, namespace, gitRun('widgets', repo, 3));
      await victim.exited;
      expect(killedAfter).toMatch(new RegExp(`/${s3.bucket}/${namespace}/instances/`));
      // The object is in the bucket; no status names it yet.
      const before = (await kube.list<Instance>(SWEINSTANCES, namespace)).items;
      expect(before.every((i) => i.status?.content === undefined)).toBe(true);
      op = storeOperator(namespace, 'store-d', proxy.endpoint);
      const run = await runSucceeded(kube, namespace, 'widgets');
      expect(run.status?.counts).toMatchObject({ instances: 3, verified: 3, failed: 0 });
      const instances = (await kube.list<Instance>(SWEINSTANCES, namespace)).items;
      for (const i of instances)
        expect(i.status?.attempts).toEqual({ env: 1, tests: 1, prompt: 1, verify: 1 });
      expect(kubelet.finished()).toBe(12);
      await checkStored(store, instances);
      await checkExport(kube, namespace, 'widgets', store, 3);
      // One object per instance: the rewrite after the crash landed on the same key.
      await checkOneObjectEach(namespace, instances);
    } finally {
      await kubelet.stop();
      for (const p of [victim, op]) {
        p?.proc.kill('SIGKILL');
        await p?.exited;
      }
      await proxy.close();
      store.destroy();
    }
  });
  it("the LLM gateway's trajectories go to the store, not ConfigMaps, and the export reads them", async () => {
    const { name: namespace } = ns();
    const kube = new Kube({ kubeconfig: cluster().kubeconfig });
    const store = new S3Store({ ...s3.config, prefix: namespace });
    const dir = mkdtempSync(join(tmpdir(), 'store-gw-'));
    writeFileSync(join(dir, 'hmac'), randomBytes(32).toString('hex'));
    // An OpenAI-compatible provider answering every request with "pong".
    const provider = createServer((req, res) => {
      req.resume().on('end', () => {
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(
          JSON.stringify({
            id: 'chatcmpl-1',
            object: 'chat.completion',
            created: 0,
            model: 'm',
            choices: [{ index: 0, finish_reason: 'stop', message: { role: 'assistant', content: 'pong' } }],
            usage: { prompt_tokens: 7, completion_tokens: 1, total_tokens: 8 },
          }),
        );
      });
    });
    await new Promise<void>((resolve) => provider.listen(0, '127.0.0.1', resolve));
    const gatewayPort = await new Promise<number>((resolve) => {
      const probe = createServer().listen(0, '127.0.0.1', () => {
        const { port } = probe.address() as AddressInfo;
        probe.close(() => resolve(port));
      });
    });
    const gatewayURL = `http://127.0.0.1:${gatewayPort}/v1`;
    const op = startOperator({
      kubeconfig: cluster().kubeconfig,
      namespace,
      identity: 'store-gw',
      extraArgs: [
        ...['--store-bucket', s3.bucket, '--store-endpoint', s3.endpoint, '--store-prefix', namespace],
        ...['--gateway-port', String(gatewayPort), '--gateway-url', gatewayURL],
        ...['--gateway-secret-file', join(dir, 'hmac')],
      ],
      env: {
        AWS_ACCESS_KEY_ID: s3.config.credentials.accessKeyId,
        AWS_SECRET_ACCESS_KEY: s3.config.credentials.secretAccessKey,
      },
    });
    let asked = false;
    // The env pod asks the gateway once (with its own token) before its result is reported.
    const kubelet = fakeKubelet(kube, namespace, (p) =>
      p.stage === 'env' && !asked ? 'skip' : { phase: 'Succeeded', result: bigResult(p.stage) },
    );
    try {
      await op.waitForLog((l) => l.msg === 'LLM gateway serving');
      await kube.createSecret(namespace, 'llm', { apiKey: 'sk-test' });
      const repo = createSquashHistory(join(dir, 'repo.git'), 2);
      await kube.create(CURATIONRUNS, namespace, {
        ...gitRun('widgets', repo, 1),
        spec: {
          ...gitRun('widgets', repo, 1).spec,
          llm: {
            baseURL: `http://127.0.0.1:${(provider.address() as AddressInfo).port}/v1`,
            model: 'run-model',
            apiKeySecretRef: { name: 'llm', key: 'apiKey' },
          },
        },
      });
      const pod = await poll('env pod', 60_000, async () => (await kube.listPods(namespace)).items[0]);
      const secret = await poll('stage input', 30_000, async () =>
        kube.readSecret(namespace, stageInputSecretName(pod.metadata?.name ?? '')).catch(() => undefined),
      );
      const input = JSON.parse(
        gunzipSync(Buffer.from(secret.data?.[STAGE_INPUT_KEY] ?? '', 'base64')).toString('utf8'),
      ) as { config: { llm: { apiKey: string } } };
      const messages = [
        { role: 'system', content: 'You are EnvAgent.' },
        { role: 'user', content: 'ping' },
      ];
      const answer = await fetch(`${gatewayURL}/chat/completions`, {
        method: 'POST',
        headers: { authorization: `Bearer ${input.config.llm.apiKey}`, 'content-type': 'application/json' },
        body: JSON.stringify({ model: 'x', messages }),
      });
      expect(answer.status).toBe(200);
      const keys = await poll('trajectory object', 30_000, async () => {
        const listed = await store.list(trajectoryPrefix(namespace, 'widgets'));
        return listed.length ? listed : undefined;
      });
      expect(keys).toEqual([
        trajectoryKey({
          namespace,
          run: 'widgets',
          instance: pod.metadata?.labels?.['scaleswe.dev/instance'] ?? '',
          stage: 'env',
          attempt: 1,
        }),
      ]);
      asked = true;
      await runSucceeded(kube, namespace, 'widgets');
      expect((await kube.listConfigMaps(namespace, 'scaleswe.dev/trajectory=true')).items).toHaveLength(0);
      const summary = await exportCluster(kube, namespace, 'widgets', join(dir, 'export'), {}, store);
      expect(summary.examples).toBe(1);
      const [example] = readFileSync(summary.trajectories, 'utf8')
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l));
      expect(example.messages).toEqual([...messages, { role: 'assistant', content: 'pong' }]);
    } finally {
      await kubelet.stop();
      op.proc.kill('SIGKILL');
      await op.exited;
      await new Promise((resolve) => provider.close(resolve));
      store.destroy();
    }
  });
});
