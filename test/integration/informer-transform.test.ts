// Informer transforms against the real API server: the cache holds the slim copy of listed and
// watched objects, and a status write made from that copy loses nothing the cache dropped
// (the status subresource replaces the status only: spec and metadata come from etcd).
import { describe, expect, it } from 'vitest';
import { SWEINSTANCES } from '../../operator/src/api/index.ts';
import { slimInstance } from '../../operator/src/controller/cache-transforms.ts';
import type { RawObject } from '../../operator/src/controller/resources.ts';
import { collectionPath, createLogger, Informer, Kube, updateStatus } from '../../operator/src/kube/index.ts';
import { cluster, poll, useTestNamespace } from './support.ts';

const ns = useTestNamespace('slim');
const log = createLogger({ level: 'silent' });

const instance = (name: string, pullNumber: number): RawObject => ({
  apiVersion: 'scaleswe.dev/v1alpha1',
  kind: 'SWEInstance',
  metadata: { name },
  spec: {
    instanceId: `a__b-${pullNumber}`,
    runRef: 'r',
    repo: 'a/b',
    cloneURL: '/srv/a/b.git',
    pullNumber,
    title: 'Fix the parser',
    body: 'A PR description the stages read. '.repeat(50),
    baseCommit: 'b'.repeat(40),
    patch: 'diff --git a/x b/x\n',
    createdAt: '2026-01-01T00:00:00Z',
    language: 'python',
  },
});

describe('Informer transform', () => {
  it('caches listed and watched objects slim; a status write from the slim copy keeps the rest', async () => {
    const { name: namespace } = ns();
    const kube = new Kube({ kubeconfig: cluster().kubeconfig });
    const phaseOf = (o: RawObject | undefined) => (o?.status as { phase?: string } | undefined)?.phase;
    const specOf = (o: RawObject | undefined) => o?.spec as { body?: string; title?: string } | undefined;

    // Finished before the informer starts: it arrives through the list.
    const listed = await kube.create<RawObject>(SWEINSTANCES, namespace, instance('listed', 1));
    await kube.replaceStatus(SWEINSTANCES, { ...listed, status: { phase: 'Verified' } });
    const watched = await kube.create<RawObject>(SWEINSTANCES, namespace, instance('watched', 2));

    const informer = new Informer<RawObject>({
      name: 'sweinstances',
      kube,
      path: collectionPath(SWEINSTANCES, namespace),
      list: () => kube.list<RawObject>(SWEINSTANCES, namespace),
      transform: slimInstance,
      log,
    });
    await informer.start();
    try {
      await informer.waitForSync();
      const fromList = informer.get(namespace, 'listed');
      expect(phaseOf(fromList)).toBe('Verified');
      expect(specOf(fromList)).not.toHaveProperty('body');
      expect(fromList?.metadata).not.toHaveProperty('managedFields');
      // In flight: whole.
      expect(specOf(informer.get(namespace, 'watched'))?.body).toMatch(/PR description/);

      // Finished while watched: the watch event is slimmed too.
      await kube.replaceStatus(SWEINSTANCES, { ...watched, status: { phase: 'Rejected' } });
      const fromWatch = await poll('the watched instance finished in the cache', 30_000, async () => {
        const o = informer.get(namespace, 'watched');
        return phaseOf(o) === 'Rejected' ? o : undefined;
      });
      expect(specOf(fromWatch)).not.toHaveProperty('body');
      expect(fromWatch.metadata).not.toHaveProperty('managedFields');

      // A status write from the slim cached copy: the server keeps the PR text.
      const write = await updateStatus(kube, SWEINSTANCES, fromWatch, (o) => ({
        ...(o.status as object),
        lastError: { reason: 'NoFailToPass', message: 'x', time: '2026-01-01T00:00:00Z' },
      }));
      expect(write.written).toBe(true);
      const server = await kube.get<RawObject>(SWEINSTANCES, namespace, 'watched');
      expect(specOf(server)?.title).toBe('Fix the parser');
      expect(specOf(server)?.body).toMatch(/PR description/);
      expect(phaseOf(server)).toBe('Rejected');
    } finally {
      await informer.stop();
    }
  });
});
