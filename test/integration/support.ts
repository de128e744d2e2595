// Test helpers for the integration and e2e tiers: a KubeConfig for the tier's cluster and
// one fresh namespace per test (the control-plane tier has no namespace controller, so
// namespaces are deleted but may never finish terminating: never reuse a name).

import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import {
  ApiException,
  CoreV1Api,
  CustomObjectsApi,
  KubeConfig,
  type V1Namespace,
} from '@kubernetes/client-node';
import { afterEach, beforeEach, inject } from 'vitest';
import type { ClusterContext } from './provided.ts';

export const GROUP = 'scaleswe.dev';
export const VERSION = 'v1alpha1';

export function cluster(): ClusterContext {
  const c = inject('cluster');
  if (!c?.kubeconfig) throw new Error('no cluster: run through the integration/e2e vitest project');
  return c;
}

export function kubeConfig(): KubeConfig {
  const kc = new KubeConfig();
  kc.loadFromFile(cluster().kubeconfig);
  return kc;
}

export interface TestNamespace {
  name: string;
  kc: KubeConfig;
  core: CoreV1Api;
  custom: CustomObjectsApi;
}

export function uniqueName(prefix = 't'): string {
  return `${prefix}-${Date.now().toString(36)}-${randomBytes(3).toString('hex')}`.slice(0, 63);
}

/** Creates a namespace; in node mode also waits for its `default` ServiceAccount. */
export async function createNamespace(prefix = 't'): Promise<TestNamespace> {
  const kc = kubeConfig();
  const core = kc.makeApiClient(CoreV1Api);
  const custom = kc.makeApiClient(CustomObjectsApi);
  const body: V1Namespace = {
    metadata: { name: uniqueName(prefix), labels: { 'scaleswe.dev/test': 'true' } },
  };
  const ns = await core.createNamespace({ body });
  const name = ns.metadata!.name!;
  if (cluster().mode === 'node') {
    await poll(`ServiceAccount default in ${name}`, 30_000, async () => {
      try {
        await core.readNamespacedServiceAccount({ name: 'default', namespace: name });
        return true;
      } catch (e) {
        if (e instanceof ApiException && e.code === 404) return undefined;
        throw e;
      }
    });
  }
  return { name, kc, core, custom };
}

export async function deleteNamespace(ns: TestNamespace): Promise<void> {
  await ns.core.deleteNamespace({ name: ns.name }).catch(() => undefined);
}

/** Registers beforeEach/afterEach hooks; call the returned function inside a test. */
export function useTestNamespace(prefix = 't'): () => TestNamespace {
  let current: TestNamespace | undefined;
  beforeEach(async () => {
    current = await createNamespace(prefix);
  });
  afterEach(async () => {
    if (current) await deleteNamespace(current);
    current = undefined;
  });
  return () => {
    if (!current) throw new Error('useTestNamespace(): no namespace (called outside a test?)');
    return current;
  };
}

export async function poll<T>(
  what: string,
  timeoutMs: number,
  probe: () => Promise<T | undefined>,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await probe();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

/** The server's message of a failed API call (Status.message), or the error text. */
export function apiErrorMessage(e: unknown): string {
  if (e instanceof ApiException) {
    const body: unknown = e.body;
    if (typeof body === 'string') {
      try {
        return String((JSON.parse(body) as { message?: string }).message ?? body);
      } catch {
        return body;
      }
    }
    if (body && typeof body === 'object' && 'message' in body) return String(body.message);
    return e.message;
  }
  return e instanceof Error ? e.message : String(e);
}

/** Runs the built kubectl against the tier's cluster. */
export function kubectl(args: string[], input?: string): { code: number; stdout: string; stderr: string } {
  const c = cluster();
  const r = spawnSync(c.kubectl, ['--kubeconfig', c.kubeconfig, ...args], { input, encoding: 'utf8' });
  return { code: r.status ?? -1, stdout: r.stdout ?? '', stderr: r.stderr ?? '' };
}
