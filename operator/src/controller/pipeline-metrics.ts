import { INSTANCE_PHASES, STAGES, StageOutcome } from '../api/index.ts';
import type { OperatorMetrics } from '../kube/index.ts';
import type { FinishedAttempt } from './instance-plan.ts';
import { key, type RawObject, splitKey } from './resources.ts';

/** Stage attempts take seconds (a cached env) to hours (a cold build with retries). */
const STAGE_BUCKETS = [1, 5, 15, 30, 60, 120, 300, 600, 1200, 1800, 3600, 7200, 14400];

/** What a token usage report of an OpenAI-compatible response carries. */
export interface TokenUsage {
  prompt_tokens?: number;
  completion_tokens?: number;
}

/**
 * The pipeline's own series (`scaleswe_*`), registered on the operator's registry: stage
 * attempt durations, LLM tokens through the gateway, PRs mined per run, instances per run
 * and phase (read from the cache at scrape time).
 */
export class PipelineMetrics {
  readonly stageDuration;
  readonly llmTokens;
  readonly minedPrs;
  private readonly metrics: OperatorMetrics;

  constructor(metrics: OperatorMetrics) {
    this.metrics = metrics;
    this.stageDuration = metrics.histogram(
      'scaleswe_stage_duration_seconds',
      'Wall time of finished stage attempts, by stage and outcome (succeeded, rejected, failed)',
      ['stage', 'outcome'],
      STAGE_BUCKETS,
    );
    this.llmTokens = metrics.counter(
      'scaleswe_llm_tokens_total',
      'LLM tokens through the gateway, by kind (prompt, completion), as the provider reported them',
      ['kind'],
    );
    this.minedPrs = metrics.counter(
      'scaleswe_mined_prs_total',
      'Pull requests mined into new SWEInstances, by run',
      ['namespace', 'run'],
    );
    for (const stage of STAGES)
      for (const outcome of StageOutcome.options) this.stageDuration.zero({ stage, outcome });
    for (const kind of ['prompt', 'completion']) this.llmTokens.inc({ kind }, 0);
  }

  /** Stage attempts whose outcome was just written to status. */
  stagesFinished(finished: readonly FinishedAttempt[]): void {
    for (const f of finished)
      if (f.durationMs !== undefined)
        this.stageDuration.observe({ stage: f.stage, outcome: f.outcome }, f.durationMs / 1000);
  }

  tokens(usage: TokenUsage | undefined): void {
    if (usage?.prompt_tokens) this.llmTokens.inc({ kind: 'prompt' }, usage.prompt_tokens);
    if (usage?.completion_tokens) this.llmTokens.inc({ kind: 'completion' }, usage.completion_tokens);
  }

  mined(namespace: string, run: string, created: number): void {
    this.minedPrs.inc({ namespace, run }, created);
  }

  /** A deleted run's series go with it. */
  forgetRun(namespace: string, run: string): void {
    this.minedPrs.remove({ namespace, run });
  }

  /** scaleswe_instances{namespace,run,phase}: every phase of every cached run, zeros included. */
  instancesGauge(runs: () => readonly RawObject[], instances: () => readonly RawObject[]): void {
    this.metrics.gauge(
      'scaleswe_instances',
      'SWEInstances by run and phase (from the cache)',
      ['namespace', 'run', 'phase'],
      () => instanceCounts(runs(), instances()),
    );
  }
}

/** Instances per (namespace, run, phase); every phase of every run listed, zeros included. Pure. */
export function instanceCounts(
  runs: readonly RawObject[],
  instances: readonly RawObject[],
): Array<[{ namespace: string; run: string; phase: string }, number]> {
  const counts = new Map<string, Map<string, number>>();
  const phasesOf = (namespace: string, run: string) => {
    const k = key(namespace, run);
    let phases = counts.get(k);
    if (!phases) {
      phases = new Map(INSTANCE_PHASES.map((p) => [p, 0]));
      counts.set(k, phases);
    }
    return phases;
  };
  for (const r of runs) phasesOf(r.metadata.namespace ?? '', r.metadata.name ?? '');
  for (const i of instances) {
    const run = (i.spec as { runRef?: string } | undefined)?.runRef;
    if (!run) continue;
    const phase = (i.status as { phase?: string } | undefined)?.phase ?? 'Pending';
    const phases = phasesOf(i.metadata.namespace ?? '', run);
    phases.set(phase, (phases.get(phase) ?? 0) + 1);
  }
  return [...counts].flatMap(([k, phases]) => {
    const { namespace, name: run } = splitKey(k);
    return [...phases].map(([phase, n]): [{ namespace: string; run: string; phase: string }, number] => [
      { namespace, run, phase },
      n,
    ]);
  });
}
