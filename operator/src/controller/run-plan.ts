import {
  type CurationRun,
  type CurationRunStatus,
  maxParallelOf,
  type RunPhase,
  runCostOfInstances,
  runCostStatus,
  type SWEInstance,
  setCondition,
} from '../api/index.ts';
import { addToFunnel } from '../mining/funnel.ts';
import type { MiningPage } from '../mining/types.ts';
import { isTerminal } from '../pipeline/pipeline.ts';
import { wantsSolve } from '../pipeline/solve.ts';

export interface InstanceSummary {
  instances: number;
  running: number;
  verified: number;
  /** Of the Verified, those whose solve stage (spec.solve) has no summary yet. */
  solving: number;
  failed: number;
  failedByReason: Record<string, number>;
}

/**
 * The run's cost from its instances' statuses (curation tokens and status.solve's), for
 * status.cost; undefined for a run without an LLM (nothing to count). Pure.
 */
export function runCostOf(
  run: Pick<CurationRun, 'spec'>,
  instances: readonly Pick<SWEInstance, 'status'>[],
): CurationRunStatus['cost'] {
  if (!run.spec.llm) return undefined;
  return runCostStatus(runCostOfInstances(instances, run.spec.llm.price));
}

export function summarizeInstances(
  instances: readonly Pick<SWEInstance, 'status'>[],
  solveEnabled = false,
): InstanceSummary {
  const summary: InstanceSummary = {
    instances: instances.length,
    running: 0,
    verified: 0,
    solving: 0,
    failed: 0,
    failedByReason: {},
  };
  for (const { status } of instances) {
    if (!isTerminal(status)) summary.running++;
    else if (status?.phase === 'Verified') {
      summary.verified++;
      if (wantsSolve(status, solveEnabled)) summary.solving++;
    } else {
      summary.failed++;
      const reason = status?.lastError?.reason ?? status?.phase ?? 'Unknown';
      summary.failedByReason[reason] = (summary.failedByReason[reason] ?? 0) + 1;
    }
  }
  return summary;
}

export type SourceKind = 'git' | 'github';

export function sourceKindOf(run: CurationRun): SourceKind {
  return run.spec.source.github ? 'github' : 'git';
}

export function miningDone(run: CurationRun, created: number): boolean {
  return run.status?.cursor?.exhausted === true || created >= run.spec.limits.maxPRs;
}

/** How many PRs the next mining page may examine: room under maxParallel and maxPRs. */
export function miningCapacity(run: CurationRun, summary: InstanceSummary): number {
  if (run.spec.suspend || miningDone(run, summary.instances)) return 0;
  return Math.max(
    0,
    Math.min(maxParallelOf(run.spec.limits) - summary.running, run.spec.limits.maxPRs - summary.instances),
  );
}

/** A mining page applied to the run, only if status.cursor is still where mining started. */
export interface MinedPage {
  fromCursor: string | undefined;
  page: Pick<MiningPage, 'cursor' | 'exhausted' | 'rejected'> & { candidates: number };
}

export interface RunObservation {
  run: CurationRun;
  summary: InstanceSummary;
  mined?: MinedPage;
  /** What the instances cost so far (runCostOf); kept from the last roll-up when absent. */
  cost?: CurationRunStatus['cost'];
  /** Mining or source set-up failed (retried); shown in the Ready condition. */
  sourceError?: { reason: string; message: string };
  now: Date;
}

/**
 * The CurationRun status from what was observed: mining progress (cursor, funnel counts)
 * folded in once, instance counts recomputed, phase and conditions derived. Pure.
 */
export function computeRunStatus(obs: RunObservation): CurationRunStatus {
  const { run, summary, mined, now } = obs;
  const previous = run.status ?? {};
  const generation = run.metadata.generation;
  const kind = sourceKindOf(run);
  let cursor = previous.cursor;
  let discovered = previous.counts?.discovered ?? 0;
  let rejected = previous.counts?.rejected ?? 0;
  let rejectedByReason = previous.rejectedByReason;
  if (mined && previous.cursor?.[kind] === mined.fromCursor && previous.cursor?.exhausted !== true) {
    const { page } = mined;
    cursor = { ...previous.cursor, [kind]: page.cursor, exhausted: page.exhausted };
    const funnel = addToFunnel(
      { discovered, kept: discovered - rejected, rejected, rejectedByReason: rejectedByReason ?? {} },
      { kept: page.candidates, rejected: page.rejected },
    );
    ({ discovered, rejected, rejectedByReason } = funnel);
  }

  const done = cursor?.exhausted === true || summary.instances >= run.spec.limits.maxPRs;
  let phase: RunPhase;
  if (run.spec.suspend) phase = 'Suspended';
  else if (!done) phase = summary.instances === 0 && discovered === 0 ? 'Pending' : 'Mining';
  // Solving Verified instances (spec.solve) keep the run Running: its export is not complete.
  else if (summary.running > 0 || summary.solving > 0) phase = 'Running';
  else phase = 'Succeeded';
  if (phase === 'Pending' && previous.phase !== undefined && previous.phase !== 'Pending') phase = 'Mining';

  const gen = generation === undefined ? {} : { observedGeneration: generation };
  let conditions = previous.conditions ?? [];
  conditions = setCondition(
    conditions,
    obs.sourceError
      ? {
          type: 'Ready',
          status: 'False',
          reason: obs.sourceError.reason,
          message: obs.sourceError.message,
          ...gen,
        }
      : run.spec.suspend
        ? {
            type: 'Ready',
            status: 'False',
            reason: 'Suspended',
            message: 'spec.suspend is true: no new instances or pods',
            ...gen,
          }
        : { type: 'Ready', status: 'True', reason: 'Reconciled', message: '', ...gen },
    now,
  );
  const finished = summary.verified + summary.failed;
  conditions = setCondition(
    conditions,
    phase === 'Succeeded'
      ? {
          type: 'Succeeded',
          status: 'True',
          reason: 'AllInstancesFinished',
          message: `${summary.verified} verified, ${summary.failed} failed or rejected, ${rejected} PRs rejected by the filter`,
          ...gen,
        }
      : {
          type: 'Succeeded',
          status: 'False',
          reason: phase === 'Pending' ? 'Pending' : phase,
          message: `${finished}/${summary.instances} instances finished${summary.solving ? `; ${summary.solving} Verified still solving` : ''}`,
          ...gen,
        },
    now,
  );

  return {
    ...previous,
    ...gen,
    phase,
    progress: `${finished}/${summary.instances}`,
    conditions,
    counts: {
      discovered,
      rejected,
      instances: summary.instances,
      running: summary.running,
      verified: summary.verified,
      failed: summary.failed,
    },
    ...(rejectedByReason && { rejectedByReason }),
    failedByReason: summary.failedByReason,
    ...(obs.cost && { cost: obs.cost }),
    ...(cursor && { cursor }),
    startedAt: previous.startedAt ?? now.toISOString(),
    completedAt: phase === 'Succeeded' ? (previous.completedAt ?? now.toISOString()) : undefined,
  };
}

/** The run's status after a TerminalError (invalid spec, unusable source): Failed, not retried. */
export function failedRunStatus(
  run: Pick<CurationRun, 'status' | 'metadata'>,
  reason: string,
  message: string,
  now: Date,
): CurationRunStatus {
  const gen = run.metadata.generation === undefined ? {} : { observedGeneration: run.metadata.generation };
  let conditions = setCondition(
    run.status?.conditions ?? [],
    { type: 'Ready', status: 'False', reason, message, ...gen },
    now,
  );
  conditions = setCondition(conditions, { type: 'Succeeded', status: 'False', reason, message, ...gen }, now);
  return {
    ...run.status,
    ...gen,
    phase: 'Failed',
    conditions,
    startedAt: run.status?.startedAt ?? now.toISOString(),
    completedAt: run.status?.completedAt ?? now.toISOString(),
  };
}
