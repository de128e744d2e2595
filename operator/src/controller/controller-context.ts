import type { CurationRun, Stage, SWEInstance } from '../api/index.ts';
import type { EventRecorder, Informer, Kube, Logger, OperatorMetrics, WriteOverlay } from '../kube/index.ts';
import type { DatasetStore } from '../store/dataset-store.ts';
import type { ContentCache } from './instance-content.ts';
import type { ObservedStagePod } from './instance-plan.ts';
import type { PipelineMetrics } from './pipeline-metrics.ts';
import type { PodExpectations } from './pod-expectations.ts';
import type { RawObject } from './resources.ts';
import type { PrSourceFactory } from './sources.ts';

export type RawPod = ObservedStagePod & RawObject;

/** What both reconcilers share: the client, the caches, and the operator's settings. */
export interface ControllerContext {
  kube: Kube;
  campaigns: Informer<RawObject>;
  runs: Informer<RawObject>;
  instances: Informer<RawObject>;
  /** Evaluations (grading predictions against instances). */
  evaluations: Informer<RawObject>;
  pods: Informer<RawPod>;
  podExpectations: PodExpectations;
  /** Uids of stage pods whose input Secret this process created or found: checked once each. */
  stageInputsProvided: Set<string>;
  campaignOverlay: WriteOverlay<RawObject>;
  runOverlay: WriteOverlay<RawObject>;
  instanceOverlay: WriteOverlay<RawObject>;
  evaluationOverlay: WriteOverlay<RawObject>;
  events: EventRecorder;
  metrics: OperatorMetrics;
  /** The pipeline's series (stage durations, mined PRs, instances per run and phase). */
  pipelineMetrics: PipelineMetrics;
  log: Logger;
  sourceFactory: PrSourceFactory;
  gitCacheDir?: string;
  /** LLM gateway reachable from sandbox pods, and how to mint a per-pod token for it. */
  gateway?: {
    url: string;
    /** `budget`: the grant's own token budget (a solve attempt's); default what the instance has left. */
    token: (grant: {
      run: CurationRun;
      instance: SWEInstance;
      stage: Stage;
      attempt: number;
      budget?: number;
    }) => string;
  };
  /** What each run's sandbox NetworkPolicy lets pods reach besides DNS and the run's own list. */
  sandboxNetwork?: {
    gateway?: { url?: string; namespace?: string; podLabels?: Record<string, string>; port: number };
    /** The API server's service IP and endpoints, excluded even from allowAll. */
    denyCIDRs: string[];
  };
  /** The chart's environment image registry, for runs that name none (spec.environment). */
  environmentDefaults?: Pick<
    CurationRun['spec']['environment'],
    'registry' | 'plainHTTP' | 'pushSecretRef' | 'pullSecretRef'
  >;
  /** Where instances' bulky content goes (S3); unset: it stays in status. */
  datasetStore?: DatasetStore;
  /** Content read from or written to the store, by SHA-256 (bounded; controller/instance-content.ts). */
  contentCache: ContentCache;
  /** Max bytes of a pod log read back for its result envelope. */
  logLimitBytes: number;
  now: () => Date;
  /** Parsed runs by resourceVersion (each instance reconcile reads its run). */
  parsedRuns: Map<string, { rv: string; run: CurationRun }>;
}
