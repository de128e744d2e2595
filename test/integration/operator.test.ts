// The operator against a real kube-apiserver: a CurationRun mined from a real git repository
// creates its SWEInstances, drives their sandbox pods (this test plays the kubelet) and
// reaches Succeeded; the run survives a SIGKILL of the operator without duplicates.
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { CurationRun, SWEInstance } from '../../operator/src/api/index.ts';
import { CURATIONRUNS, SWEINSTANCES } from '../../operator/src/api/index.ts';
import { EVENTS, Kube } from '../../operator/src/kube/index.ts';
import { createSquashHistory } from './git-history.ts';
import { fakeKubelet, useOperators } from './operator-harness.ts';
import { cluster, poll, useTestNamespace } from './support.ts';

const ns = useTestNamespace('op');
const operator = useOperators();

function gitRun(name: string, url: string, limits: { maxPRs: number; maxParallel: number }) {
  return {
    apiVersion: 'scaleswe.dev/v1alpha1',
    kind: 'CurationRun',
    metadata: { name },
    spec: { source: { git: { url, repo: 'acme/widgets' } }, limits, agents: { maxAttempts: 2 } },
  };
}

async function runStatus(kube: Kube, namespace: string, name: string): Promise<CurationRun> {
  return kube.get<CurationRun & { metadata: { name: string } }>(CURATIONRUNS, namespace, name);
}

describe('operator', () => {
  it('turns a CurationRun into SWEInstances that walk all stages, and the run Succeeds', async () => {
    const { name: namespace } = ns();
    const kube = new Kube({ kubeconfig: cluster().kubeconfig });
    const repo = createSquashHistory(join(mkdtempSync(join(tmpdir(), 'op-it-')), 'repo.git'), 6);
    const op = operator(namespace, 'op-a');
    const kubelet = fakeKubelet(kube, namespace);
    try {
      await kube.create(CURATIONRUNS, namespace, gitRun('widgets', repo, { maxPRs: 5, maxParallel: 2 }));
      const run = await poll('run Succeeded', 90_000, async () => {
        const r = await runStatus(kube, namespace, 'widgets');
        // Never more than maxParallel instances in flight.
        expect(r.status?.counts?.running ?? 0).toBeLessThanOrEqual(2);
        return r.status?.phase === 'Succeeded' ? r : undefined;
      });
      expect(run.status).toMatchObject({
        progress: '5/5',
        counts: { instances: 5, verified: 5, failed: 0, running: 0 },
        observedGeneration: run.metadata.generation,
      });
      expect(run.status?.conditions?.find((c) => c.type === 'Succeeded')).toMatchObject({
        status: 'True',
        reason: 'AllInstancesFinished',
      });
      const instances = (
        await kube.list<SWEInstance & { metadata: { name: string } }>(SWEINSTANCES, namespace)
      ).items;
      expect(instances.map((i) => i.spec.instanceId).sort()).toEqual(
        [2, 3, 4, 5, 6].map((n) => `acme__widgets-${n}`), // newest first: PR 1 is beyond maxPRs
      );
      for (const i of instances) {
        expect(i.metadata.ownerReferences).toEqual([
          expect.objectContaining({
            kind: 'CurationRun',
            name: 'widgets',
            uid: run.metadata.uid,
            controller: true,
          }),
        ]);
        expect(i.status).toMatchObject({
          phase: 'Verified',
          attempts: { env: 1, tests: 1, prompt: 1, verify: 1 },
          recipe: { testCommand: 'pytest -rA' },
          problemStatement: 'f returns the wrong value',
        });
        expect(i.status?.conditions?.map((c) => [c.type, c.status])).toEqual([
          ['EnvReady', 'True'],
          ['TestsReady', 'True'],
          ['PromptReady', 'True'],
          ['Verified', 'True'],
        ]);
      }
      // Each pod was deleted only after its result was recorded (with its instance's verdict): none are left.
      await poll('pods deleted', 20_000, async () =>
        (await kube.listPods(namespace)).items.length === 0 ? true : undefined,
      );
      expect(kubelet.finished()).toBe(20);
      // Sandbox pods: owned by their instance, locked down, one per (instance, stage, attempt).
      const byUid = new Map(instances.map((i) => [i.metadata.uid, i.metadata.name]));
      for (const pod of kubelet.pods) {
        const [owner] = pod.metadata?.ownerReferences ?? [];
        expect(owner).toMatchObject({ kind: 'SWEInstance', controller: true });
        expect(pod.metadata?.name).toBe(
          `${byUid.get(owner?.uid)}-${pod.metadata?.labels?.['scaleswe.dev/stage']}-1`,
        );
        expect(pod.spec).toMatchObject({
          restartPolicy: 'Never',
          automountServiceAccountToken: false,
          enableServiceLinks: false,
        });
      }

      // Health and metrics of the leader.
      const port = (await op.waitForLog((l) => l.msg === 'operator starting')).metricsPort as number;
      const base = `http://127.0.0.1:${port}`;
      expect((await fetch(`${base}/healthz`)).status).toBe(200);
      expect((await fetch(`${base}/readyz`)).status).toBe(200);
      const metrics = await (await fetch(`${base}/metrics`)).text();
      // The value of one series (labels in exposition order; namespaces are [a-z0-9-]).
      const series = (name: string, labels: string) =>
        new RegExp(`^${name}\\{${labels}\\} (\\S+)$`, 'm').exec(metrics)?.[1];
      expect(series('scaleswe_instances', `namespace="${namespace}",run="widgets",phase="Verified"`)).toBe(
        '5',
      );
      expect(series('scaleswe_mined_prs_total', `namespace="${namespace}",run="widgets"`)).toBe('5');
      expect(
        Number(series('scaleswe_stage_duration_seconds_count', 'stage="verify",outcome="succeeded"')),
      ).toBeGreaterThan(0);
      expect(metrics).toMatch(
        /^controller_runtime_reconcile_total\{controller="sweinstance",result="success"\} [1-9]\d*$/m,
      );
      expect(metrics).toMatch(/^workqueue_depth\{name="sweinstance",controller="sweinstance"\} 0$/m);
      expect(metrics).toMatch(
        /^controller_runtime_reconcile_time_seconds_count\{controller="curationrun"\} \d+$/m,
      );
      expect(metrics).toMatch(
        /^scaleswe_api_requests_total\{verb="create",resource="pods",code="200"\} 20$/m,
      );
      // Finished pods wait for their instance, then go in one request each instance; inputs
      // without a gateway token travel in the pods: no Secret requests at all.
      expect(metrics).toMatch(
        /^scaleswe_api_requests_total\{verb="deletecollection",resource="pods",code="200"\} 5$/m,
      );
      expect(metrics).not.toMatch(/^scaleswe_api_requests_total\{verb="delete",resource="pods"/m);
      expect(metrics).not.toMatch(/^scaleswe_api_requests_total\{verb="\w+",resource="secrets"/m);
      expect(metrics).toMatch(/^scaleswe_leader 1$/m);
      // Every reconcile log line names its object.
      const reconcileLines = op.logs.filter((l) => l.controller !== undefined);
      expect(reconcileLines.length).toBeGreaterThan(0);
      expect(
        reconcileLines.every(
          (l) =>
            typeof l.key === 'string' &&
            (l.key as string).startsWith(`${namespace}/`) &&
            typeof l.reconcileID === 'string',
        ),
      ).toBe(true);
      expect(op.logs.every((l) => typeof l.level === 'string')).toBe(true);
      const events = (
        await kube.list<{ reason: string; regarding: { kind: string } } & { metadata: object }>(
          EVENTS,
          namespace,
        )
      ).items;
      expect(events.filter((e) => e.reason === 'Verified')).toHaveLength(5);
      expect(events.some((e) => e.regarding.kind === 'CurationRun' && e.reason === 'Succeeded')).toBe(true);
    } finally {
      await kubelet.stop();
    }
  });

  it('a SIGKILLed operator is replaced mid-run without duplicate instances or pods', async () => {
    const { name: namespace } = ns();
    const kube = new Kube({ kubeconfig: cluster().kubeconfig });
    const repo = createSquashHistory(join(mkdtempSync(join(tmpdir(), 'op-it-')), 'repo.git'), 15);
    const first = operator(namespace, 'op-first');
    const kubelet = fakeKubelet(kube, namespace, undefined, 150);
    try {
      await kube.create(CURATIONRUNS, namespace, gitRun('restart', repo, { maxPRs: 12, maxParallel: 3 }));
      await poll('some instances verified', 60_000, async () => {
        const r = await runStatus(kube, namespace, 'restart');
        return (r.status?.counts?.verified ?? 0) >= 4 ? true : undefined;
      });
      first.proc.kill('SIGKILL');
      expect(await first.exited).toBe('SIGKILL');
      const second = operator(namespace, 'op-second');
      // The dead leader's lease must expire first (4 s), then the new one resumes from status.cursor.
      await second.waitForLog((l) => l.msg === 'became leader');
      const run = await poll('run Succeeded after restart', 120_000, async () => {
        const r = await runStatus(kube, namespace, 'restart');
        return r.status?.phase === 'Succeeded' ? r : undefined;
      });
      const instances = (
        await kube.list<SWEInstance & { metadata: { name: string } }>(SWEINSTANCES, namespace)
      ).items;
      const ids = instances.map((i) => i.spec.instanceId);
      expect(new Set(ids).size).toBe(12);
      expect(ids.sort()).toEqual(
        Array.from({ length: 12 }, (_, k) => `acme__widgets-${k + 4}`).sort(), // PRs 15..4, newest first
      );
      expect(run.status?.counts).toMatchObject({ discovered: 12, instances: 12, verified: 12, running: 0 });
      // One pod per stage per instance: nothing re-ran after the restart.
      for (const i of instances)
        expect(i.status?.attempts).toEqual({ env: 1, tests: 1, prompt: 1, verify: 1 });
      expect(kubelet.finished()).toBe(48);
    } finally {
      await kubelet.stop();
    }
  });
});
