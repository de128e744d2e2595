// Removes the dataset-store objects of deleted SWEInstances (content and trajectories), on an
// interval, on the leader. Deleting an instance (or its run, which owns it) deletes its data, as
// it would if the data were in etcd; which objects go is store/store-gc.ts's decision.
import type { Informer, Logger } from '../kube/index.ts';
import type { DatasetStore } from '../store/dataset-store.ts';
import { sweepDecision } from '../store/store-gc.ts';
import type { RawObject } from './resources.ts';

export class StoreSweeper {
  private missing: ReadonlySet<string> = new Set();
  private timer: NodeJS.Timeout | undefined;
  private sweeping: Promise<unknown> | undefined;
  private readonly opts: {
    store: DatasetStore;
    instances: Informer<RawObject>;
    /** The watched namespace; undefined = all. */
    namespace: string | undefined;
    log: Logger;
  };

  constructor(opts: StoreSweeper['opts']) {
    this.opts = opts;
  }

  start(intervalMs: number): void {
    if (intervalMs <= 0 || this.timer) return;
    this.timer = setInterval(() => {
      this.sweeping ??= this.sweep()
        .catch((err: unknown) =>
          this.opts.log.warn({ err: String(err) }, 'dataset store sweep failed; trying again next interval'),
        )
        .finally(() => {
          this.sweeping = undefined;
        });
    }, intervalMs);
    this.timer.unref();
  }

  /** One sweep; returns how many objects it removed. */
  async sweep(): Promise<number> {
    const { store, instances, namespace, log } = this.opts;
    const scope = namespace === undefined ? '' : `${namespace}/`;
    const keys = [
      ...(await store.list(`instances/${scope}`)),
      ...(await store.list(`trajectories/${scope}`)),
    ];
    const { remove, missing } = sweepDecision(
      keys,
      (i) => instances.get(i.namespace, i.name) !== undefined,
      this.missing,
    );
    for (const key of remove) await store.delete(key);
    this.missing = missing;
    if (remove.length)
      log.info({ removed: remove.length }, 'dataset store: removed the objects of deleted instances');
    return remove.length;
  }

  async stop(): Promise<void> {
    clearInterval(this.timer);
    this.timer = undefined;
    await this.sweeping;
  }
}
