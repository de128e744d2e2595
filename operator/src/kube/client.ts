import * as k8s from '@kubernetes/client-node';
import type { OwnerReference } from '../api/index.ts';
import { TokenBucket } from './rate-limit.ts';

/** What every Kubernetes object has; specs and statuses are typed by the callers. */
export interface KubeObject {
  apiVersion?: string;
  kind?: string;
  metadata: {
    name?: string;
    namespace?: string;
    uid?: string;
    resourceVersion?: string;
    generation?: number;
    labels?: Record<string, string>;
    annotations?: Record<string, string>;
    ownerReferences?: OwnerReference[];
    creationTimestamp?: Date | string;
    deletionTimestamp?: Date | string;
  };
}

export interface ObjectList<T> {
  items: T[];
  metadata?: { resourceVersion?: string; continue?: string };
}

/** A resource served by an API group (our CRDs, leases, events); the core group has its own calls. */
export interface GroupResource {
  group: string;
  version: string;
  plural: string;
  kind: string;
}

export const LEASES: GroupResource = {
  group: 'coordination.k8s.io',
  version: 'v1',
  plural: 'leases',
  kind: 'Lease',
};
export const EVENTS: GroupResource = {
  group: 'events.k8s.io',
  version: 'v1',
  plural: 'events',
  kind: 'Event',
};

export const ENDPOINT_SLICES: GroupResource = {
  group: 'discovery.k8s.io',
  version: 'v1',
  plural: 'endpointslices',
  kind: 'EndpointSlice',
};

export function apiVersionOf(r: GroupResource): string {
  return r.group ? `${r.group}/${r.version}` : r.version;
}

/** The list/watch path of a resource, in one namespace or all. */
export function collectionPath(r: GroupResource | 'pods', namespace?: string): string {
  if (r === 'pods') return namespace ? `/api/v1/namespaces/${namespace}/pods` : '/api/v1/pods';
  const base = `/apis/${r.group}/${r.version}`;
  return namespace ? `${base}/namespaces/${namespace}/${r.plural}` : `${base}/${r.plural}`;
}

/**
 * client-node 2.0.1 builds a new undici Agent for every request: a TLS handshake per call and
 * agents piling up in memory (at 2,000 instances: seconds of CPU and hundreds of MiB). One
 * dispatcher per cluster/user keeps connections alive and reused, as client-go does.
 */
function reuseConnections(config: k8s.KubeConfig): void {
  const target = config as unknown as { createDispatcher: (cluster: unknown, opts: unknown) => unknown };
  const original = target.createDispatcher.bind(config);
  const cache = new Map<string, unknown>();
  target.createDispatcher = (cluster, opts) => {
    const c = cluster as { name?: string; server?: string } | null;
    const key = JSON.stringify([c?.name, c?.server, config.getCurrentUser()?.name]);
    if (!cache.has(key)) cache.set(key, original(cluster, opts));
    return cache.get(key);
  };
}

/**
 * managedFields (server-side apply bookkeeping) is often the largest part of an object and
 * the operator never reads it: informer caches drop it.
 */
export function withoutManagedFields<T>(obj: T): T {
  const meta = (obj as { metadata?: { managedFields?: unknown } } | undefined)?.metadata;
  if (meta && 'managedFields' in meta) delete meta.managedFields;
  return obj;
}

export interface KubeOptions {
  /** Path of a kubeconfig; default: KUBECONFIG, ~/.kube/config, then in-cluster. */
  kubeconfig?: string;
  /** Client-side request rate limit (client-go's QPS/Burst), so a burst of work cannot flood the API server. */
  qps?: number;
  burst?: number;
  onRequest?: (verb: string, resource: string, code: number) => void;
}

/**
 * The one place that talks to the API server. Every call is rate limited and counted
 * (verb, resource, HTTP code), which the metrics and the benchmark read.
 */
export class Kube {
  readonly config: k8s.KubeConfig;
  readonly requests = { total: 0, byVerb: new Map<string, number>() };
  private readonly core: k8s.CoreV1Api;
  private readonly custom: k8s.CustomObjectsApi;
  private readonly bucket: TokenBucket;
  private readonly onRequest: KubeOptions['onRequest'];

  constructor(opts: KubeOptions = {}) {
    this.config = new k8s.KubeConfig();
    if (opts.kubeconfig) this.config.loadFromFile(opts.kubeconfig);
    else this.config.loadFromDefault();
    reuseConnections(this.config);
    this.core = this.config.makeApiClient(k8s.CoreV1Api);
    this.custom = this.config.makeApiClient(k8s.CustomObjectsApi);
    this.bucket = new TokenBucket(opts.qps ?? 50, opts.burst ?? 100);
    this.onRequest = opts.onRequest;
  }

  get server(): string {
    return this.config.getCurrentCluster()?.server ?? '';
  }

  /** The current context's namespace, as kubectl uses it when no -n is given. */
  get contextNamespace(): string | undefined {
    return this.config.getContextObject(this.config.getCurrentContext())?.namespace || undefined;
  }

  /** Rate limits, counts and reports one API request. */
  async call<T>(verb: string, resource: string, fn: () => Promise<T>): Promise<T> {
    await this.bucket.take();
    this.requests.total++;
    const key = `${verb} ${resource}`;
    this.requests.byVerb.set(key, (this.requests.byVerb.get(key) ?? 0) + 1);
    try {
      const result = await fn();
      this.onRequest?.(verb, resource, 200);
      return result;
    } catch (err) {
      const code = (err as { code?: unknown }).code;
      this.onRequest?.(verb, resource, typeof code === 'number' ? code : 0);
      throw err;
    }
  }

  // Objects of API groups (CRDs, leases, events): plain JSON in, plain JSON out.

  get<T extends KubeObject>(r: GroupResource, namespace: string, name: string): Promise<T> {
    const { group, version, plural } = r;
    return this.call('get', plural, () =>
      this.custom.getNamespacedCustomObject({ group, version, plural, namespace, name }),
    );
  }

  list<T extends KubeObject>(
    r: GroupResource,
    namespace: string | undefined,
    opts: { labelSelector?: string } = {},
  ): Promise<ObjectList<T>> {
    const { group, version, plural } = r;
    return this.call('list', plural, () =>
      namespace
        ? this.custom.listNamespacedCustomObject({ group, version, plural, namespace, ...opts })
        : this.custom.listCustomObjectForAllNamespaces({ group, version, resourcePlural: plural, ...opts }),
    );
  }

  create<T extends KubeObject>(r: GroupResource, namespace: string, body: object): Promise<T> {
    const { group, version, plural } = r;
    return this.call('create', plural, () =>
      this.custom.createNamespacedCustomObject({ group, version, plural, namespace, body }),
    );
  }

  /** PUT with the body's resourceVersion: optimistic concurrency, 409 when someone wrote first. */
  replace<T extends KubeObject>(r: GroupResource, body: T): Promise<T> {
    const { group, version, plural } = r;
    const { name = '', namespace = '' } = body.metadata;
    return this.call('update', plural, () =>
      this.custom.replaceNamespacedCustomObject({ group, version, plural, namespace, name, body }),
    );
  }

  /** PUT to the status subresource: spec and metadata in the body are ignored by the server. */
  replaceStatus<T extends KubeObject>(r: GroupResource, body: T): Promise<T> {
    const { group, version, plural } = r;
    const { name = '', namespace = '' } = body.metadata;
    return this.call('update/status', plural, () =>
      this.custom.replaceNamespacedCustomObjectStatus({ group, version, plural, namespace, name, body }),
    );
  }

  /** RFC 6902 JSON patch of the main resource (spec edits, labels). */
  patch<T extends KubeObject>(
    r: GroupResource,
    namespace: string,
    name: string,
    ops: Array<{ op: string; path: string; value?: unknown }>,
  ): Promise<T> {
    const { group, version, plural } = r;
    return this.call('patch', plural, () =>
      this.custom.patchNamespacedCustomObject({ group, version, plural, namespace, name, body: ops }),
    );
  }

  async delete(r: GroupResource, namespace: string, name: string): Promise<void> {
    const { group, version, plural } = r;
    await this.call('delete', plural, () =>
      this.custom.deleteNamespacedCustomObject({ group, version, plural, namespace, name }),
    );
  }

  // Core objects.

  async createPod(namespace: string, body: object): Promise<k8s.V1Pod> {
    return this.call('create', 'pods', () =>
      this.core.createNamespacedPod({ namespace, body: body as k8s.V1Pod }),
    );
  }

  async getPod(namespace: string, name: string): Promise<k8s.V1Pod> {
    return this.call('get', 'pods', () => this.core.readNamespacedPod({ namespace, name }));
  }

  async deletePod(namespace: string, name: string): Promise<void> {
    await this.call('delete', 'pods', () =>
      this.core.deleteNamespacedPod({ namespace, name, gracePeriodSeconds: 0 }),
    );
  }

  /**
   * Deletes every pod of `namespace` that `labelSelector` matches, in one request (the
   * `deletecollection` verb): a finished instance's sandbox pods go together. A consistent
   * list (no resourceVersion): with resourceVersion 0 the watch cache may not have seen the
   * last pod yet, and it would stay until the next resync.
   */
  async deletePods(namespace: string, labelSelector: string): Promise<void> {
    await this.call('deletecollection', 'pods', () =>
      this.core.deleteCollectionNamespacedPod({ namespace, labelSelector, gracePeriodSeconds: 0 }),
    );
  }

  listPods(namespace: string | undefined, labelSelector?: string): Promise<ObjectList<k8s.V1Pod>> {
    return this.call('list', 'pods', () =>
      namespace
        ? this.core.listNamespacedPod({ namespace, ...(labelSelector && { labelSelector }) })
        : this.core.listPodForAllNamespaces({ ...(labelSelector && { labelSelector }) }),
    ) as Promise<ObjectList<k8s.V1Pod>>;
  }

  /** The tail of a container's log (pods/log; needs a kubelet). */
  readPodLog(namespace: string, name: string, container: string, limitBytes: number): Promise<string> {
    return this.call('get/log', 'pods', () =>
      this.core.readNamespacedPodLog({ namespace, name, container, limitBytes }),
    );
  }

  /** Replaces a pod's status: the kubelet's job, done by tests and the benchmark without one. */
  async setPodStatus(namespace: string, name: string, status: k8s.V1PodStatus): Promise<k8s.V1Pod> {
    const pod = await this.getPod(namespace, name);
    pod.status = status;
    return this.call('update/status', 'pods', () =>
      this.core.replaceNamespacedPodStatus({ namespace, name, body: pod }),
    );
  }

  async readSecretKey(namespace: string, name: string, key: string): Promise<string | undefined> {
    const secret = await this.call('get', 'secrets', () =>
      this.core.readNamespacedSecret({ namespace, name }),
    );
    const value = secret.data?.[key];
    return value === undefined ? secret.stringData?.[key] : Buffer.from(value, 'base64').toString('utf8');
  }

  async createSecret(namespace: string, name: string, stringData: Record<string, string>): Promise<void> {
    await this.call('create', 'secrets', () =>
      this.core.createNamespacedSecret({ namespace, body: { metadata: { name }, stringData } }),
    );
  }

  /** Creates a Secret from a full manifest (owner references, labels, data). */
  async createSecretObject(namespace: string, body: object): Promise<k8s.V1Secret> {
    return this.call('create', 'secrets', () =>
      this.core.createNamespacedSecret({ namespace, body: body as k8s.V1Secret }),
    );
  }

  async readSecret(namespace: string, name: string): Promise<k8s.V1Secret> {
    return this.call('get', 'secrets', () => this.core.readNamespacedSecret({ namespace, name }));
  }

  /** A whole Secret's data, decoded (undefined when it does not exist). */
  async getSecret(namespace: string, name: string): Promise<Record<string, string> | undefined> {
    try {
      const secret = await this.call('get', 'secrets', () =>
        this.core.readNamespacedSecret({ namespace, name }),
      );
      const data: Record<string, string> = { ...secret.stringData };
      for (const [k, v] of Object.entries(secret.data ?? {}))
        data[k] = Buffer.from(v, 'base64').toString('utf8');
      return data;
    } catch (err) {
      if ((err as { code?: unknown }).code === 404) return undefined;
      throw err;
    }
  }

  /** A Service's cluster IP (undefined when headless) and the port named `portName`. */
  async getServiceAddress(
    namespace: string,
    name: string,
    portName: string,
  ): Promise<{ clusterIP: string | undefined; port: number | undefined }> {
    const svc = await this.call('get', 'services', () =>
      this.core.readNamespacedService({ namespace, name }),
    );
    const ip = svc.spec?.clusterIP;
    return {
      clusterIP: ip && ip !== 'None' ? ip : undefined,
      port: svc.spec?.ports?.find((p) => p.name === portName)?.port,
    };
  }

  async createConfigMap(namespace: string, body: k8s.V1ConfigMap): Promise<k8s.V1ConfigMap> {
    return this.call('create', 'configmaps', () => this.core.createNamespacedConfigMap({ namespace, body }));
  }

  async getConfigMap(namespace: string, name: string): Promise<k8s.V1ConfigMap> {
    return this.call('get', 'configmaps', () => this.core.readNamespacedConfigMap({ namespace, name }));
  }

  /** PUT with the body's resourceVersion (409 when someone wrote first). */
  async replaceConfigMap(namespace: string, body: k8s.V1ConfigMap): Promise<k8s.V1ConfigMap> {
    const name = body.metadata?.name ?? '';
    return this.call('update', 'configmaps', () =>
      this.core.replaceNamespacedConfigMap({ namespace, name, body }),
    );
  }

  listConfigMaps(namespace: string, labelSelector?: string): Promise<ObjectList<k8s.V1ConfigMap>> {
    return this.call('list', 'configmaps', () =>
      this.core.listNamespacedConfigMap({ namespace, ...(labelSelector && { labelSelector }) }),
    ) as Promise<ObjectList<k8s.V1ConfigMap>>;
  }

  async createNamespace(name: string, labels: Record<string, string> = {}): Promise<void> {
    await this.call('create', 'namespaces', () =>
      this.core.createNamespace({ body: { metadata: { name, labels } } }),
    );
  }

  /** A Watch whose connections are counted like any request; `transform` slims each object it delivers. */
  watcher(transform: (obj: unknown) => unknown = withoutManagedFields): k8s.Watch {
    const kube = this;
    return new (class extends k8s.Watch {
      override watch(
        path: string,
        query: Record<string, string | number | boolean | undefined>,
        cb: (phase: string, obj: unknown, watchObj?: unknown) => void,
        done: (err: unknown) => void,
      ): Promise<AbortController> {
        // ERROR events carry a Status, not an object: handed on as they are.
        const slim = (phase: string, obj: unknown, watchObj?: unknown) =>
          cb(phase, phase === 'ERROR' || phase === 'BOOKMARK' ? obj : transform(obj), watchObj);
        return kube.call('watch', path.split('/').pop() ?? path, () => super.watch(path, query, slim, done));
      }
    })(this.config);
  }
}
