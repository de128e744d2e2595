// A stage pod's input (patches, the gateway token) is a Secret owned by the pod, mounted as a
// file; nothing of it is in the pod spec. The operator creates the pod, then the Secret; one
// that died in between (or whose Secret was lost) re-creates it after a restart. An input too
// big for a Secret fails the instance instead of leaving a pod that can never start.

import { randomBytes } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
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
  STAGE_INPUT_KEY,
  stageInputSecretName,
} from '../../operator/src/sandbox/index.ts';
import { createSquashHistory } from './git-history.ts';
import { fakeKubelet, useOperators } from './operator-harness.ts';
import { cluster, kubectl, poll, useTestNamespace } from './support.ts';

const ns = useTestNamespace('sin');
const operator = useOperators();
const kube = () => new Kube({ kubeconfig: cluster().kubeconfig });
type Instance = SWEInstance & { metadata: { name: string; uid: string } };

function gitRun(name: string, prs: number) {
  const url = createSquashHistory(join(mkdtempSync(join(tmpdir(), 'sin-')), 'repo.git'), prs);
  return {
    apiVersion: 'scaleswe.dev/v1alpha1',
    kind: 'CurationRun',
    metadata: { name },
    spec: { source: { git: { url, repo: 'acme/widgets' } }, limits: { maxPRs: prs, maxParallel: 1 } },
  };
}

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
  it('is owned by its pod and mounted from it; lost while the operator was down, it is re-created', async () => {
    const { name: namespace } = ns();
    const k = kube();
    const first = operator(namespace, 'sin-1');
    // Pods stay Pending (ContainerCreating, as a kubelet holds a pod whose Secret is missing).
    const kubelet = fakeKubelet(k, namespace, () => 'skip');
    await k.create(CURATIONRUNS, namespace, gitRun('sin', 1));

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
    // The pod mounts it and carries none of the input itself.
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

    // The operator dies; the Secret is gone (as if it had died between pod and Secret).
    first.proc.kill('SIGKILL');
    await first.exited;
    const del = kubectl(['-n', namespace, 'delete', 'secret', secret.metadata?.name ?? '']);
    expect(del.code, del.stderr).toBe(0);
    await expect(k.readSecret(namespace, secret.metadata?.name ?? '')).rejects.toMatchObject({ code: 404 });

    const second = operator(namespace, 'sin-2');
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
