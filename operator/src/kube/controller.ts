import { randomUUID } from 'node:crypto';
import type { Logger } from 'pino';
import { errorMessage, type ReconcileResult, TerminalError } from './errors.ts';
import type { OperatorMetrics, ReconcileResultLabel } from './metrics.ts';
import { WORK_QUEUE_DEFAULTS, WorkQueue, type WorkQueueOptions } from './queue.ts';

export type Reconcile = (key: string, log: Logger) => Promise<ReconcileResult | undefined>;

export interface ControllerOptions {
  name: string;
  reconcile: Reconcile;
  /** Records a TerminalError on the object (a condition); called instead of retrying. */
  onTerminal?: (key: string, err: TerminalError, log: Logger) => Promise<void>;
  queue?: WorkQueueOptions;
  metrics: OperatorMetrics;
  log: Logger;
}

/**
 * Runs a reconciler over a work queue with controller-runtime's contract:
 *   ok                → forget the key's failures; requeue after `requeueAfterMs` if asked
 *   TerminalError     → record it on the object (onTerminal), do not retry
 *   any other error   → retry with per-key exponential backoff
 * Every log line of a reconcile carries the object key and a `reconcileID` of its own (as
 * controller-runtime's), so the lines of one reconcile can be told from the next one's.
 * Metrics: controller_runtime_* (result success | error | requeue | requeue_after; a
 * TerminalError is an error, also counted as terminal) and the queue's workqueue_*.
 */
export class Controller {
  readonly name: string;
  readonly queue: WorkQueue;
  private readonly opts: ControllerOptions;

  constructor(opts: ControllerOptions) {
    this.opts = opts;
    this.name = opts.name;
    // Read at scrape time, when the queue exists.
    const hooks = opts.metrics.addController(opts.name, {
      maxConcurrentReconciles: { ...WORK_QUEUE_DEFAULTS, ...opts.queue }.concurrency,
      depth: () => this.queue.depth,
      activeWorkers: () => this.queue.inFlight,
      inFlightSeconds: () => this.queue.inFlightSeconds(),
    });
    this.queue = new WorkQueue(opts.queue, hooks);
  }

  enqueue(key: string): void {
    this.queue.add(key);
  }

  start(): void {
    this.queue.run((key) => this.process(key));
  }

  async stop(): Promise<void> {
    await this.queue.shutdown();
  }

  private async process(key: string): Promise<void> {
    const { metrics, reconcile, onTerminal } = this.opts;
    const controller = this.name;
    const log = this.opts.log.child({ controller, key, reconcileID: randomUUID() });
    const stopTimer = metrics.reconcileTime.startTimer({ controller });
    const count = (result: ReconcileResultLabel) => metrics.reconciles.inc({ controller, result });
    try {
      const result = await reconcile(key, log);
      this.queue.forget(key);
      if (result?.requeueAfterMs !== undefined) {
        this.queue.addAfter(key, result.requeueAfterMs);
        count(result.requeueAfterMs > 0 ? 'requeue_after' : 'requeue');
      } else {
        count('success');
      }
    } catch (err) {
      count('error');
      metrics.reconcileErrors.inc({ controller });
      if (err instanceof TerminalError) {
        this.queue.forget(key);
        metrics.terminalReconcileErrors.inc({ controller });
        log.warn({ reason: err.reason, err: err.message }, 'terminal error; not retrying');
        try {
          await onTerminal?.(key, err, log);
        } catch (recordErr) {
          log.error({ err: errorMessage(recordErr) }, 'could not record terminal error; retrying');
          this.queue.addRateLimited(key);
        }
        return;
      }
      const retryInMs = this.queue.addRateLimited(key);
      log.warn(
        { err: errorMessage(err), retryInMs, failures: this.queue.failuresOf(key) },
        'reconcile failed',
      );
    } finally {
      stopTimer();
    }
  }
}
