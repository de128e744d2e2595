import type { SWEInstance } from '../api/index.ts';
import { CAMPAIGNS, CURATIONRUNS, EVALUATIONS, SWEINSTANCES } from '../api/index.ts';
import {
  Controller,
  collectionPath,
  EventRecorder,
  Informer,
  type Kube,
  type Logger,
  type OperatorMetrics,
  specOrMetadataChanged,
  type WorkQueueOptions,
  WriteOverlay,
} from '../kube/index.ts';
import { isTerminal } from '../pipeline/pipeline.ts';
import { LABEL_MANAGED_BY, MANAGED_BY } from '../sandbox/index.ts';
import { slimInstance, slimOwnedResource, slimPod } from './cache-transforms.ts';
import { campaignOf, reconcileCampaign, recordCampaignTerminal } from './campaign-reconciler.ts';
import type { ControllerContext, RawPod } from './controller-context.ts';
import {
  CreationExpectations,
  type RunReconcilerState,
  reconcileRun,
  recordRunTerminal,
} from './curation-run-reconciler.ts';
import {
  type EvaluationReconcilerState,
  reconcileEvaluation,
  recordEvaluationTerminal,
} from './evaluation-reconciler.ts';
import { ContentCache } from './instance-content.ts';
import { PipelineMetrics } from './pipeline-metrics.ts';
import { PodExpectations } from './pod-expectations.ts';
import { key, ownerKey, type RawObject, splitKey, UNFINISHED_BY_RUN } from './resources.ts';
import { defaultSourceFactory, type PrSourceFactory } from './sources.ts';
import { StoreSweeper } from './store-sweeper.ts';
import { reconcileInstance, recordInstanceTerminal } from './swe-instance-reconciler.ts';

export interface ManagerOptions {
  kube: Kube;
  /** Watch one namespace; undefined = all namespaces. */
  namespace?: string;
  log: Logger;
  metrics: OperatorMetrics;
  /** Reporting instance for Events (pod or host name). */
  identity: string;
  sourceFactory?: PrSourceFactory;
  runWorkers?: number;
  instanceWorkers?: number;
  evaluationWorkers?: number;
  queue?: WorkQueueOptions;
  resyncMs?: number;
  gitCacheDir?: string;
  gateway?: ControllerContext['gateway'];
  sandboxNetwork?: ControllerContext['sandboxNetwork'];
  logLimitBytes?: number;
  datasetStore?: ControllerContext['datasetStore'];
  /** How often the leader removes the dataset-store objects of deleted instances; 0 = never. */
  storeSweepMs?: number;
  environmentDefaults?: ControllerContext['environmentDefaults'];
  now?: () => Date;
}

/**
 * Wires caches to controllers: runs, instances and sandbox pods are watched; an instance
 * change wakes its run (counts), a pod change wakes its instance, a run spec change wakes
 * the run's instances (suspend, limits).
 */
export class Manager {
  readonly ctx: ControllerContext;
  readonly campaignController: Controller;
  readonly runController: Controller;
  readonly instanceController: Controller;
  readonly evaluationController: Controller;
  /** Registered on `metrics`; the LLM gateway's backend counts tokens into it too. */
  readonly pipelineMetrics: PipelineMetrics;
  private readonly informers: Informer<RawObject>[];
  private readonly runGenerations = new Map<string, number | undefined>();
  /** With a dataset store: removes the objects of deleted instances. */
  readonly storeSweeper: StoreSweeper | undefined;
  private readonly storeSweepMs: number;

  constructor(opts: ManagerOptions) {
    const { kube, namespace, log, metrics } = opts;
    const resyncMs = opts.resyncMs ?? 300_000;
    this.pipelineMetrics = new PipelineMetrics(metrics);
    const campaigns = new Informer<RawObject>({
      name: 'campaigns',
      kube,
      path: collectionPath(CAMPAIGNS, namespace),
      list: () => kube.list<RawObject>(CAMPAIGNS, namespace),
      transform: slimOwnedResource,
      resyncMs,
      log,
    });
    const runs = new Informer<RawObject>({
      name: 'curationruns',
      kube,
      path: collectionPath(CURATIONRUNS, namespace),
      list: () => kube.list<RawObject>(CURATIONRUNS, namespace),
      transform: slimOwnedResource,
      resyncMs,
      log,
      indexers: {
        campaign: (obj) => {
          const owner = campaignOf(obj);
          return owner ? [owner] : [];
        },
      },
    });
    const instances = new Informer<RawObject>({
      name: 'sweinstances',
      kube,
      path: collectionPath(SWEINSTANCES, namespace),
      list: () => kube.list<RawObject>(SWEINSTANCES, namespace),
      transform: slimInstance,
      resyncMs,
      log,
      indexers: {
        run: (obj) => {
          const owner = ownerKey(obj, 'CurationRun');
          return owner ? [owner] : [];
        },
        // A campaign's shared limit counts these: the run's instances still in flight.
        [UNFINISHED_BY_RUN]: (obj) => {
          const owner = ownerKey(obj, 'CurationRun');
          return owner && !isTerminal(obj.status as SWEInstance['status']) ? [owner] : [];
        },
      },
    });
    const evaluations = new Informer<RawObject>({
      name: 'evaluations',
      kube,
      path: collectionPath(EVALUATIONS, namespace),
      list: () => kube.list<RawObject>(EVALUATIONS, namespace),
      transform: slimOwnedResource,
      resyncMs,
      log,
    });
    const selector = `${LABEL_MANAGED_BY}=${MANAGED_BY}`;
    const pods = new Informer<RawPod>({
      name: 'pods',
      kube,
      path: collectionPath('pods', namespace),
      list: () => kube.listPods(namespace, selector) as never,
      labelSelector: selector,
      transform: slimPod,
      resyncMs,
      log,
      indexers: {
        instance: (obj) => {
          const owner = ownerKey(obj, 'SWEInstance');
          return owner ? [owner] : [];
        },
        evaluation: (obj) => {
          const owner = ownerKey(obj, 'Evaluation');
          return owner ? [owner] : [];
        },
      },
    });
    this.informers = [campaigns, runs, instances, evaluations, pods as unknown as Informer<RawObject>];

    this.ctx = {
      kube,
      campaigns,
      runs,
      instances,
      evaluations,
      pods,
      podExpectations: new PodExpectations(),
      stageInputsProvided: new Set(),
      campaignOverlay: new WriteOverlay(),
      runOverlay: new WriteOverlay(),
      instanceOverlay: new WriteOverlay(),
      evaluationOverlay: new WriteOverlay(),
      events: new EventRecorder(kube, { controller: 'scaleswe.dev/operator', instance: opts.identity, log }),
      metrics,
      pipelineMetrics: this.pipelineMetrics,
      log,
      sourceFactory: opts.sourceFactory ?? defaultSourceFactory,
      ...(opts.gitCacheDir && { gitCacheDir: opts.gitCacheDir }),
      ...(opts.gateway && { gateway: opts.gateway }),
      ...(opts.sandboxNetwork && { sandboxNetwork: opts.sandboxNetwork }),
      logLimitBytes: opts.logLimitBytes ?? 16 * 1024 * 1024,
      ...(opts.datasetStore && { datasetStore: opts.datasetStore }),
      contentCache: new ContentCache(),
      ...(opts.environmentDefaults && { environmentDefaults: opts.environmentDefaults }),
      now: opts.now ?? (() => new Date()),
      parsedRuns: new Map(),
    };
    const ctx = this.ctx;
    // Wakes a campaign's unfinished runs (batched): room in its shared limit came free.
    const wakeCampaign = (campaignKey: string): void => {
      for (const run of runs.byIndex('campaign', campaignKey)) {
        const phase = (run.status as { phase?: string } | undefined)?.phase;
        if (phase !== 'Succeeded' && phase !== 'Failed')
          this.runController.queue.addAfter(key(run.metadata.namespace, run.metadata.name), 200);
      }
    };
    const runState: RunReconcilerState = {
      expectations: new CreationExpectations(),
      sources: new Map(),
      wakeCampaign,
    };

    this.campaignController = new Controller({
      name: 'campaign',
      reconcile: (k, l) => reconcileCampaign(ctx, k, l),
      onTerminal: (k, err) => recordCampaignTerminal(ctx, k, err),
      queue: { concurrency: 1, ...opts.queue },
      metrics,
      log,
    });

    this.runController = new Controller({
      name: 'curationrun',
      reconcile: (k, l) => reconcileRun(ctx, runState, k, l),
      onTerminal: (k, err) => recordRunTerminal(ctx, k, err),
      queue: { concurrency: opts.runWorkers ?? 2, ...opts.queue },
      metrics,
      log,
    });
    this.instanceController = new Controller({
      name: 'sweinstance',
      reconcile: (k, l) => reconcileInstance(ctx, k, l),
      onTerminal: (k, err) => recordInstanceTerminal(ctx, k, err),
      queue: { concurrency: opts.instanceWorkers ?? 8, ...opts.queue },
      metrics,
      log,
    });

    const evaluationState: EvaluationReconcilerState = { predictions: new Map() };
    this.evaluationController = new Controller({
      name: 'evaluation',
      reconcile: (k, l) => reconcileEvaluation(ctx, evaluationState, k, l),
      onTerminal: (k, err) => recordEvaluationTerminal(ctx, k, err),
      queue: { concurrency: opts.evaluationWorkers ?? 2, ...opts.queue },
      metrics,
      log,
    });

    campaigns.onEvent((obj, event, previous) => {
      const k = key(obj.metadata.namespace, obj.metadata.name);
      if (event === 'delete') {
        ctx.campaignOverlay.forget(obj);
        return;
      }
      if (event !== 'update' || specOrMetadataChanged(previous, obj)) {
        this.campaignController.enqueue(k);
        if (event === 'update') wakeCampaign(k); // maxParallel may have changed
      }
    });
    runs.onEvent((obj, event, previous) => {
      const k = key(obj.metadata.namespace, obj.metadata.name);
      // Every run change (status included) moves its campaign's funnel; batched.
      const campaign = campaignOf(obj);
      if (campaign && event !== 'resync') this.campaignController.queue.addAfter(campaign, 200);
      if (event === 'delete') {
        ctx.runOverlay.forget(obj);
        ctx.parsedRuns.delete(k);
        this.runGenerations.delete(k);
        this.pipelineMetrics.forgetRun(obj.metadata.namespace ?? '', obj.metadata.name ?? '');
        return;
      }
      // The run's own status writes must not wake it: a failing run would skip its backoff.
      if (event !== 'update' || specOrMetadataChanged(previous, obj)) this.runController.enqueue(k);
      const generation = obj.metadata.generation;
      if (event === 'update' && this.runGenerations.get(k) !== generation) {
        for (const i of instances.byIndex('run', k))
          this.instanceController.enqueue(key(i.metadata.namespace, i.metadata.name));
      }
      this.runGenerations.set(k, generation);
    });
    instances.onEvent((obj, event, previous) => {
      const k = key(obj.metadata.namespace, obj.metadata.name);
      const owner = ownerKey(obj, 'CurationRun');
      if (event === 'delete') ctx.instanceOverlay.forget(obj);
      else this.instanceController.enqueue(k);
      // Batches the run's recount: many instances finishing in a burst cost one reconcile.
      if (owner) {
        runState.expectations.observed(owner, obj.metadata.name ?? '');
        if (event !== 'resync') this.runController.queue.addAfter(owner, 200);
        // A finished instance frees room in its campaign's shared limit.
        const status = (i: RawObject | undefined) => i?.status as SWEInstance['status'];
        const freed = event === 'delete' || (isTerminal(status(obj)) && !isTerminal(status(previous)));
        const { namespace: ns, name: runName } = splitKey(owner);
        const run = freed ? runs.get(ns, runName) : undefined;
        const campaign = run && campaignOf(run);
        if (campaign) wakeCampaign(campaign);
      }
    });
    pods.onEvent((obj, event) => {
      ctx.podExpectations.observe(obj, event === 'delete');
      if (event === 'delete' && obj.metadata.uid) ctx.stageInputsProvided.delete(obj.metadata.uid);
      const owner = ownerKey(obj, 'SWEInstance');
      if (owner) this.instanceController.enqueue(owner);
      const evaluation = ownerKey(obj, 'Evaluation');
      if (evaluation) this.evaluationController.enqueue(evaluation);
    });
    evaluations.onEvent((obj, event, previous) => {
      const k = key(obj.metadata.namespace, obj.metadata.name);
      if (event === 'delete') {
        ctx.evaluationOverlay.forget(obj);
        return;
      }
      // Its own status writes must not wake it.
      if (event !== 'update' || specOrMetadataChanged(previous, obj)) this.evaluationController.enqueue(k);
    });

    this.storeSweepMs = opts.storeSweepMs ?? 3_600_000;
    this.storeSweeper =
      opts.datasetStore &&
      new StoreSweeper({ store: opts.datasetStore, instances, namespace: opts.namespace, log: opts.log });

    this.pipelineMetrics.instancesGauge(
      () => runs.list(),
      () => instances.list(),
    );
  }

  hasSynced(): boolean {
    return this.informers.every((i) => i.hasSynced());
  }

  /** Fills the caches, then starts reconciling (controllers never act on a partial cache). */
  async start(): Promise<void> {
    await Promise.all(this.informers.map((i) => i.start()));
    await Promise.all(this.informers.map((i) => i.waitForSync()));
    this.campaignController.start();
    this.runController.start();
    this.instanceController.start();
    this.evaluationController.start();
    this.storeSweeper?.start(this.storeSweepMs);
    this.ctx.log.info(
      { runs: this.ctx.runs.list().length, instances: this.ctx.instances.list().length },
      'caches synced; reconciling',
    );
  }

  /** Finishes in-flight reconciles, then stops watching. */
  async stop(): Promise<void> {
    await Promise.all([
      this.campaignController.stop(),
      this.runController.stop(),
      this.instanceController.stop(),
      this.evaluationController.stop(),
      this.storeSweeper?.stop(),
    ]);
    await Promise.all(this.informers.map((i) => i.stop()));
  }
}
