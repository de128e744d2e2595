import { type KubernetesObject, ListWatch } from '@kubernetes/client-node';
import type { Logger } from 'pino';
import { type Kube, type KubeObject, type ObjectList, withoutManagedFields } from './client.ts';
import { exponentialBackoffMs } from './rate-limit.ts';

export type InformerEvent = 'add' | 'update' | 'delete' | 'resync';
/** `previous` is the copy last handed to the handlers (for 'update': the object before it). */
export type InformerHandler<T> = (obj: T, event: InformerEvent, previous: T | undefined) => void;

export interface InformerOptions<T extends KubeObject> {
  name: string;
  kube: Kube;
  /** Collection path to watch, e.g. /apis/g/v/namespaces/ns/things. */
  path: string;
  list: () => Promise<ObjectList<T>>;
  labelSelector?: string;
  /** Every cached object is handed to the handlers again this often (missed events heal). */
  resyncMs?: number;
  log: Logger;
  /** Secondary indexes: name → object → index values. */
  indexers?: Record<string, (obj: T) => string[]>;
  /**
   * What the cache keeps of each object, applied to every listed and watched object before
   * it is cached (managedFields is always dropped first): the fields the reconcilers never
   * read go, so the cache does not grow with them. Must keep what the handlers, indexers and
   * reconcilers read, and may mutate its argument.
   */
  transform?: (obj: T) => T;
}

export function objectKey(obj: KubeObject): string {
  return `${obj.metadata.namespace ?? ''}/${obj.metadata.name ?? ''}`;
}

/**
 * List + watch into a cache, around the client's ListWatch, fixing what it leaves to us:
 * it stops for good on any error that is not a 410 (so we restart it with exponential
 * backoff), it never resyncs (so we do), and it has no indexes.
 */
export class Informer<T extends KubeObject> {
  // ListWatch wants the client's own object type; ours is a structural superset of it.
  private readonly lw: ListWatch<KubernetesObject>;
  private readonly handlers: InformerHandler<T>[] = [];
  private readonly indexes = new Map<string, Map<string, Set<string>>>();
  private readonly indexed = new Map<string, Map<string, string[]>>();
  /** The last copy dispatched per key, so update handlers can compare (predicates.ts). */
  private readonly previous = new Map<string, T>();
  private synced = false;
  private stopped = true;
  private failures = 0;
  private restartTimer: NodeJS.Timeout | undefined;
  private resyncTimer: NodeJS.Timeout | undefined;
  private readonly opts: InformerOptions<T>;
  readonly name: string;

  constructor(opts: InformerOptions<T>) {
    this.opts = opts;
    this.name = opts.name;
    const slim = (obj: T): T => {
      const lean = withoutManagedFields(obj);
      return opts.transform ? opts.transform(lean) : lean;
    };
    const list = async () => {
      const result = await opts.list();
      result.items = result.items.map(slim);
      this.failures = 0;
      // ListWatch fills its cache synchronously once this promise resolves.
      setImmediate(() => {
        this.synced = true;
      });
      return result as never;
    };
    this.lw = new ListWatch<KubernetesObject>(
      opts.path,
      opts.kube.watcher(slim as (obj: unknown) => unknown),
      list,
      false,
      opts.labelSelector,
    );
    for (const index of Object.keys(opts.indexers ?? {})) {
      this.indexes.set(index, new Map());
      this.indexed.set(index, new Map());
    }
    this.lw.on('add', (obj) => this.dispatch(obj as T, 'add'));
    this.lw.on('update', (obj) => this.dispatch(obj as T, 'update'));
    this.lw.on('delete', (obj) => this.dispatch(obj as T, 'delete'));
    this.lw.on('error', (err) => this.restartLater(err));
  }

  onEvent(handler: InformerHandler<T>): void {
    this.handlers.push(handler);
  }

  hasSynced(): boolean {
    return this.synced;
  }

  get(namespace: string, name: string): T | undefined {
    return this.lw.get(name, namespace) as T | undefined;
  }

  list(namespace?: string): readonly T[] {
    return this.lw.list(namespace) as readonly T[];
  }

  /** How many cached objects have `value` in `index` (without reading them). */
  indexSize(index: string, value: string): number {
    return this.indexes.get(index)?.get(value)?.size ?? 0;
  }

  byIndex(index: string, value: string): T[] {
    const keys = this.indexes.get(index)?.get(value);
    if (!keys) return [];
    const out: T[] = [];
    for (const key of keys) {
      const [namespace = '', name = ''] = key.split('/');
      const obj = this.get(namespace, name);
      if (obj) out.push(obj);
    }
    return out;
  }

  async start(): Promise<void> {
    this.stopped = false;
    const resyncMs = this.opts.resyncMs ?? 300_000;
    this.resyncTimer = setInterval(() => {
      for (const obj of this.list()) this.emit(obj, 'resync', obj);
    }, resyncMs);
    this.resyncTimer.unref();
    await this.startWatch();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.restartTimer);
    clearInterval(this.resyncTimer);
    await this.lw.stop();
  }

  /** Resolves once the first list landed in the cache (or rejects after `timeoutMs`). */
  async waitForSync(timeoutMs = 60_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!this.synced) {
      if (Date.now() > deadline) throw new Error(`informer ${this.name} did not sync within ${timeoutMs}ms`);
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  }

  private async startWatch(): Promise<void> {
    try {
      await this.lw.start();
    } catch (err) {
      this.restartLater(err);
    }
  }

  private restartLater(err: unknown): void {
    if (this.stopped || this.restartTimer) return;
    const delay = exponentialBackoffMs(this.failures++, 500, 30_000);
    this.opts.log.warn(
      { informer: this.name, err: String(err), retryInMs: delay },
      'watch stopped; restarting',
    );
    this.restartTimer = setTimeout(() => {
      this.restartTimer = undefined;
      if (!this.stopped) void this.startWatch();
    }, delay);
    this.restartTimer.unref();
  }

  private dispatch(obj: T, event: InformerEvent): void {
    this.reindex(obj, event === 'delete');
    const key = objectKey(obj);
    const previous = this.previous.get(key);
    if (event === 'delete') this.previous.delete(key);
    else this.previous.set(key, obj);
    this.emit(obj, event, previous);
  }

  private emit(obj: T, event: InformerEvent, previous: T | undefined): void {
    for (const handler of this.handlers) {
      try {
        handler(obj, event, previous);
      } catch (err) {
        this.opts.log.error({ informer: this.name, err }, 'event handler threw');
      }
    }
  }

  private reindex(obj: T, removed: boolean): void {
    const key = objectKey(obj);
    for (const [index, fn] of Object.entries(this.opts.indexers ?? {})) {
      const byValue = this.indexes.get(index)!;
      const previous = this.indexed.get(index)!;
      for (const value of previous.get(key) ?? []) byValue.get(value)?.delete(key);
      if (removed) {
        previous.delete(key);
        continue;
      }
      const values = fn(obj);
      previous.set(key, values);
      for (const value of values) {
        let keys = byValue.get(value);
        if (!keys) {
          keys = new Set();
          byValue.set(value, keys);
        }
        keys.add(key);
      }
    }
  }
}
