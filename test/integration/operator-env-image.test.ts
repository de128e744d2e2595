// Environment images, operator side, against a real kube-apiserver and a real registry (this
// test plays the kubelet): the build pod's shape (push Secret only in the trusted container),
// a registry failure retried with backoff (never a verdict), later stages on the digest, and
// the image of a Rejected instance deleted from the registry.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { V1Pod } from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  CURATIONRUNS,
  type EnvImageResult,
  type StageResultArg,
  SWEINSTANCES,
  type SWEInstance,
} from '../../operator/src/api/index.ts';
import { Kube } from '../../operator/src/kube/index.ts';
import { appendLayer, parseImageRef, RegistryClient } from '../../operator/src/registry/oci-registry.ts';
import { layerOf, OCI_MANIFEST, pushBase, startRegistry, type TestRegistry } from '../cluster/registry.ts';
import { createSquashHistory } from './git-history.ts';
import { fakeKubelet, type PodVerdict, succeededResult, useOperators } from './operator-harness.ts';
import { cluster, poll, useTestNamespace } from './support.ts';

const ns = useTestNamespace('envimg');
const operator = useOperators();
const KEY = 'a'.repeat(64);

let registry: TestRegistry;
let dir: string;
let client: RegistryClient;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'envimg-it-'));
  registry = await startRegistry();
  client = new RegistryClient({ plainHTTP: [registry.host] });
  await pushBase(
    client,
    `${registry.host}/sandbox/python:1`,
    layerOf(dir, 'base', { 'etc/os': 'x' }),
    OCI_MANIFEST,
  );
}, 120_000);
afterAll(async () => {
  await registry?.stop();
  rmSync(dir, { recursive: true, force: true });
});

/** A real environment image in the registry, as a build pod would have pushed it. */
async function pushedImage(tag: string): Promise<EnvImageResult> {
  const r = await appendLayer(client, {
    base: parseImageRef(`${registry.host}/sandbox/python:1`),
    target: parseImageRef(`${registry.host}/scaleswe/envs:${tag}`),
    layerFile: layerOf(dir, tag, { 'scaleswe-env/repo/x': tag }),
    comment: 'test',
  });
  return { outcome: 'pushed', reason: 'Pushed', message: 'pushed', ...r, durationMs: 5 };
}

const envResult: StageResultArg = { ...succeededResult('env'), environment: { key: KEY } } as StageResultArg;

function run(name: string, repo: string) {
  return {
    apiVersion: 'scaleswe.dev/v1alpha1',
    kind: 'CurationRun',
    metadata: { name },
    spec: {
      source: { git: { url: repo, repo: 'acme/widgets' } },
      limits: { maxPRs: 1, maxParallel: 1 },
      agents: { maxAttempts: 3, images: { python: `${registry.host}/sandbox/python:1` } },
      environment: {
        registry: `${registry.host}/scaleswe/envs`,
        plainHTTP: true,
        pushSecretRef: { name: 'envs-push' },
        pullSecretRef: { name: 'envs-pull' },
      },
    },
  };
}

type Container = { name: string; image: string; volumeMounts?: Array<{ name: string }> };
const containers = (pod: V1Pod) => ({
  init: (pod.spec?.initContainers ?? []) as Container[],
  main: (pod.spec?.containers ?? []) as Container[],
});

describe('environment images (operator, real API server)', () => {
  it('a registry failure is retried with backoff; the pushed digest runs tests and verify; no build pod is left', async () => {
    const { name: namespace } = ns();
    const kube = new Kube({ kubeconfig: cluster().kubeconfig });
    const repo = createSquashHistory(join(dir, 'a.git'), 1);
    const pushed = await pushedImage('env-a');
    let builds = 0;
    const kubelet = fakeKubelet(kube, namespace, (p): PodVerdict => {
      if (p.stage === 'env') return { phase: 'Succeeded', result: envResult };
      if (p.stage === 'envimage') {
        builds++;
        const result: EnvImageResult =
          builds === 1
            ? {
                outcome: 'failed',
                reason: 'RegistryUnavailable',
                message: 'registry unreachable: ECONNREFUSED',
                durationMs: 3,
              }
            : pushed;
        return { phase: 'Succeeded', container: 'push', terminationMessage: JSON.stringify(result) };
      }
      return { phase: 'Succeeded', result: succeededResult(p.stage) };
    });
    operator(namespace, 'op-a');
    try {
      await kube.create(CURATIONRUNS, namespace, run('widgets', repo));
      const failedOnce = await poll('the first build failure recorded', 60_000, async () => {
        const [i] = (await kube.list<SWEInstance & { metadata: { name: string } }>(SWEINSTANCES, namespace))
          .items;
        return i?.status?.environmentBuilds === 1 ? i : undefined;
      });
      expect(failedOnce.status).toMatchObject({
        phase: 'Tests',
        lastError: { reason: 'RegistryUnavailable' },
        retryAfter: expect.any(String),
      });
      const verified = await poll('instance Verified', 90_000, async () => {
        const [i] = (await kube.list<SWEInstance & { metadata: { name: string } }>(SWEINSTANCES, namespace))
          .items;
        return i?.status?.phase === 'Verified' ? i : undefined;
      });
      expect(verified.status?.environment).toEqual({ key: KEY, image: pushed.image, digest: pushed.digest });
      expect(verified.status?.environmentBuilds).toBe(1);
      expect(verified.status?.conditions?.find((c) => c.type === 'EnvImageReady')).toMatchObject({
        status: 'True',
        reason: 'Pushed',
      });

      const seen = kubelet.pods;
      const build = seen.find((p) => p.metadata?.labels?.['scaleswe.dev/stage'] === 'envimage')!;
      const { init, main } = containers(build);
      expect(build.spec?.automountServiceAccountToken).toBe(false);
      expect(build.metadata?.ownerReferences?.[0]).toMatchObject({ kind: 'SWEInstance', controller: true });
      expect(init.map((c) => [c.name, c.image])).toEqual([['prepare', `${registry.host}/sandbox/python:1`]]);
      // The push Secret is mounted only where no setup code runs.
      expect(init[0]!.volumeMounts?.map((m) => m.name)).not.toContain('registry-auth');
      expect(main.map((c) => c.name)).toEqual(['push']);
      expect(main[0]!.volumeMounts?.map((m) => m.name)).toContain('registry-auth');
      for (const stage of ['tests', 'verify']) {
        const pod = seen.find((p) => p.metadata?.labels?.['scaleswe.dev/stage'] === stage)!;
        expect(containers(pod).main[0]!.image, stage).toBe(pushed.image);
        expect(pod.spec?.imagePullSecrets, stage).toEqual([{ name: 'envs-pull' }]);
      }
      // Pods are deleted once their result is recorded; none is garbage-collected here.
      await poll('no build pod left', 30_000, async () => {
        const pods = await kube.listPods(namespace, 'scaleswe.dev/stage=envimage');
        return pods.items.every((p) => p.metadata?.deletionTimestamp) ? true : undefined;
      });
    } finally {
      await kubelet.stop();
    }
  });

  it('the image of a Rejected instance is deleted from the registry', async () => {
    const { name: namespace } = ns();
    const kube = new Kube({ kubeconfig: cluster().kubeconfig });
    await kube.createSecret(namespace, 'envs-push', {
      '.dockerconfigjson': JSON.stringify({
        auths: { [registry.host]: { auth: Buffer.from('u:p').toString('base64') } },
      }),
    });
    const repo = createSquashHistory(join(dir, 'b.git'), 1);
    const pushed = await pushedImage('env-b');
    const kubelet = fakeKubelet(kube, namespace, (p): PodVerdict => {
      if (p.stage === 'env') return { phase: 'Succeeded', result: envResult };
      if (p.stage === 'envimage')
        return { phase: 'Succeeded', container: 'push', terminationMessage: JSON.stringify(pushed) };
      return {
        phase: 'Succeeded',
        result: {
          stage: 'tests',
          outcome: 'rejected',
          reason: 'NoFailToPass',
          message: 'no test fails',
          durationMs: 1,
        },
      };
    });
    operator(namespace, 'op-b');
    try {
      await kube.create(CURATIONRUNS, namespace, run('widgets', repo));
      const deleted = await poll('image deleted', 60_000, async () => {
        const [i] = (await kube.list<SWEInstance & { metadata: { name: string } }>(SWEINSTANCES, namespace))
          .items;
        const c = i?.status?.conditions?.find((x) => x.type === 'EnvImageReady');
        return c?.reason === 'Deleted' ? i : undefined;
      });
      expect(deleted.status?.phase).toBe('Rejected');
      await expect(client.getManifest(parseImageRef(pushed.image!))).rejects.toMatchObject({
        reason: 'RegistryRejected',
        message: expect.stringContaining('404'),
      });
    } finally {
      await kubelet.stop();
    }
  });
});
