import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from 'prom-client';

/** controller-runtime's reconcile results (the `result` label of controller_runtime_reconcile_total). */
export const RECONCILE_RESULTS = ['success', 'error', 'requeue', 'requeue_after'] as const;
export type ReconcileResultLabel = (typeof RECONCILE_RESULTS)[number];

/** controller-runtime's reconcile_time_seconds buckets. */
const RECONCILE_BUCKETS = [
  0.005, 0.01, 0.025, 0.05, 0.1, 0.15, 0.2, 0.25, 0.3, 0.35, 0.4, 0.45, 0.5, 0.6, 0.7, 0.8, 0.9, 1, 1.25, 1.5,
  1.75, 2, 2.5, 3, 3.5, 4, 4.5, 5, 6, 7, 8, 9, 10, 15, 20, 25, 30, 40, 50, 60,
];
/** client-go's workqueue buckets: ExponentialBuckets(10e-9, 10, 12), 10 ns … 1000 s. */
const WORKQUEUE_BUCKETS = Array.from({ length: 12 }, (_, i) => Number((1e-8 * 10 ** i).toPrecision(1)));

/** What a scrape reads of one controller's queue and workers. */
export interface ControllerSource {
  maxConcurrentReconciles: number;
  /** Keys waiting (not delayed, not in flight). */
  depth(): number;
  /** Reconciles running now. */
  activeWorkers(): number;
  /** Seconds each in-flight key has been processed so far. */
  inFlightSeconds(): number[];
}

/** The hooks a work queue calls (client-go's workqueue.MetricsProvider, as events). */
export interface WorkQueueMetrics {
  /** A key entered the queue (duplicates of a waiting key do not count). */
  added(): void;
  /** A failed key was re-added with backoff. */
  retried(): void;
  /** A worker took a key that waited this long. */
  queued(seconds: number): void;
  /** A worker finished a key after this long. */
  worked(seconds: number): void;
}

/**
 * The operator's Prometheus metrics; one registry per process (tests make their own).
 * Controller and work queue series use controller-runtime's names and labels, so its
 * dashboards and alerts apply; `scaleswe_*` are the operator's own.
 */
export class OperatorMetrics {
  readonly registry = new Registry();
  private readonly controllers = new Map<string, ControllerSource>();

  // controller-runtime: pkg/internal/controller/metrics.
  readonly reconciles = new Counter({
    name: 'controller_runtime_reconcile_total',
    help: 'Total number of reconciliations per controller',
    labelNames: ['controller', 'result'] as const,
    registers: [this.registry],
  });
  readonly reconcileErrors = new Counter({
    name: 'controller_runtime_reconcile_errors_total',
    help: 'Total number of reconciliation errors per controller',
    labelNames: ['controller'] as const,
    registers: [this.registry],
  });
  readonly terminalReconcileErrors = new Counter({
    name: 'controller_runtime_terminal_reconcile_errors_total',
    help: 'Total number of terminal reconciliation errors per controller',
    labelNames: ['controller'] as const,
    registers: [this.registry],
  });
  readonly reconcileTime = new Histogram({
    name: 'controller_runtime_reconcile_time_seconds',
    help: 'Length of time per reconciliation per controller',
    labelNames: ['controller'] as const,
    buckets: RECONCILE_BUCKETS,
    registers: [this.registry],
  });
  readonly maxConcurrentReconciles = this.controllerGauge(
    'controller_runtime_max_concurrent_reconciles',
    'Maximum number of concurrent reconciles per controller',
    (c) => c.maxConcurrentReconciles,
  );
  readonly activeWorkers = this.controllerGauge(
    'controller_runtime_active_workers',
    'Number of currently used workers per controller',
    (c) => c.activeWorkers(),
  );

  // client-go workqueue, with controller-runtime's labels (name = controller).
  readonly queueDepth = this.queueGauge('workqueue_depth', 'Current depth of workqueue', (c) => c.depth());
  readonly queueAdds = new Counter({
    name: 'workqueue_adds_total',
    help: 'Total number of adds handled by workqueue',
    labelNames: ['name', 'controller'] as const,
    registers: [this.registry],
  });
  readonly queueRetries = new Counter({
    name: 'workqueue_retries_total',
    help: 'Total number of retries handled by workqueue',
    labelNames: ['name', 'controller'] as const,
    registers: [this.registry],
  });
  readonly queueDuration = new Histogram({
    name: 'workqueue_queue_duration_seconds',
    help: 'How long in seconds an item stays in workqueue before being requested',
    labelNames: ['name', 'controller'] as const,
    buckets: WORKQUEUE_BUCKETS,
    registers: [this.registry],
  });
  readonly workDuration = new Histogram({
    name: 'workqueue_work_duration_seconds',
    help: 'How long in seconds processing an item from workqueue takes',
    labelNames: ['name', 'controller'] as const,
    buckets: WORKQUEUE_BUCKETS,
    registers: [this.registry],
  });
  readonly unfinishedWork = this.queueGauge(
    'workqueue_unfinished_work_seconds',
    "How many seconds of work has been done that is in progress and hasn't been observed by work_duration",
    (c) => c.inFlightSeconds().reduce((a, b) => a + b, 0),
  );
  readonly longestRunningProcessor = this.queueGauge(
    'workqueue_longest_running_processor_seconds',
    'How many seconds has the longest running processor for workqueue been running',
    (c) => Math.max(0, ...c.inFlightSeconds()),
  );

  // The operator's own.
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
      // Process metrics (RSS, CPU, fds, event loop lag, heap, GC) for the operator's own health.
      collectDefaultMetrics({ register: this.registry });
      // prom-client also exports gauges named *_total (nodejs_active_handles_total …), which
      // `promtool check metrics` rejects (a counter suffix on a gauge): drop them; each is the
      // sum over `type` of the gauge without the suffix (sum(nodejs_active_handles) …).
      for (const metric of this.registry.getMetricsAsArray()) {
        const { name, type } = metric as unknown as { name: string; type: string };
        if (name.endsWith('_total') && type !== 'counter') this.registry.removeSingleMetric(name);
      }
    }
  }

  /**
   * A controller's series: its gauges read `source` at scrape time; the counters start at 0
   * for every result (controller-runtime's initMetrics), so rate() works from the first error.
   * Returns the hooks its work queue calls.
   */
  addController(name: string, source: ControllerSource): WorkQueueMetrics {
    this.controllers.set(name, source);
    for (const result of RECONCILE_RESULTS) this.reconciles.inc({ controller: name, result }, 0);
    this.reconcileErrors.inc({ controller: name }, 0);
    this.terminalReconcileErrors.inc({ controller: name }, 0);
    const labels = { name, controller: name };
    this.queueAdds.inc(labels, 0);
    this.queueRetries.inc(labels, 0);
    return {
      added: () => this.queueAdds.inc(labels),
      retried: () => this.queueRetries.inc(labels),
      queued: (seconds) => this.queueDuration.observe(labels, seconds),
      worked: (seconds) => this.workDuration.observe(labels, seconds),
    };
  }

  private controllerGauge(name: string, help: string, read: (c: ControllerSource) => number) {
    const controllers = this.controllers;
    return new Gauge({
      name,
      help,
      labelNames: ['controller'] as const,
      registers: [this.registry],
      collect() {
        this.reset();
        for (const [controller, source] of controllers) this.set({ controller }, read(source));
      },
    });
  }

  private queueGauge(name: string, help: string, read: (c: ControllerSource) => number) {
    const controllers = this.controllers;
    return new Gauge({
      name,
      help,
      labelNames: ['name', 'controller'] as const,
      registers: [this.registry],
      collect() {
        this.reset();
        for (const [controller, source] of controllers)
          this.set({ name: controller, controller }, read(source));
      },
    });
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

  counter<L extends string>(name: string, help: string, labelNames: readonly L[]) {
    return new Counter<L>({ name, help, labelNames, registers: [this.registry] });
  }

  histogram<L extends string>(name: string, help: string, labelNames: readonly L[], buckets: number[]) {
    return new Histogram<L>({ name, help, labelNames, buckets, registers: [this.registry] });
  }
}
