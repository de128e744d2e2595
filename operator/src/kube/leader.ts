import type { Logger } from 'pino';
import { type Kube, type KubeObject, LEASES } from './client.ts';
import { isConflict, isNotFound } from './errors.ts';
import { microTime } from './events.ts';

interface Lease extends KubeObject {
  spec?: {
    holderIdentity?: string;
    leaseDurationSeconds?: number;
    acquireTime?: string;
    renewTime?: string;
    leaseTransitions?: number;
  };
}

export interface LeaderElectionOptions {
  kube: Kube;
  namespace: string;
  name: string;
  identity: string;
  leaseDurationSeconds?: number;
  /** The leader gives up if it could not renew for this long (must be < lease duration). */
  renewDeadlineSeconds?: number;
  retryPeriodSeconds?: number;
  log: Logger;
}

const sleep = (ms: number, signal?: AbortSignal) =>
  new Promise<void>((resolve) => {
    const timer = setTimeout(resolve, ms);
    signal?.addEventListener('abort', () => {
      clearTimeout(timer);
      resolve();
    });
  });

/**
 * client-go's Lease lock. A candidate takes the lease when it is free, released, or not
 * renewed for leaseDuration — measured on OUR clock from when we last saw the record
 * change, so clock skew between replicas does not matter. The leader renews every
 * retryPeriod and steps down (the process should exit) when it could not renew for
 * renewDeadline, which is shorter than the lease: two leaders never overlap.
 */
export class LeaderElector {
  private readonly opts: Required<LeaderElectionOptions>;
  private observed: { record: string; at: number } | undefined;
  private lease: Lease | undefined;
  private leading = false;
  private readonly abort = new AbortController();

  constructor(opts: LeaderElectionOptions) {
    this.opts = { leaseDurationSeconds: 15, renewDeadlineSeconds: 10, retryPeriodSeconds: 2, ...opts };
  }

  get isLeader(): boolean {
    return this.leading;
  }

  /**
   * Blocks until this replica leads (returns true), or the elector was stopped first
   * (returns false). Then keeps renewing in the background; `onLost` fires once if the
   * lease is lost.
   */
  async acquire(onLost: () => void): Promise<boolean> {
    const { retryPeriodSeconds, log } = this.opts;
    while (!this.abort.signal.aborted) {
      if (await this.tryAcquireOrRenew()) {
        this.leading = true;
        log.info({ lease: this.opts.name, identity: this.opts.identity }, 'became leader');
        void this.renewLoop(onLost);
        return true;
      }
      await sleep(retryPeriodSeconds * 1000 * (1 + Math.random() * 0.2), this.abort.signal);
    }
    return false;
  }

  private async renewLoop(onLost: () => void): Promise<void> {
    const { retryPeriodSeconds, renewDeadlineSeconds, log } = this.opts;
    let lastRenew = Date.now();
    while (!this.abort.signal.aborted) {
      await sleep(retryPeriodSeconds * 1000, this.abort.signal);
      if (this.abort.signal.aborted) return;
      if (await this.tryAcquireOrRenew()) {
        lastRenew = Date.now();
        continue;
      }
      if (Date.now() - lastRenew > renewDeadlineSeconds * 1000 || this.heldByOther()) {
        this.leading = false;
        log.error({ lease: this.opts.name }, 'lost leadership');
        onLost();
        return;
      }
    }
  }

  private heldByOther(): boolean {
    const holder = this.lease?.spec?.holderIdentity;
    return !!holder && holder !== this.opts.identity;
  }

  private async tryAcquireOrRenew(): Promise<boolean> {
    const { kube, namespace, name, identity, leaseDurationSeconds, log } = this.opts;
    const now = new Date();
    try {
      let lease: Lease;
      try {
        lease = await kube.get<Lease>(LEASES, namespace, name);
      } catch (err) {
        if (!isNotFound(err)) throw err;
        this.lease = await kube.create<Lease>(LEASES, namespace, {
          apiVersion: 'coordination.k8s.io/v1',
          kind: 'Lease',
          metadata: { name, namespace },
          spec: {
            holderIdentity: identity,
            leaseDurationSeconds,
            acquireTime: microTime(now),
            renewTime: microTime(now),
            leaseTransitions: 0,
          },
        });
        return true;
      }
      this.lease = lease;
      const spec = lease.spec ?? {};
      const record = JSON.stringify([spec.holderIdentity, spec.renewTime, spec.leaseDurationSeconds]);
      if (this.observed?.record !== record) this.observed = { record, at: Date.now() };
      const holder = spec.holderIdentity ?? '';
      const duration = (spec.leaseDurationSeconds ?? leaseDurationSeconds) * 1000;
      if (holder && holder !== identity && this.observed.at + duration > Date.now()) return false;
      const takeover = holder !== identity;
      this.lease = await kube.replace<Lease>(LEASES, {
        ...lease,
        spec: {
          holderIdentity: identity,
          leaseDurationSeconds,
          acquireTime: takeover ? microTime(now) : (spec.acquireTime ?? microTime(now)),
          renewTime: microTime(now),
          leaseTransitions: (spec.leaseTransitions ?? 0) + (takeover && holder ? 1 : 0),
        },
      });
      return true;
    } catch (err) {
      if (!isConflict(err)) log.warn({ lease: name, err: String(err) }, 'lease update failed');
      return false;
    }
  }

  /** Stops campaigning; a leader hands the lease back so a standby takes over at once. */
  async release(): Promise<void> {
    this.abort.abort();
    if (!this.leading || !this.lease) return;
    this.leading = false;
    const { kube, namespace, name, identity, log } = this.opts;
    let lease: Lease = this.lease;
    // A renewal in flight when we stopped may have moved the lease on: on a conflict, read it
    // again and release it if it is still ours.
    for (let attempt = 1; ; attempt++) {
      try {
        await kube.replace<Lease>(LEASES, {
          ...lease,
          spec: {
            ...lease.spec,
            holderIdentity: '',
            leaseDurationSeconds: 1,
            renewTime: microTime(new Date()),
          },
        });
        log.info({ lease: name }, 'released leadership');
        return;
      } catch (err) {
        let cause = err;
        if (isConflict(err) && attempt < 3) {
          try {
            lease = await kube.get<Lease>(LEASES, namespace, name);
            if (lease.spec?.holderIdentity === identity) continue;
            return; // someone else holds it already: nothing to release
          } catch (readErr) {
            cause = readErr;
          }
        }
        log.warn({ lease: name, err: String(cause) }, 'could not release the lease');
        return;
      }
    }
  }
}
