// A stage pod's input (patches, the gateway token) is a Secret owned by the pod, mounted as a
// file; nothing of it is in the pod spec. The operator creates the pod, then the Secret; one
// that died in between (or whose Secret was lost) re-creates it after a restart. An input with
// nothing secret in it (no gateway token) and small travels in the pod itself instead: an
// annotation the downward API mounts, and no Secret. An input too big for a Secret fails the
// instance instead of leaving a pod that can never start.

import { randomBytes } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import type { V1Pod } from '@kubernetes/client-node';
import { describe, expect, it } from 'vitest';
import { CURATIONRUNS, StageInput, SWEINSTANCES, type SWEInstance } from '../../operator/src/api/index.ts';
import { Kube } from '../../operator/src/kube/index.ts';
import { languageCacheEnv } from '../../operator/src/languages/index.ts';
import {
  LABEL_MANAGED_BY,
  MANAGED_BY,
  MAX_STAGE_INPUT_BYTES,
  POD_CACHE_DIR,
  STAGE_INPUT_ANNOTATION,
  STAGE_INPUT_KEY,
  stageInputSecretName,
} from '../../operator/src/sandbox/index.ts';
import { freePort } from '../support/free-port.ts';
import { createSquashHistory } from './git-history.ts';
import { fakeKubelet, useOperators } from './operator-harness.ts';
import { cluster, kubectl, poll, useTestNamespace } from './support.ts';

const ns = useTestNamespace('sin');
const operator = useOperators();
const kube = () => new Kube({ kubeconfig: cluster().kubeconfig });
type Instance = SWEInstance & { metadata: { name: string; uid: string } };

function gitRun(name: string, prs: number, llm?: Record<string, unknown>) {
  const url = createSquashHistory(join(mkdtempSync(join(tmpdir(), 'sin-')), 'repo.git'), prs);
  return {
    apiVersion: 'scaleswe.dev/v1alpha1',
    kind: 'CurationRun',
    metadata: { name },
    spec: {
      source: { git: { url, repo: 'acme/widgets' } },
      limits: { maxPRs: prs, maxParallel: 1 },
      ...(llm && { llm }),
    },
  };
}

/** An operator serving the LLM gateway: it mints a token for each pod of a run with `llm`. */
async function gatewayArgs(): Promise<string[]> {
  const hmac = join(mkdtempSync(join(tmpdir(), 'sin-gw-')), 'hmac');
  writeFileSync(hmac, randomBytes(32).toString('hex'));
  const port = String(await freePort());
  return [
    '--gateway-port',
    port,
    '--gateway-url',
    `http://127.0.0.1:${port}/v1`,
    '--gateway-secret-file',
    hmac,
  ];
}
const llm = {
  baseURL: 'http://127.0.0.1:9/v1',
  model: 'm',
  apiKeySecretRef: { name: 'llm-provider', key: 'apiKey' },
};

async function onlyPod(k: Kube, namespace: string): Promise<V1Pod> {
  return poll('a stage pod', 30_000, async () => {
    const pods = await k.listPods(namespace, `${LABEL_MANAGED_BY}=${MANAGED_BY}`);
    return pods.items.length === 1 ? pods.items[0] : undefined;
  });
}

const secretOf = (k: Kube, namespace: string, pod: V1Pod) =>
  poll('stage input Secret', 20_000, () =>
    k.readSecret(namespace, stageInputSecretName(pod.metadata?.name ?? '')).catch(() => undefined),
  );

describe('stage input Secret', () => {
  it('holding a gateway token: owned by its pod and mounted from it; lost while the operator was down, it is re-created', async () => {
    const { name: namespace } = ns();
    const k = kube();
    const gateway = await gatewayArgs();
    await k.createSecret(namespace, 'llm-provider', { apiKey: 'sk-provider' });
    const first = operator(namespace, 'sin-1', gateway);
    // Pods stay Pending (ContainerCreating, as a kubelet holds a pod whose Secret is missing).
    const kubelet = fakeKubelet(k, namespace, () => 'skip');
    await k.create(CURATIONRUNS, namespace, gitRun('sin', 1, llm));

    const pod = await onlyPod(k, namespace);
    const secret = await secretOf(k, namespace, pod);
    expect(secret.metadata?.ownerReferences).toEqual([
      { apiVersion: 'v1', kind: 'Pod', name: pod.metadata?.name, uid: pod.metadata?.uid, controller: true },
    ]);
    expect(secret.metadata?.labels).toEqual(pod.metadata?.labels);
    expect(secret.immutable).toBe(true);
    const input = StageInput.parse(
      JSON.parse(gunzipSync(Buffer.from(secret.data?.[STAGE_INPUT_KEY] ?? '', 'base64')).toString('utf8')),
    );
    expect(input.stage).toBe('env');
    expect(input.instance.patch).toContain('diff --git');
    const token = input.config.llm?.apiKey ?? '';
    expect(token).toMatch(/^sgw1\./);
    // The pod mounts it and carries none of the input itself.
    expect(pod.metadata?.annotations?.[STAGE_INPUT_ANNOTATION]).toBeUndefined();
    const agent = pod.spec?.containers.find((c) => c.name === 'agent');
    expect(pod.spec?.volumes).toContainEqual(
      expect.objectContaining({
        name: 'stage-input',
        secret: expect.objectContaining({ secretName: secret.metadata?.name }),
      }),
    );
    // Its environment: where the input is, HOME, and the language caches — nothing else.
    expect(agent?.env?.map((e) => e.name)).toEqual([
      'SCALESWE_STAGE_INPUT_FILE',
      'HOME',
      'XDG_CACHE_HOME',
      ...Object.keys(languageCacheEnv(POD_CACHE_DIR)),
    ]);
    expect(JSON.stringify(pod)).not.toContain(input.instance.patch.slice(0, 60));
    expect(JSON.stringify(pod)).not.toContain(token);

    // The operator dies; the Secret is gone (as if it had died between pod and Secret).
    first.proc.kill('SIGKILL');
    await first.exited;
    const del = kubectl(['-n', namespace, 'delete', 'secret', secret.metadata?.name ?? '']);
    expect(del.code, del.stderr).toBe(0);
    await expect(k.readSecret(namespace, secret.metadata?.name ?? '')).rejects.toMatchObject({ code: 404 });

    const second = operator(namespace, 'sin-2', gateway);
    await second.waitForLog((l) => l.msg === 'created the missing stage input Secret');
    const again = await secretOf(k, namespace, pod);
    expect(again.metadata?.uid).not.toBe(secret.metadata?.uid);
    expect(again.metadata?.ownerReferences?.[0]?.uid).toBe(pod.metadata?.uid);
    const reInput = StageInput.parse(
      JSON.parse(gunzipSync(Buffer.from(again.data?.[STAGE_INPUT_KEY] ?? '', 'base64')).toString('utf8')),
    );
    expect(reInput.instance).toEqual(input.instance);
    expect(reInput.stage).toBe('env');
    // Same pod: nothing was re-created but the Secret.
    expect((await onlyPod(k, namespace)).metadata?.uid).toBe(pod.metadata?.uid);
    await kubelet.stop();
  });

  it('with nothing secret in it, travels in the pod: no Secret, before or after an operator restart', async () => {
    const { name: namespace } = ns();
    const k = kube();
    const first = operator(namespace, 'sin-in-1');
    const kubelet = fakeKubelet(k, namespace, () => 'skip');
    await k.create(CURATIONRUNS, namespace, gitRun('sin', 1));

    const pod = await onlyPod(k, namespace);
    await first.waitForLog((l) => l.msg === 'created sandbox pod' && l.inputInPod === true);
    const inline = pod.metadata?.annotations?.[STAGE_INPUT_ANNOTATION] ?? '';
    const input = StageInput.parse(JSON.parse(gunzipSync(Buffer.from(inline, 'base64')).toString('utf8')));
    expect(input.stage).toBe('env');
    expect(input.instance.patch).toContain('diff --git');
    expect(input.config.llm).toBeUndefined();
    // The downward API mounts the annotation where the runner looks; no Secret is mounted.
    expect(pod.spec?.volumes).toContainEqual({
      name: 'stage-input',
      downwardAPI: {
        defaultMode: 0o444,
        items: [
          {
            path: 'stage-input.json.gz.b64',
            fieldRef: { apiVersion: 'v1', fieldPath: `metadata.annotations['${STAGE_INPUT_ANNOTATION}']` },
          },
        ],
      },
    });
    const agent = pod.spec?.containers.find((c) => c.name === 'agent');
    expect(agent?.env?.[0]).toEqual({
      name: 'SCALESWE_STAGE_INPUT_FILE',
      value: '/var/run/scaleswe/stage-input/stage-input.json.gz.b64',
    });

    // A restarted operator finds the pod Pending and creates no Secret for it.
    first.proc.kill('SIGKILL');
    await first.exited;
    const second = operator(namespace, 'sin-in-2');
    await second.waitForLog((l) => l.msg === 'became leader');
    const port = (await second.waitForLog((l) => l.msg === 'operator starting')).metricsPort as number;
    // Its instance reconciled with the pod still Pending: the path that ensures a missing Secret.
    await poll('the instance reconciled', 20_000, async () => {
      const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
      return /^controller_runtime_reconcile_total\{controller="sweinstance",result="\w+"\} [1-9]/m.test(text)
        ? text
        : undefined;
    });
    await expect(
      k.readSecret(namespace, stageInputSecretName(pod.metadata?.name ?? '')),
    ).rejects.toMatchObject({
      code: 404,
    });
    for (const op of [first, second])
      expect(op.logs.some((l) => String(l.msg).includes('stage input Secret'))).toBe(false);
    expect((await onlyPod(k, namespace)).metadata?.uid).toBe(pod.metadata?.uid);
    await kubelet.stop();
  });

  it('an input too big for a Secret fails the instance with StageInputTooLarge and no pod', async () => {
    const { name: namespace } = ns();
    const k = kube();
    const kubelet = fakeKubelet(k, namespace, () => 'skip');
    // The run mines its own small PR too; only the hand-made instance below is oversized.
    const run = await k.create<{ metadata: { name: string; uid: string } }>(
      CURATIONRUNS,
      namespace,
      gitRun('big', 1),
    );
    // Random base64 hardly compresses: its gzip is past 1 MiB while the object still fits etcd.
    const patch = `diff --git a/blob b/blob\n+${randomBytes(1_100_000).toString('base64')}\n`;
    await k.create(SWEINSTANCES, namespace, {
      apiVersion: 'scaleswe.dev/v1alpha1',
      kind: 'SWEInstance',
      metadata: {
        name: 'big.acme.widgets-999',
        ownerReferences: [
          {
            apiVersion: 'scaleswe.dev/v1alpha1',
            kind: 'CurationRun',
            name: 'big',
            uid: run.metadata.uid,
            controller: true,
          },
        ],
      },
      spec: {
        instanceId: 'acme__widgets-999',
        runRef: 'big',
        repo: 'acme/widgets',
        cloneURL: '/nowhere.git',
        pullNumber: 999,
        baseCommit: 'a'.repeat(40),
        patch,
        createdAt: '2026-01-01T00:00:00Z',
        language: 'python',
      },
    });
    operator(namespace, 'big-1');
    const failed = await poll('instance Failed', 30_000, async () => {
      const i = await k.get<Instance>(SWEINSTANCES, namespace, 'big.acme.widgets-999');
      return i.status?.phase === 'Failed' ? i : undefined;
    });
    expect(failed.status?.lastError?.reason).toBe('StageInputTooLarge');
    expect(failed.status?.lastError?.message).toMatch(
      new RegExp(
        `^stage env: stage input is \\d+ bytes gzipped \\(\\d+ bytes of JSON\\); a Secret holds at most ${MAX_STAGE_INPUT_BYTES} bytes$`,
      ),
    );
    const pods = await k.listPods(namespace, 'scaleswe.dev/instance=big.acme.widgets-999');
    expect(pods.items).toEqual([]);
    await kubelet.stop();
  });
});
