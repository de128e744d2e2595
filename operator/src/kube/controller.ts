import type { Logger } from 'pino';
import { errorMessage, type ReconcileResult, TerminalError } from './errors.ts';
import type { OperatorMetrics } from './metrics.ts';
import { WorkQueue, type WorkQueueOptions } from './queue.ts';

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
 * Every log line of a reconcile carries the object key.
 */
export class Controller {
  readonly name: string;
  readonly queue: WorkQueue;
  private readonly opts: ControllerOptions;

  constructor(opts: ControllerOptions) {
    this.opts = opts;
    this.name = opts.name;
    this.queue = new WorkQueue(opts.queue);
  }

  enqueue(key: string): void {
    this.queue.add(key);
    this.opts.metrics.queueDepth.set({ controller: this.name }, this.queue.depth);
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
    metrics.queueDepth.set({ controller }, this.queue.depth);
    const log = this.opts.log.child({ controller, key });
    const stopTimer = metrics.reconcileDuration.startTimer({ controller });
    try {
      const result = await reconcile(key, log);
      this.queue.forget(key);
      if (result?.requeueAfterMs !== undefined) {
        this.queue.addAfter(key, result.requeueAfterMs);
        metrics.reconciles.inc({ controller, result: 'requeue' });
      } else {
        metrics.reconciles.inc({ controller, result: 'success' });
      }
    } catch (err) {
      if (err instanceof TerminalError) {
        this.queue.forget(key);
        metrics.reconciles.inc({ controller, result: 'terminal' });
        log.warn({ reason: err.reason, err: err.message }, 'terminal error; not retrying');
        try {
          await onTerminal?.(key, err, log);
        } catch (recordErr) {
          log.error({ err: errorMessage(recordErr) }, 'could not record terminal error; retrying');
          this.queue.addRateLimited(key);
        }
        return;
      }
      metrics.reconciles.inc({ controller, result: 'error' });
      metrics.reconcileErrors.inc({ controller });
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
