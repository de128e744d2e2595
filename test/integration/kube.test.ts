// kube/ against the real API server: informers survive errors (they restart with backoff
// where the client's informer would stop for good) and resync their cache periodically.
import { randomBytes } from 'node:crypto';
import { afterAll, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import {
  collectionPath,
  createLogger,
  type GroupResource,
  Informer,
  Kube,
  type KubeObject,
} from '../../operator/src/kube/index.ts';
import { cluster, kubectl, poll, useTestNamespace } from './support.ts';

const ns = useTestNamespace('kube');
const log = createLogger({ level: 'silent' });
const group = `it${randomBytes(3).toString('hex')}.scaleswe.dev`;
const WIDGETS: GroupResource = { group, version: 'v1', plural: 'widgets', kind: 'Widget' };

function widgetCrd(): string {
  return stringify({
    apiVersion: 'apiextensions.k8s.io/v1',
    kind: 'CustomResourceDefinition',
    metadata: { name: `widgets.${group}` },
    spec: {
      group,
      scope: 'Namespaced',
      names: { plural: 'widgets', singular: 'widget', kind: 'Widget', listKind: 'WidgetList' },
      versions: [
        {
          name: 'v1',
          served: true,
          storage: true,
          schema: { openAPIV3Schema: { type: 'object', 'x-kubernetes-preserve-unknown-fields': true } },
        },
      ],
    },
  });
}

afterAll(() => {
  kubectl(['delete', 'crd', `widgets.${group}`, '--wait=false']);
});

describe('Informer', () => {
  it('keeps retrying a failing list (404: the resource does not exist yet) and syncs once it does', async () => {
    const { name: namespace } = ns();
    const kube = new Kube({ kubeconfig: cluster().kubeconfig });
    const seen: string[] = [];
    const informer = new Informer<KubeObject>({
      name: 'widgets',
      kube,
      path: collectionPath(WIDGETS, namespace),
      list: () => kube.list(WIDGETS, namespace),
      log,
    });
    informer.onEvent((obj, event) => seen.push(`${event}:${obj.metadata.name}`));
    await informer.start();
    try {
      // It retried instead of giving up: a second failed list, however long the machine takes.
      await poll('a second failed list', 60_000, async () =>
        (kube.requests.byVerb.get('list widgets') ?? 0) >= 2 ? true : undefined,
      );
      expect(informer.hasSynced()).toBe(false);

      const applied = kubectl(['apply', '-f', '-'], widgetCrd());
      expect(applied.code, applied.stderr).toBe(0);
      expect(
        kubectl(['wait', '--for=condition=Established', `crd/widgets.${group}`, '--timeout=30s']).code,
      ).toBe(0);
      await poll('widget create', 30_000, async () =>
        kube
          .create(WIDGETS, namespace, { apiVersion: `${group}/v1`, kind: 'Widget', metadata: { name: 'w1' } })
          .then(
            () => true,
            () => undefined,
          ),
      );
      await poll('informer synced with w1', 60_000, async () =>
        informer.get(namespace, 'w1') ? true : undefined,
      );
      expect(seen).toContain('add:w1');
      // And it watches: a later object arrives without a relist.
      const lists = kube.requests.byVerb.get('list widgets') ?? 0;
      await kube.create(WIDGETS, namespace, {
        apiVersion: `${group}/v1`,
        kind: 'Widget',
        metadata: { name: 'w2' },
      });
      await poll('w2 via watch', 10_000, async () => (informer.get(namespace, 'w2') ? true : undefined));
      expect(kube.requests.byVerb.get('list widgets')).toBe(lists);
    } finally {
      await informer.stop();
    }
  });

  it('resyncs: every cached object is handed to the handlers again', async () => {
    const { name: namespace } = ns();
    const kube = new Kube({ kubeconfig: cluster().kubeconfig });
    const pods = new Informer<KubeObject>({
      name: 'pods',
      kube,
      path: collectionPath('pods', namespace),
      list: () => kube.listPods(namespace) as never,
      resyncMs: 300,
      log,
    });
    await kube.createPod(namespace, {
      metadata: { name: 'p1' },
      spec: { containers: [{ name: 'c', image: 'x' }] },
    });
    let resyncs = 0;
    pods.onEvent((_obj, event) => {
      if (event === 'resync') resyncs++;
    });
    await pods.start();
    try {
      await pods.waitForSync();
      await poll('two resyncs', 10_000, async () => (resyncs >= 2 ? true : undefined));
    } finally {
      await pods.stop();
    }
  });
});
