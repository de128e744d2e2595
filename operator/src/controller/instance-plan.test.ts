import { describe, expect, it } from 'vitest';
import { CurationRun, SWEInstance, type SWEInstanceStatus } from '../api/index.ts';
import { type ObservedStagePod, planInstance, settled } from './instance-plan.ts';

const now = new Date('2026-03-01T12:00:00Z');
const run = (environment: Record<string, unknown> = {}) =>
  CurationRun.parse({
    apiVersion: 'scaleswe.dev/v1alpha1',
    kind: 'CurationRun',
    metadata: { name: 'r', namespace: 'ns', generation: 1 },
    spec: { source: { git: { url: '/srv/a/b.git' } }, environment },
  });
const instance = (status: SWEInstanceStatus | undefined, generation = 1) =>
  SWEInstance.parse({
    apiVersion: 'scaleswe.dev/v1alpha1',
    kind: 'SWEInstance',
    metadata: { name: 'r.a.b-7', namespace: 'ns', generation, uid: 'u' },
    spec: {
      instanceId: 'a__b-7',
      runRef: 'r',
      repo: 'a/b',
      cloneURL: '/srv/a/b.git',
      pullNumber: 7,
      baseCommit: 'b'.repeat(40),
      patch: 'diff',
      createdAt: '2026-01-01T00:00:00Z',
      language: 'python',
    },
    ...(status && { status }),
  });
// With its content in the dataset store: only the ref is in status (as the cache holds it).
const verified: SWEInstanceStatus = {
  phase: 'Verified',
  observedGeneration: 1,
  content: {
    key: `instances/ns/r.a.b-7/${'a'.repeat(64)}.json`,
    sha256: 'a'.repeat(64),
    bytes: 10,
    fields: ['FAIL_TO_PASS'],
    failToPass: 1,
  },
};
const pod: ObservedStagePod = { metadata: { name: 'r.a.b-7-verify-1' }, status: { phase: 'Succeeded' } };

describe('settled', () => {
  it('a finished instance with nothing left to do: planning would change nothing, so its content is not read', () => {
    for (const phase of ['Verified', 'Rejected', 'Failed'] as const) {
      const i = instance({ ...verified, phase });
      expect(settled(i, run(), []), phase).toBe(true);
      expect(settled(i, undefined, []), `${phase}, run not cached`).toBe(true);
      // What the skipped reconcile would have planned: the same status, nothing to do.
      const plan = planInstance({ instance: i, run: run(), pods: [], now });
      expect(plan.status).toEqual(i.status);
      expect([
        plan.createPod,
        plan.pendingPod,
        plan.readResultOf,
        plan.deletePods.length + plan.deleteAllPods.length,
      ]).toEqual([undefined, undefined, undefined, 0]);
    }
  });

  it('not while something is left: in flight, pods to delete, a spec edit to observe, an image to retain or delete', () => {
    expect(settled(instance(undefined), run(), [])).toBe(false);
    expect(settled(instance({ ...verified, phase: 'Tests' }), run(), [])).toBe(false);
    expect(settled(instance(verified), run(), [pod])).toBe(false);
    expect(settled(instance(verified, 2), run(), [])).toBe(false);
    const withImage = {
      ...verified,
      environment: {
        key: 'c'.repeat(64),
        image: `reg/x@sha256:${'d'.repeat(64)}`,
        digest: `sha256:${'d'.repeat(64)}`,
      },
    };
    expect(settled(instance(withImage), run({ registry: 'reg.local:5000/envs' }), [])).toBe(false);
    expect(settled(instance(withImage), run(), [])).toBe(true); // no registry: no retention
    // A Verified instance the run solves (spec.solve) has attempts to start until its summary.
    const solving = CurationRun.parse({
      ...run(),
      spec: {
        ...run().spec,
        llm: { baseURL: 'http://llm', model: 'm', apiKeySecretRef: { name: 'k', key: 'apiKey' } },
        solve: { attempts: 1 },
      },
    });
    expect(settled(instance(verified), solving, [])).toBe(false);
    const solved = { ...verified, solve: { attempts: 1, resolved: 1, k: 1, failedAttempts: 0 } };
    expect(settled(instance(solved), solving, [])).toBe(true);
  });
});
