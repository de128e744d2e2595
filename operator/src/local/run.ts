import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  type CurationRunSpec,
  type Stage,
  type StageInput,
  SWEInstanceSpec,
  type SWEInstanceStatus,
} from '../api/index.ts';
import type { PrSource } from '../mining/types.ts';
import {
  applyStageFailure,
  applyStageResult,
  initialStatus,
  nextStage,
  stageInputFor,
  startStage,
} from '../pipeline/pipeline.ts';
import { type IsolationMode, runStageProcess, type StageOutcomeLocal } from './executor.ts';
import type { LocalInstance, LocalRunState, StateDir } from './state.ts';

export type RunEvent =
  | { type: 'mined'; discovered: number; instances: number; rejected: number; exhausted: boolean }
  | { type: 'stage-start'; instanceId: string; stage: Stage; attempt: number }
  | { type: 'stage-end'; instanceId: string; stage: Stage; ok: boolean; reason: string; durationMs: number }
  | { type: 'instance-done'; instanceId: string; phase: string; reason?: string | undefined };

export interface LocalRunOptions {
  name: string;
  spec: CurationRunSpec;
  state: StateDir;
  source: PrSource;
  parallel: number;
  isolation: IsolationMode;
  signal: AbortSignal;
  onEvent: (event: RunEvent) => void;
  /** Provider key for the agents; passed to them by environment, never written to disk. */
  llmApiKey?: string | undefined;
  keepWorkDirs?: boolean;
}

const STAGE_TIMEOUT_KEY: Record<Stage, keyof CurationRunSpec['agents']['timeouts']> = {
  env: 'envSeconds',
  tests: 'testsSeconds',
  prompt: 'promptSeconds',
  verify: 'verifySeconds',
};
const MINING_PAGE = 50;

/** Funnel counts are derived from the recorded PRs, so re-mining a page after a crash never double-counts. */
export function funnel(run: LocalRunState, instances: number) {
  const rejectedByReason: Record<string, number> = {};
  for (const r of run.rejected) rejectedByReason[r.reason] = (rejectedByReason[r.reason] ?? 0) + 1;
  return { discovered: run.rejected.length + instances, rejected: run.rejected.length, rejectedByReason };
}

async function mine(opts: LocalRunOptions, run: LocalRunState): Promise<LocalRunState> {
  const known = new Set(await opts.state.listInstanceIds());
  const rejectedPrs = new Set(run.rejected.map((r) => r.pullNumber));
  let current = run;
  while (!current.exhausted && known.size < opts.spec.limits.maxPRs && !opts.signal.aborted) {
    const page = await opts.source.nextPage(current.cursor, MINING_PAGE);
    for (const candidate of page.candidates) {
      if (known.size >= opts.spec.limits.maxPRs) break;
      const spec = SWEInstanceSpec.parse({ ...candidate, runRef: opts.name });
      if (known.has(spec.instanceId)) continue;
      await opts.state.saveInstance({
        spec,
        status: initialStatus({ now: new Date(), maxAttempts: 1 }),
        stageDurationsMs: {},
      });
      known.add(spec.instanceId);
    }
    const newRejects = page.rejected.filter((r) => !rejectedPrs.has(r.pullNumber));
    for (const r of newRejects) rejectedPrs.add(r.pullNumber);
    current = {
      ...current,
      cursor: page.cursor,
      exhausted: page.exhausted || known.size >= opts.spec.limits.maxPRs,
      rejected: [...current.rejected, ...newRejects],
    };
    // Instances are written before the cursor moves past them: a crash re-mines, never skips.
    await opts.state.saveRun(current);
    const counts = funnel(current, known.size);
    opts.onEvent({ type: 'mined', ...counts, instances: known.size, exhausted: current.exhausted });
  }
  return current;
}

function stageInput(opts: LocalRunOptions, instance: LocalInstance, stage: Stage): StageInput {
  const llm = opts.spec.llm;
  // Locally the agents call the provider directly; the key travels by environment.
  return stageInputFor({
    runSpec: opts.spec,
    instance: instance.spec,
    status: instance.status,
    stage,
    llmEndpoint: llm ? { baseURL: llm.baseURL } : undefined,
  });
}

async function waitForRetry(status: SWEInstanceStatus, signal: AbortSignal): Promise<void> {
  const delay = status.retryAfter ? Date.parse(status.retryAfter) - Date.now() : 0;
  if (delay > 0) await sleep(delay, undefined, { signal }).catch(() => undefined);
}

/** Drives one instance through its remaining stages; every transition is persisted first. */
async function processInstance(opts: LocalRunOptions, initial: LocalInstance): Promise<void> {
  let instance = initial;
  const maxAttempts = opts.spec.agents.maxAttempts;
  for (let stage = nextStage(instance.status); stage; stage = nextStage(instance.status)) {
    await waitForRetry(instance.status, opts.signal);
    if (opts.signal.aborted) return;
    const attempt = (instance.status.attempts?.[stage] ?? 0) + 1;
    const id = instance.spec.instanceId;
    // A result recorded before a kill is applied, not redone: the run died after the result
    // file was written but before the instance file caught up.
    const recalled = await opts.state.loadStageResult(id, stage, attempt);
    let outcome: StageOutcomeLocal;
    let durationMs: number;
    if (recalled) {
      outcome = { ok: true, result: recalled.result };
      durationMs = recalled.durationMs;
    } else {
      instance = {
        ...instance,
        status: startStage(instance.status, stage, { now: new Date(), maxAttempts }),
      };
      await opts.state.saveInstance(instance);
      opts.onEvent({ type: 'stage-start', instanceId: id, stage, attempt });
      const started = Date.now();
      outcome = await runStageProcess(stageInput(opts, instance, stage), {
        workDir: opts.state.workDir(id, stage, attempt),
        cacheDir: join(opts.state.root, 'cache'),
        timeoutSeconds: opts.spec.agents.timeouts[STAGE_TIMEOUT_KEY[stage]],
        isolation: opts.isolation,
        signal: opts.signal,
        env: opts.llmApiKey ? { SCALESWE_LLM_API_KEY: opts.llmApiKey } : {},
      });
      // Interrupted: record nothing, so the stage is simply run again on resume.
      if (opts.signal.aborted) return;
      durationMs = Date.now() - started;
      if (outcome.ok) await opts.state.saveStageResult(id, attempt, outcome.result, durationMs);
    }
    const now = new Date();
    let status: SWEInstanceStatus;
    if (outcome.ok) {
      status = applyStageResult(instance.status, outcome.result, { now, maxAttempts });
    } else {
      status = applyStageFailure(instance.status, stage, outcome.reason, outcome.message, {
        now,
        maxAttempts,
      });
    }
    instance = {
      ...instance,
      status,
      stageDurationsMs: { ...instance.stageDurationsMs, [stage]: durationMs },
    };
    await opts.state.saveInstance(instance);
    if (!opts.keepWorkDirs)
      await rm(join(opts.state.workDir(id, stage, attempt), 'ws'), { recursive: true, force: true });
    const reason = outcome.ok ? outcome.result.reason : outcome.reason;
    opts.onEvent({
      type: 'stage-end',
      instanceId: instance.spec.instanceId,
      stage,
      ok: outcome.ok,
      reason,
      durationMs,
    });
  }
  opts.onEvent({
    type: 'instance-done',
    instanceId: instance.spec.instanceId,
    phase: instance.status.phase ?? 'Pending',
    reason: instance.status.lastError?.reason,
  });
}

/** Runs `items` through `worker` with at most `limit` in flight. */
async function pool<T>(
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

/** The whole pipeline on this machine: mine, then every instance through its stages. Resumable. */
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
  if (!existing) await opts.state.saveRun(run);
  run = await mine(opts, run);
  const pending = (await opts.state.listInstances()).filter((i) => nextStage(i.status) !== undefined);
  await pool(pending, opts.parallel, (instance) => processInstance(opts, instance));
  const instances = await opts.state.listInstances();
  if (!opts.signal.aborted && instances.every((i) => nextStage(i.status) === undefined)) {
    run = { ...run, completedAt: new Date().toISOString() };
    await opts.state.saveRun(run);
  }
  return { run, instances };
}
