import { Counter, Gauge, Histogram, Registry } from 'prom-client';

/** The operator's Prometheus metrics; one registry per process (tests make their own). */
export class OperatorMetrics {
  readonly registry = new Registry();
  readonly reconciles = new Counter({
    name: 'scaleswe_reconcile_total',
    help: 'Reconciles by controller and result (success, requeue, error, terminal)',
    labelNames: ['controller', 'result'] as const,
    registers: [this.registry],
  });
  readonly reconcileErrors = new Counter({
    name: 'scaleswe_reconcile_errors_total',
    help: 'Reconciles that failed, by controller',
    labelNames: ['controller'] as const,
    registers: [this.registry],
  });
  readonly reconcileDuration = new Histogram({
    name: 'scaleswe_reconcile_duration_seconds',
    help: 'Reconcile latency',
    labelNames: ['controller'] as const,
    buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
    registers: [this.registry],
  });
  readonly queueDepth = new Gauge({
    name: 'scaleswe_workqueue_depth',
    help: 'Keys waiting in the work queue',
    labelNames: ['controller'] as const,
    registers: [this.registry],
  });
  readonly apiRequests = new Counter({
    name: 'scaleswe_api_requests_total',
    help: 'Kubernetes API requests by verb, resource and HTTP code',
    labelNames: ['verb', 'resource', 'code'] as const,
    registers: [this.registry],
  });
  readonly statusConflicts = new Counter({
    name: 'scaleswe_status_conflicts_total',
    help: 'Status writes that hit a 409 and were re-read and re-applied',
    labelNames: ['controller'] as const,
    registers: [this.registry],
  });
  readonly leader = new Gauge({
    name: 'scaleswe_leader',
    help: '1 while this replica holds the leader lease',
    registers: [this.registry],
  });

  constructor(opts: { defaultMetrics?: boolean } = {}) {
    if (opts.defaultMetrics) {
      // Process metrics (RSS, CPU, event loop lag) for the operator's own health.
      import('prom-client').then(({ collectDefaultMetrics }) =>
        collectDefaultMetrics({ register: this.registry }),
      );
    }
  }

  /** A gauge computed at scrape time (e.g. instances by phase from the cache). */
  gauge(
    name: string,
    help: string,
    labelNames: string[],
    collect: () => Array<[Record<string, string>, number]>,
  ) {
    return new Gauge({
      name,
      help,
      labelNames,
      registers: [this.registry],
      collect() {
        this.reset();
        for (const [labels, value] of collect()) this.set(labels, value);
      },
    });
  }
}
