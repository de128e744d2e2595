// The dataset store against a real kube-apiserver and a real S3-compatible server (gofakes3,
// built from its Go module): instances' PR content (title, body, patches, issues), test-id lists
// and statements land in the bucket, the SWEInstance keeps counts, digests and keys only, the
// stage inputs and the export read the content back identically. Fault: the store unreachable
// for a while: instances wait, then resume, nothing lost, no stage run twice.
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { ListObjectsV2Command, S3Client } from '@aws-sdk/client-s3';
import type { V1Pod } from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { SWEInstance } from '../../operator/src/api/index.ts';
import {
  CURATIONRUNS,
  CurationRun,
  EVALUATIONS,
  StageInput,
  SWEINSTANCES,
} from '../../operator/src/api/index.ts';
import { exportCluster } from '../../operator/src/cli/cluster.ts';
import { Kube } from '../../operator/src/kube/index.ts';
import { createPrSource } from '../../operator/src/mining/index.ts';
import type { CandidatePR } from '../../operator/src/mining/types.ts';
import {
  decodeStageInputFile,
  LABEL_EVALUATION,
  STAGE_INPUT_ANNOTATION,
  STAGE_INPUT_KEY,
  stageInputSecretName,
} from '../../operator/src/sandbox/index.ts';
import { loadContent, loadPrContent } from '../../operator/src/store/dataset-store.ts';
import { contentKey, sha256Hex } from '../../operator/src/store/instance-content.ts';
import { S3Store } from '../../operator/src/store/s3-store.ts';
import { trajectoryKey, trajectoryPrefix } from '../../operator/src/store/trajectory-keys.ts';
import { runCli } from '../support/cli.ts';
import { startKillProxy } from '../support/kill-proxy.ts';
import { type S3Server, startS3Server } from '../support/s3-server.ts';
import { createSquashHistory, writeHistory } from './git-history.ts';
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

/** What the run mines from the repository, as the operator without a store puts it in the spec. */
async function minedPrs(url: string, maxPRs: number): Promise<CandidatePR[]> {
  const run = CurationRun.parse({ ...gitRun('widgets', url, maxPRs), metadata: { name: 'widgets' } });
  const page = await createPrSource(run.spec).nextPage(undefined, maxPRs);
  expect(page.candidates).toHaveLength(maxPRs);
  return page.candidates;
}

/** A 400-line PR (~40 KB of patch) per instance: PR content of real size. */
const bigPrHistory = (dir: string, count: number) =>
  writeHistory(
    join(dir, 'repo.git'),
    Array.from({ length: count }, (_, i) => ({ number: i + 1, padLines: 400 })),
  );

/**
 * The spec as the API server holds it names its PR content in the store (title, body, patches,
 * issues empty), and that content is the mined PR's, byte for byte. Returns the bytes of each
 * SWEInstance as held and as it would be with its content inline.
 */
async function checkStoredSpecs(store: S3Store, instances: Instance[], mined: CandidatePR[]) {
  const figures: Array<{ held: number; whole: number; spec: number }> = [];
  for (const i of instances) {
    const { spec } = i;
    expect(spec).toMatchObject({ title: '', body: '', patch: '', testPatch: '', issues: [] });
    const pr = mined.find((c) => c.pullNumber === spec.pullNumber)!;
    expect(spec.prContent).toMatchObject({ patchFiles: 1, patchLines: 402, testPatchFiles: 1, issues: 0 });
    expect(spec.prContent?.key).toBe(
      `instances/${i.metadata.namespace}/${i.metadata.name}/pr-${spec.prContent?.sha256}.json`,
    );
    const whole = await loadPrContent(store, spec);
    expect(whole.patch).toBe(pr.patch);
    expect(whole.testPatch).toBe(pr.testPatch);
    expect(whole.title).toBe(pr.title);
    expect(whole.body).toBe(pr.body ?? '');
    expect(Buffer.byteLength(pr.patch)).toBeGreaterThan(30_000);
    const status = i.status && (await loadContent(store, i.status));
    figures.push({
      held: Buffer.byteLength(JSON.stringify(i)),
      whole: Buffer.byteLength(JSON.stringify({ ...i, spec: whole, status })),
      spec: Buffer.byteLength(JSON.stringify(spec)),
    });
  }
  for (const f of figures) expect(f.spec).toBeLessThan(1500);
  process.stderr.write(
    `[store] SWEInstance bytes as the API server holds them: ${figures.map((f) => f.held).join(', ')} (spec ${figures.map((f) => f.spec).join(', ')}); with content inline: ${figures.map((f) => f.whole).join(', ')}\n`,
  );
}

/** The input the operator gave each sandbox pod (in the pod's annotation or its Secret). */
async function podInputs(kube: Kube, namespace: string, pods: readonly V1Pod[]) {
  const inputs: Array<{ pod: string; input: StageInput }> = [];
  for (const pod of pods) {
    const name = pod.metadata?.name ?? '';
    const data =
      pod.metadata?.annotations?.[STAGE_INPUT_ANNOTATION] ??
      (await kube.readSecret(namespace, stageInputSecretName(name))).data?.[STAGE_INPUT_KEY];
    inputs.push({
      pod: name,
      input: StageInput.parse(JSON.parse(decodeStageInputFile(Buffer.from(data!, 'base64')))),
    });
  }
  return inputs;
}

/**
 * The bucket holds exactly the objects the instances name (status content, spec PR content):
 * each one a later stage replaced (tests → prompt) was deleted.
 */
async function checkOneObjectEach(namespace: string, instances: Instance[]) {
  const client = new S3Client({ ...s3.config, region: 'us-east-1', forcePathStyle: true });
  try {
    const listed = await client.send(
      new ListObjectsV2Command({ Bucket: s3.bucket, Prefix: `${namespace}/` }),
    );
    const keys = (listed.Contents ?? []).map((o) => o.Key?.slice(namespace.length + 1)).sort();
    expect(keys).toEqual(instances.flatMap((i) => [i.status?.content?.key, i.spec.prContent?.key]).sort());
  } finally {
    client.destroy();
  }
}

/** The export's dataset lines carry the labels, statement and (when given) the mined PR's patches exactly. */
async function checkExport(
  kube: Kube,
  namespace: string,
  run: string,
  store: S3Store,
  count: number,
  mined?: CandidatePR[],
) {
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
    const pr = mined?.find((c) => c.pullNumber === line.pull_number);
    if (mined) {
      expect(line.patch).toBe(pr?.patch);
      expect(line.test_patch).toBe(pr?.testPatch);
    }
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
    const repo = bigPrHistory(mkdtempSync(join(tmpdir(), 'store-it-')), 4);
    const mined = await minedPrs(repo, 3);
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
      await checkStoredSpecs(store, instances, mined);
      await checkOneObjectEach(namespace, instances);
      await checkExport(kube, namespace, 'widgets', store, 3, mined);
      expect(kubelet.finished()).toBe(12);
      // Every stage's sandbox got the whole PR, as without a store.
      const inputs = await podInputs(kube, namespace, kubelet.pods);
      expect(inputs).toHaveLength(12);
      for (const { pod, input } of inputs) {
        const pr = mined.find((c) => c.pullNumber === input.instance.pullNumber)!;
        expect(input.instance, pod).toMatchObject({
          patch: pr.patch,
          testPatch: pr.testPatch,
          title: pr.title,
          body: pr.body ?? '',
          issues: [],
        });
      }
      // An Evaluation's grading pod gets the instance whole too: the gold patch and the labels.
      const gold = mined[0]!;
      await kube.create(EVALUATIONS, namespace, {
        apiVersion: 'scaleswe.dev/v1alpha1',
        kind: 'Evaluation',
        metadata: { name: 'gold' },
        spec: {
          instances: { runRef: 'widgets' },
          predictions: {
            inline: [{ instanceId: gold.instanceId, modelPatch: gold.patch, modelName: 'gold' }],
          },
        },
      });
      // The kubelet finishes it at once and the operator deletes it then: the kubelet's copy.
      const gradePod = await poll('grading pod', 60_000, async () =>
        kubelet.pods.find((p) => p.metadata?.labels?.[LABEL_EVALUATION] === 'gold'),
      );
      await poll('grading input', 30_000, () =>
        kube
          .readSecret(namespace, stageInputSecretName(gradePod.metadata?.name ?? ''))
          .catch(() => undefined),
      );
      const [grading] = await podInputs(kube, namespace, [gradePod]);
      expect(grading?.input.grade?.modelPatch).toBe(gold.patch);
      expect(grading?.input.instance).toMatchObject({ patch: gold.patch, testPatch: gold.testPatch });
      expect(grading?.input.previous).toMatchObject({ FAIL_TO_PASS, PASS_TO_PASS });

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

  it('the store unreachable for a while: runs and instances wait, then resume; nothing lost, no stage run twice', async () => {
    const { name: namespace } = ns();
    const kube = new Kube({ kubeconfig: cluster().kubeconfig });
    const store = new S3Store({ ...s3.config, prefix: namespace });
    const repo = createSquashHistory(join(mkdtempSync(join(tmpdir(), 'store-it-')), 'repo.git'), 4);
    const op = storeOperator(namespace, 'store-b');
    // Pods are held until the store is down for the second time.
    let hold = true;
    const kubelet = fakeKubelet(kube, namespace, (p) =>
      hold ? 'skip' : { phase: 'Succeeded', result: bigResult(p.stage) },
    );
    let down = false;
    const refused = (controller: string) => (l: Record<string, unknown>) =>
      l.msg === 'reconcile failed' &&
      l.controller === controller &&
      /ECONNREFUSED|connect/i.test(String(l.err));
    try {
      await s3.stop();
      down = true;
      await kube.create(CURATIONRUNS, namespace, gitRun('widgets', repo, 3));
      // No instance without its PR content: the run waits (no SourceError: the source is fine).
      await op.waitForLog(refused('curationrun'));
      expect((await kube.list<Instance>(SWEINSTANCES, namespace)).items).toHaveLength(0);
      const mining = await kube.get<CurationRun & { metadata: { name: string } }>(
        CURATIONRUNS,
        namespace,
        'widgets',
      );
      expect(mining.status?.conditions?.find((c) => c.reason === 'SourceError')).toBeUndefined();
      await s3.start();
      down = false;
      await poll('3 instances', 60_000, async () => {
        const created = (await kube.list<Instance>(SWEINSTANCES, namespace)).items;
        return created.length === 3 && created.every((i) => i.spec.prContent) ? true : undefined;
      });
      await s3.stop();
      down = true;
      hold = false;
      // The tests stage's labels cannot be stored: its result stays unrecorded (its pod kept).
      await op.waitForLog(refused('sweinstance'));
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
  // Two two-step writes: the spec's PR content then the instance's create (run reconciler), and
  // the status's content then the status write (instance reconciler).
  it.each([
    { object: 'PR content', before: 'the instance create', pr: true },
    { object: 'status content', before: 'the status write', pr: false },
  ])(
    'the operator killed between the $object write and $before: the restart writes the same key, nothing lost or duplicated',
    async ({ pr }) => {
      const { name: namespace } = ns();
      const kube = new Kube({ kubeconfig: cluster().kubeconfig });
      const store = new S3Store({ ...s3.config, prefix: namespace });
      const repo = createSquashHistory(join(mkdtempSync(join(tmpdir(), 'store-it-')), 'repo.git'), 4);
      let victim: OperatorProcess | undefined;
      let killedAfter: string | undefined;
      // The first such object the store accepted: the operator dies before it hears the answer.
      const proxy = await startKillProxy(s3.endpoint, (req) => {
        if (killedAfter || req.method !== 'PUT' || req.status !== 200 || !victim) return undefined;
        if (req.url.includes('/pr-') !== pr) return undefined;
        killedAfter = req.url;
        victim.proc.kill('SIGKILL');
        return victim.exited.then(() => {});
      });
      const kubelet = fakeKubelet(kube, namespace, (p) => ({
        phase: 'Succeeded',
        result: bigResult(p.stage),
      }));
      let op: OperatorProcess | undefined;
      try {
        victim = storeOperator(namespace, 'store-c', proxy.endpoint);
        await kube.create(CURATIONRUNS, namespace, gitRun('widgets', repo, 3));
        await victim.exited;
        expect(killedAfter).toMatch(new RegExp(`/${s3.bucket}/${namespace}/instances/`));
        const before = (await kube.list<Instance>(SWEINSTANCES, namespace)).items;
        if (pr) {
          // The object is in the bucket; the instance it belongs to was never created.
          const name = /\/instances\/[^/]+\/([^/]+)\/pr-/.exec(killedAfter ?? '')?.[1];
          expect(before.map((i) => i.metadata.name)).not.toContain(name);
          const key = decodeURIComponent(
            killedAfter!.split('?')[0]!.slice(`/${s3.bucket}/${namespace}/`.length),
          );
          expect(await store.get(key)).toBeDefined();
        } else {
          // The object is in the bucket; no status names it yet.
          expect(before.every((i) => i.status?.content === undefined)).toBe(true);
        }
        op = storeOperator(namespace, 'store-d', proxy.endpoint);
        const run = await runSucceeded(kube, namespace, 'widgets');
        expect(run.status?.counts).toMatchObject({ instances: 3, verified: 3, failed: 0 });
        const instances = (await kube.list<Instance>(SWEINSTANCES, namespace)).items;
        for (const i of instances)
          expect(i.status?.attempts).toEqual({ env: 1, tests: 1, prompt: 1, verify: 1 });
        expect(kubelet.finished()).toBe(12);
        await checkStored(store, instances);
        await checkExport(kube, namespace, 'widgets', store, 3, await minedPrs(repo, 3));
        // One object of each kind per instance: the rewrite after the crash landed on the same key.
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
    },
  );
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
