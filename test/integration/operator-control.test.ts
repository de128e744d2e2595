// The operator's control-plane behaviour on a real kube-apiserver: 409 conflicts re-read and
// re-applied, invalid specs rejected by the API server or reported as a condition, suspend and
// spec edits, infrastructure failures retried then recorded, leader election hand-over.
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { CurationRun, CurationRunStatus, SWEInstance } from '../../operator/src/api/index.ts';
import { CURATIONRUNS, SWEINSTANCES } from '../../operator/src/api/index.ts';
import type { RawObject } from '../../operator/src/controller/resources.ts';
import { errorMessage, Kube, LEASES, updateStatus } from '../../operator/src/kube/index.ts';
import { createSquashHistory } from './git-history.ts';
import { fakeKubelet, succeededResult, useOperators } from './operator-harness.ts';
import { cluster, poll, useTestNamespace } from './support.ts';

const ns = useTestNamespace('opc');
const operator = useOperators();

const kube = () => new Kube({ kubeconfig: cluster().kubeconfig });
const repoWith = (prs: number) =>
  createSquashHistory(join(mkdtempSync(join(tmpdir(), 'opc-')), 'repo.git'), prs);
type Run = CurationRun & { metadata: { name: string } };

function gitRun(name: string, url: string, spec: Record<string, unknown> = {}) {
  return {
    apiVersion: 'scaleswe.dev/v1alpha1',
    kind: 'CurationRun',
    metadata: { name },
    spec: { source: { git: { url, repo: 'acme/widgets' } }, limits: { maxPRs: 2, maxParallel: 1 }, ...spec },
  };
}

describe('status writes', () => {
  it('a 409 conflict is re-read and re-applied on the fresh object, never lost', async () => {
    const { name: namespace } = ns();
    const k = kube();
    const created = await k.create<RawObject>(CURATIONRUNS, namespace, gitRun('conflict', '/nowhere/x.git'));
    // Someone else writes status after we read: our copy is stale.
    const stale = created;
    await updateStatus(k, CURATIONRUNS, created, () => ({
      progress: '1/2',
      startedAt: '2026-01-01T00:00:00Z',
    }));
    let conflicts = 0;
    const result = await updateStatus(
      k,
      CURATIONRUNS,
      stale,
      (obj) => ({ ...(obj.status as CurationRunStatus), phase: 'Mining' }),
      { onConflict: () => conflicts++ },
    );
    expect(conflicts).toBe(1);
    expect(result).toMatchObject({ written: true, conflicts: 1 });
    const stored = await k.get<Run>(CURATIONRUNS, namespace, 'conflict');
    // Both writers' fields survive: the retry applied our change to the other writer's status.
    expect(stored.status).toMatchObject({
      phase: 'Mining',
      progress: '1/2',
      startedAt: '2026-01-01T00:00:00Z',
    });

    // An unchanged status costs no request at all.
    const before = k.requests.total;
    const again = await updateStatus(k, CURATIONRUNS, stored as RawObject, (obj) => ({
      ...(obj.status as object),
    }));
    expect(again.written).toBe(false);
    expect(k.requests.total).toBe(before);
  });
});

describe('invalid specs', () => {
  it('the API server rejects a spec breaking a CEL rule, with the field and message', async () => {
    const { name: namespace } = ns();
    const err = await kube()
      .create(CURATIONRUNS, namespace, gitRun('bad', '/x/y.git', { limits: { maxPRs: 2, maxParallel: 5 } }))
      .catch((e: unknown) => e);
    expect((err as { code?: number }).code).toBe(422);
    expect(errorMessage(err)).toContain('limits.maxParallel must not exceed limits.maxPRs');
    expect(errorMessage(err)).toContain('spec.limits.maxParallel');
    // maxPRs alone, below the default parallelism, is valid (no default is checked against it).
    await kube().create(CURATIONRUNS, namespace, gitRun('small', '/x/y.git', { limits: { maxPRs: 2 } }));
  });

  it('a source the operator cannot use fails the run with a condition, and is not retried', async () => {
    const { name: namespace } = ns();
    const k = kube();
    const op = operator(namespace, 'op-invalid');
    // Valid for the schema, but no owner/name can be derived from the URL.
    await k.create(CURATIONRUNS, namespace, {
      ...gitRun('nosource', 'repo.git'),
      spec: { source: { git: { url: 'repo.git' } } },
    });
    const run = await poll('run Failed', 30_000, async () => {
      const r = await k.get<Run>(CURATIONRUNS, namespace, 'nosource');
      return r.status?.phase === 'Failed' ? r : undefined;
    });
    expect(run.status?.conditions?.find((c) => c.type === 'Ready')).toMatchObject({
      status: 'False',
      reason: 'InvalidSource',
      observedGeneration: 1,
    });
    expect(run.status?.conditions?.find((c) => c.type === 'Ready')?.message).toContain('owner/name');
    await new Promise((r) => setTimeout(r, 1500));
    const terminal = op.logs.filter(
      (l) => l.msg === 'terminal error; not retrying' && l.key === `${namespace}/nosource`,
    );
    expect(terminal).toHaveLength(1);
    expect(op.logs.every((l) => l.msg !== 'reconcile failed')).toBe(true);
  });
});

describe('run lifecycle', () => {
  it('suspend pauses without losing progress; un-suspending (a spec edit) resumes and bumps observedGeneration', async () => {
    const { name: namespace } = ns();
    const k = kube();
    operator(namespace, 'op-suspend');
    const kubelet = fakeKubelet(k, namespace);
    try {
      await k.create(
        CURATIONRUNS,
        namespace,
        gitRun('paused', repoWith(3), { suspend: true, limits: { maxPRs: 3, maxParallel: 1 } }),
      );
      const suspended = await poll('Suspended', 30_000, async () => {
        const r = await k.get<Run>(CURATIONRUNS, namespace, 'paused');
        return r.status?.phase === 'Suspended' ? r : undefined;
      });
      expect(suspended.status?.conditions?.find((c) => c.type === 'Ready')).toMatchObject({
        status: 'False',
        reason: 'Suspended',
      });
      expect((await k.list(SWEINSTANCES, namespace)).items).toHaveLength(0);

      await k.patch(CURATIONRUNS, namespace, 'paused', [
        { op: 'replace', path: '/spec/suspend', value: false },
      ]);
      const done = await poll('Succeeded', 60_000, async () => {
        const r = await k.get<Run>(CURATIONRUNS, namespace, 'paused');
        return r.status?.phase === 'Succeeded' ? r : undefined;
      });
      expect(done.metadata.generation).toBe(2);
      expect(done.status).toMatchObject({ observedGeneration: 2, counts: { instances: 3, verified: 3 } });
    } finally {
      await kubelet.stop();
    }
  });

  it('infrastructure failures are retried with backoff, then recorded with their reason', async () => {
    const { name: namespace } = ns();
    const k = kube();
    operator(namespace, 'op-failures');
    // PR 2's env pods are OOMKilled every time; PR 1's first env pod is evicted once.
    let evicted = false;
    const kubelet = fakeKubelet(k, namespace, ({ name, stage }) => {
      if (stage === 'env' && name.includes('widgets-2-'))
        return { phase: 'Failed', reason: 'OOMKilled', exitCode: 137 };
      if (stage === 'env' && name.includes('widgets-1-') && !evicted) {
        evicted = true;
        return { phase: 'Failed', reason: 'Error', exitCode: 3, message: 'agent crashed' };
      }
      return { phase: 'Succeeded', result: succeededResult(stage) };
    });
    try {
      await k.create(
        CURATIONRUNS,
        namespace,
        gitRun('flaky', repoWith(2), { agents: { maxAttempts: 2 }, limits: { maxPRs: 2, maxParallel: 2 } }),
      );
      const run = await poll('Succeeded', 90_000, async () => {
        const r = await k.get<Run>(CURATIONRUNS, namespace, 'flaky');
        return r.status?.phase === 'Succeeded' ? r : undefined;
      });
      expect(run.status).toMatchObject({
        counts: { verified: 1, failed: 1 },
        failedByReason: { OOMKilled: 1 },
      });
      const failed = await k.get<SWEInstance & { metadata: { name: string } }>(
        SWEINSTANCES,
        namespace,
        'flaky.acme.widgets-2',
      );
      expect(failed.status).toMatchObject({
        phase: 'Failed',
        attempts: { env: 2 },
        lastError: { stage: 'env', reason: 'OOMKilled' },
      });
      const retried = await k.get<SWEInstance & { metadata: { name: string } }>(
        SWEINSTANCES,
        namespace,
        'flaky.acme.widgets-1',
      );
      expect(retried.status).toMatchObject({ phase: 'Verified', attempts: { env: 2, tests: 1 } });
    } finally {
      await kubelet.stop();
    }
  });
});

describe('leader election', () => {
  it('exactly one replica reconciles; a standby takes over when the leader dies, and at once on SIGTERM', async () => {
    const { name: namespace } = ns();
    const k = kube();
    const a = operator(namespace, 'replica-a');
    await a.waitForLog((l) => l.msg === 'became leader');
    const b = operator(namespace, 'replica-b');
    const kubelet = fakeKubelet(k, namespace, undefined, 200);
    try {
      await k.create(
        CURATIONRUNS,
        namespace,
        gitRun('ha', repoWith(8), { limits: { maxPRs: 8, maxParallel: 2 } }),
      );
      await poll('work started', 30_000, async () =>
        (await k.list(SWEINSTANCES, namespace)).items.length > 0 ? true : undefined,
      );
      // The leader reconciles instances; meanwhile the standby campaigns but never reconciles.
      await a.waitForLog((l) => l.controller === 'sweinstance');
      await new Promise((r) => setTimeout(r, 1500)); // a window for the standby to misbehave in
      expect(b.logs.some((l) => l.msg === 'became leader' || typeof l.controller === 'string')).toBe(false);

      type Lease = RawObject & {
        spec: { holderIdentity: string; leaseTransitions: number; renewTime: string; acquireTime: string };
      };
      a.proc.kill('SIGKILL');
      await a.exited;
      const dead = await k.get<Lease>(LEASES, namespace, 'scaleswe-operator');
      expect(dead.spec.holderIdentity).toBe('replica-a');
      await b.waitForLog((l) => l.msg === 'became leader');
      const lease = await k.get<Lease>(LEASES, namespace, 'scaleswe-operator');
      expect(lease.spec).toMatchObject({ holderIdentity: 'replica-b', leaseTransitions: 1 });
      // Safe: not before the dead leader's lease (4 s) ran out. (How soon after depends on
      // the machine's load, so it is not asserted: liveness is the takeover itself.)
      const gap = Date.parse(lease.spec.acquireTime) - Date.parse(dead.spec.renewTime);
      expect(gap).toBeGreaterThanOrEqual(4_000);

      // A graceful leader releases the lease: the next standby does not wait for expiry.
      const c = operator(namespace, 'replica-c');
      await c.waitForLog((l) => l.msg === 'operator starting');
      await new Promise((r) => setTimeout(r, 1000));
      b.proc.kill('SIGTERM');
      expect(await b.exited).toBe(0);
      expect(b.logs.some((l) => l.msg === 'released leadership')).toBe(true);
      // Released, not left to expire: by the time b has exited the lease is free (a 1 s
      // lease with no holder) or already c's — never still b's with its 4 s duration.
      const released = await k.get<Lease>(LEASES, namespace, 'scaleswe-operator');
      expect(['', 'replica-c']).toContain(released.spec.holderIdentity);
      await c.waitForLog((l) => l.msg === 'became leader');

      const run = await poll('Succeeded under the third leader', 90_000, async () => {
        const r = await k.get<Run>(CURATIONRUNS, namespace, 'ha');
        return r.status?.phase === 'Succeeded' ? r : undefined;
      });
      expect(run.status?.counts).toMatchObject({ instances: 8, verified: 8 });
    } finally {
      await kubelet.stop();
    }
  });
});
