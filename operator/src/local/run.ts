import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  type CurationRunSpec,
  isInfraFailure,
  runCost,
  runCostStatus,
  type SolveAttempt,
  type Stage,
  type StageResult,
  SWEInstanceSpec,
  type SWEInstanceStatus,
  stageTimeoutSeconds,
} from '../api/index.ts';
import { rememberedFor } from '../languages/recipe-memory.ts';
import { addToFunnel, emptyFunnel, type Funnel } from '../mining/funnel.ts';
import { type PrSource, rejectKey } from '../mining/types.ts';
import { type AttemptRef, planAttempt } from '../pipeline/instance-plan.ts';
import { endStage, initialStatus, isTerminal, retryFailed, stageInputFor } from '../pipeline/pipeline.ts';
import { wantsSolve } from '../pipeline/solve.ts';
import {
  EnvironmentStore,
  environmentForStage,
  keepEnvironment,
  type StageEnvironment,
} from './environments.ts';
import { type IsolationMode, runStageProcess } from './executor.ts';
import type { LocalLlmEndpoint } from './llm-gateway.ts';
import { loadRecipeMemory, recordRecipe } from './recipe-memory.ts';
import { solveLocal } from './solve.ts';
import type { LocalInstance, LocalRunState, StateDir } from './state.ts';

export type RunEvent =
  | { type: 'mined'; discovered: number; instances: number; rejected: number; exhausted: boolean }
  | { type: 'suspended' }
  | { type: 'stage-start'; instanceId: string; stage: Stage; attempt: number }
  | { type: 'stage-end'; instanceId: string; stage: Stage; ok: boolean; reason: string; durationMs: number }
  | { type: 'retry'; instanceId: string; stage: Stage; reason: string; retryAfter: string }
  /** A solve attempt (spec.solve) recorded: graded resolved or not, or failed with a reason. */
  | {
      type: 'solve-attempt';
      instanceId: string;
      attempt: number;
      of: number;
      resolved?: boolean;
      reason: string;
    }
  | {
      type: 'instance-done';
      instanceId: string;
      phase: string;
      reason?: string | undefined;
      /** The stage it stopped at (none when Verified). */
      stage?: Stage | undefined;
      /** Finished by an earlier run (reported when a run resumes). */
      resumed?: boolean;
    };

export interface LocalRunOptions {
  name: string;
  spec: CurationRunSpec;
  state: StateDir;
  source: PrSource;
  parallel: number;
  isolation: IsolationMode;
  signal: AbortSignal;
  onEvent: (event: RunEvent) => void;
  /** The run's LLM gateway (it holds the provider key); absent without spec.llm. */
  llm?: LocalLlmEndpoint | undefined;
  keepWorkDirs?: boolean;
  /** Recipe memory shared with later runs of the repository (a directory); absent: this run only. */
  recipeMemoryDir?: string | undefined;
}

const MINING_PAGE = 50;

/** The run's funnel, from the recorded PRs (so re-mining a page after a crash never double-counts). */
export function runFunnel(run: LocalRunState, instances: number): Funnel {
  return addToFunnel(emptyFunnel(), { kept: instances, rejected: run.rejected });
}

async function mine(opts: LocalRunOptions, run: LocalRunState, recorded: boolean): Promise<LocalRunState> {
  const known = new Set(await opts.state.listInstanceIds());
  const rejectedPrs = new Set(run.rejected.map(rejectKey));
  let current = run;
  while (!current.exhausted && known.size < opts.spec.limits.maxPRs && !opts.signal.aborted) {
    const page = await opts.source.nextPage(current.cursor, MINING_PAGE);
    // The run exists once its source has answered: a source that cannot be opened (a wrong
    // path, an unreachable URL) leaves no run.json to hold the name against a corrected retry.
    if (!recorded) {
      await opts.state.saveRun(current);
      recorded = true;
    }
    for (const candidate of page.candidates) {
      if (known.size >= opts.spec.limits.maxPRs) break;
      const spec = SWEInstanceSpec.parse({ ...candidate, runRef: opts.name });
      if (known.has(spec.instanceId)) continue;
      await opts.state.saveInstance({ spec, status: initialStatus({ now: new Date(), maxAttempts: 1 }) });
      known.add(spec.instanceId);
    }
    const newRejects = page.rejected.filter((r) => !rejectedPrs.has(rejectKey(r)));
    for (const r of newRejects) rejectedPrs.add(rejectKey(r));
    current = {
      ...current,
      cursor: page.cursor,
      exhausted: page.exhausted || known.size >= opts.spec.limits.maxPRs,
      rejected: [...current.rejected, ...newRejects],
    };
    // Instances are written before the cursor moves past them: a crash re-mines, never skips.
    await opts.state.saveRun(current);
    const funnel = runFunnel(current, known.size);
    opts.onEvent({
      type: 'mined',
      discovered: funnel.discovered,
      rejected: funnel.rejected,
      instances: known.size,
      exhausted: current.exhausted,
    });
  }
  return current;
}

/**
 * A rerun is the user's "the cause is fixed, try again": an instance that ended Failed for an
 * infrastructure reason (never a verdict) gets its failed stage back with a fresh attempt
 * budget, as `scaleswe retry` gives it (pure). Undefined: nothing to reopen.
 */
export function reopenFailed(status: SWEInstanceStatus, now: Date): SWEInstanceStatus | undefined {
  if (status.phase !== 'Failed' || !isInfraFailure(status.lastError?.reason ?? '')) return undefined;
  const retried = retryFailed(status, now);
  return retried === status ? undefined : retried;
}

/** The env stage's memory: this run's instances of the repository, then the shared memory file. */
async function rememberedRecipes(opts: LocalRunOptions, instance: LocalInstance) {
  const shared = opts.recipeMemoryDir ? await loadRecipeMemory(opts.recipeMemoryDir, instance.spec.repo) : [];
  return rememberedFor(instance.spec, [...(await opts.state.listInstances()), ...shared]);
}

/** Carries out one planned attempt: a sandboxed process, its result recorded before anything else. */
async function runAttempt(opts: LocalRunOptions, instance: LocalInstance, ref: AttemptRef): Promise<void> {
  const id = instance.spec.instanceId;
  opts.onEvent({ type: 'stage-start', instanceId: id, ...ref });
  const workDir = opts.state.workDir(id, ref.stage, ref.attempt);
  const timeoutSeconds = stageTimeoutSeconds(opts.spec.agents.timeouts, ref.stage);
  const result = await attemptInEnvironment(opts, instance, ref, workDir, timeoutSeconds);
  // Interrupted: record nothing, so the stage is simply run again on resume.
  if (!result) return;
  await opts.state.saveStageResult(id, ref.attempt, result);
  if (opts.recipeMemoryDir && ref.stage === 'env' && result.outcome === 'succeeded' && result.recipe)
    await recordRecipe(opts.recipeMemoryDir, instance.spec.repo, {
      instanceId: id,
      createdAt: instance.spec.createdAt,
      recipe: result.recipe,
    });
  if (!opts.keepWorkDirs) await rm(join(workDir, 'ws'), { recursive: true, force: true });
  opts.onEvent({
    type: 'stage-end',
    instanceId: id,
    stage: ref.stage,
    ok: result.outcome !== 'failed',
    reason: result.reason,
    durationMs: result.durationMs,
  });
}

/**
 * The stage process with its prepared environment restored (and released after), and the
 * env stage's environment kept; undefined when interrupted.
 */
async function attemptInEnvironment(
  opts: LocalRunOptions,
  instance: LocalInstance,
  ref: AttemptRef,
  workDir: string,
  timeoutSeconds: number,
): Promise<StageResult | undefined> {
  const store = environmentStore(opts);
  let env: StageEnvironment;
  try {
    env = await environmentForStage(store, instance, ref.stage);
  } catch (error) {
    return environmentFailure(ref.stage, 'EnvironmentRestoreFailed', error);
  }
  try {
    const result = await runStageProcess(
      {
        ...stageInputFor({
          runSpec: opts.spec,
          instance: instance.spec,
          status: instance.status,
          stage: ref.stage,
          // As in a pod: the agents reach the gateway with a token for this attempt, never the key.
          llmEndpoint: opts.llm?.endpointFor(instance.spec, instance.status, ref, timeoutSeconds),
          ...(ref.stage === 'env' && { remembered: await rememberedRecipes(opts, instance) }),
        }),
        ...(env.prepared && { prepared: env.prepared }),
      },
      {
        workDir,
        cacheDir: join(opts.state.root, 'cache'),
        timeoutSeconds,
        isolation: opts.isolation,
        signal: opts.signal,
        binds: env.binds,
        gitMirrors: join(opts.state.root, 'git'),
        llmSocket: opts.llm?.socketPath,
      },
    );
    if (opts.signal.aborted) return undefined;
    return await keepEnvironment(store, instance, { workDir, given: env.prepared?.dir }, result).catch(
      (error) => environmentFailure(ref.stage, 'EnvironmentCaptureFailed', error),
    );
  } finally {
    await env.release();
  }
}

/** Snapshots of prepared environments, one store per state dir. */
function environmentStore(opts: LocalRunOptions): EnvironmentStore {
  const store = STORES.get(opts.state) ?? new EnvironmentStore(opts.state.root);
  STORES.set(opts.state, store);
  return store;
}
const STORES = new WeakMap<StateDir, EnvironmentStore>();

/** A capture or restore that failed here (disk full, I/O): a retried failure of the attempt. */
function environmentFailure(
  stage: Stage,
  reason: 'EnvironmentCaptureFailed' | 'EnvironmentRestoreFailed',
  error: unknown,
): StageResult {
  return {
    stage,
    outcome: 'failed',
    reason,
    message: (error as Error).message ?? String(error),
    tokensUsed: 0,
    durationMs: 0,
    trajectories: [],
  };
}

/** Environments no instance keeps any more are deleted (spec.environment.retention). */
async function collectEnvironments(opts: LocalRunOptions): Promise<void> {
  await environmentStore(opts).collect(await opts.state.listInstances(), opts.spec.environment.retention);
}

/**
 * Drives one instance with the pipeline's planner, as the operator does with pods: observe
 * the recorded attempts, persist the planned status, carry out the planned start or wait.
 */
async function driveInstance(opts: LocalRunOptions, initial: LocalInstance): Promise<void> {
  let instance = initial;
  const id = instance.spec.instanceId;
  const settings = { maxAttempts: opts.spec.agents.maxAttempts, suspend: opts.spec.suspend };
  while (!opts.signal.aborted) {
    const recorded = await opts.state.loadStageResults(id);
    const plan = planAttempt({
      status: instance.status,
      settings,
      observe: ({ stage, attempt }) => {
        const result = recorded.get(`${stage}-${attempt}`);
        return result ? { state: 'result', result } : { state: 'absent' };
      },
      now: new Date(),
    });
    if (JSON.stringify(plan.status) !== JSON.stringify(instance.status)) {
      instance = { ...instance, status: plan.status };
      await opts.state.saveInstance(instance);
    }
    if (plan.start) {
      await runAttempt(opts, instance, plan.start);
    } else if (plan.requeueAfterMs !== undefined) {
      const err = instance.status.lastError;
      if (err?.stage && instance.status.retryAfter)
        opts.onEvent({
          type: 'retry',
          instanceId: id,
          stage: err.stage,
          reason: err.reason,
          retryAfter: instance.status.retryAfter,
        });
      await sleep(plan.requeueAfterMs, undefined, { signal: opts.signal }).catch(() => undefined);
    } else {
      break;
    }
  }
  if (isTerminal(instance.status)) {
    await collectEnvironments(opts);
    opts.onEvent(instanceDone(instance, false));
  }
}

function instanceDone(instance: LocalInstance, resumed: boolean): RunEvent {
  return {
    type: 'instance-done',
    instanceId: instance.spec.instanceId,
    phase: instance.status.phase ?? 'Pending',
    reason: instance.status.lastError?.reason,
    stage: endStage(instance.status),
    resumed,
  };
}

/** Runs `items` through `worker` with at most `limit` in flight. */
export async function pool<T>(
  items: readonly T[],
  limit: number,
  worker: (item: T) => Promise<void>,
): Promise<void> {
  let next = 0;
  const lanes = Array.from({ length: Math.min(limit, items.length) }, async () => {
    while (next < items.length) await worker(items[next++]!);
  });
  await Promise.all(lanes);
}

/** The solve stage (spec.solve) of every Verified instance that has no solve summary yet. */
async function solveVerified(opts: LocalRunOptions): Promise<void> {
  const settings = opts.spec.solve;
  if (!settings || opts.signal.aborted) return;
  const unsolved = (await opts.state.listInstances()).filter((i) => wantsSolve(i.status, true));
  const solveOptions = {
    spec: opts.spec,
    solve: settings,
    state: opts.state,
    store: environmentStore(opts),
    llm: opts.llm,
    isolation: opts.isolation,
    signal: opts.signal,
    keepWorkDirs: opts.keepWorkDirs,
    onAttempt: (a: SolveAttempt) =>
      opts.onEvent({
        type: 'solve-attempt',
        instanceId: a.instanceId,
        attempt: a.attempt,
        of: settings.attempts,
        ...(a.grade && { resolved: a.grade.resolved }),
        reason: a.grade ? `${a.ending ?? ''} ${a.grade.reason}`.trim() : (a.error?.reason ?? ''),
      }),
  };
  await pool(unsolved, opts.parallel, async (instance) => {
    await solveLocal(solveOptions, instance);
  });
}

/**
 * The whole pipeline on this machine: mine, then every instance through its stages.
 * Resumable; `spec.suspend` stops before mining or starting any stage, as in the cluster.
 */
export async function runLocal(
  opts: LocalRunOptions,
): Promise<{ run: LocalRunState; instances: LocalInstance[] }> {
  await opts.state.removeAbandonedWrites();
  const existing = await opts.state.loadRun();
  let run: LocalRunState = existing ?? {
    name: opts.name,
    spec: opts.spec,
    exhausted: false,
    rejected: [],
    startedAt: new Date().toISOString(),
  };
  if (opts.spec.suspend) {
    if (!existing) await opts.state.saveRun(run);
    opts.onEvent({ type: 'suspended' });
    return { run, instances: await opts.state.listInstances() };
  }
  // Snapshots of instances finished in an earlier run, or of a capture a kill cut short.
  await collectEnvironments(opts);
  run = await mine(opts, run, existing !== undefined);
  const known: LocalInstance[] = [];
  for (const instance of await opts.state.listInstances()) {
    const reopened = reopenFailed(instance.status, new Date());
    if (reopened) await opts.state.saveInstance({ ...instance, status: reopened });
    known.push(reopened ? { ...instance, status: reopened } : instance);
  }
  for (const done of known.filter((i) => isTerminal(i.status))) opts.onEvent(instanceDone(done, true));
  const pending = known.filter((i) => !isTerminal(i.status));
  await pool(pending, opts.parallel, (instance) => driveInstance(opts, instance));
  await solveVerified(opts);
  const instances = await opts.state.listInstances();
  if (!opts.signal.aborted) {
    // The cluster's status.cost, from the recorded attempts (run.json's counts-only summary).
    const cost = opts.spec.llm
      ? runCostStatus(runCost(instances, await opts.state.listSolveAttempts(), opts.spec.llm.price))
      : undefined;
    const completed = instances.every((i) => isTerminal(i.status));
    run = {
      ...run,
      ...(cost && { cost }),
      ...(completed && { completedAt: new Date().toISOString() }),
    };
    await opts.state.saveRun(run);
  }
  return { run, instances };
}
