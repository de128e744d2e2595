import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import {
  type CurationRunSpec,
  type InstanceRecord,
  type SolveAttempt,
  type SolveSettings,
  type StageInput,
  type StageResult,
  stageTimeoutSeconds,
} from '../api/index.ts';
import { stageInputFor } from '../pipeline/pipeline.ts';
import { attemptGrade, solveGrant, solveInput, solveSummary } from '../pipeline/solve.ts';
import { type EnvironmentStore, environmentForStage, type StageEnvironment } from './environments.ts';
import { type IsolationMode, runStageProcess } from './executor.ts';
import type { LocalLlmEndpoint } from './llm-gateway.ts';
import { instanceSegment, type LocalInstance, type StateDir } from './state.ts';

export interface LocalSolveOptions {
  spec: CurationRunSpec;
  solve: SolveSettings;
  state: StateDir;
  store: EnvironmentStore;
  llm: LocalLlmEndpoint | undefined;
  isolation: IsolationMode;
  signal: AbortSignal;
  keepWorkDirs?: boolean | undefined;
  /** Called when an attempt is recorded. */
  onAttempt?: ((attempt: SolveAttempt) => void) | undefined;
}

/** One stage process in a freshly restored environment of the instance (a replay without one). */
async function inFreshEnvironment(
  opts: LocalSolveOptions,
  instance: InstanceRecord,
  input: StageInput,
  workDir: string,
): Promise<StageResult> {
  let env: StageEnvironment = { binds: [], release: async () => undefined };
  try {
    env = await environmentForStage(opts.store, instance, 'verify');
  } catch {
    // No snapshot to restore: the stage replays the recorded recipe.
  }
  try {
    return await runStageProcess(
      { ...input, ...(env.prepared && { prepared: env.prepared }) },
      {
        workDir,
        cacheDir: join(opts.state.root, 'cache'),
        timeoutSeconds: stageTimeoutSeconds(opts.spec.agents.timeouts, 'verify'),
        isolation: opts.isolation,
        signal: opts.signal,
        binds: env.binds,
        gitMirrors: join(opts.state.root, 'git'),
        llmSocket: opts.llm?.socketPath,
      },
    );
  } finally {
    await env.release();
    if (!opts.keepWorkDirs)
      await rm(join(workDir, 'ws'), { recursive: true, force: true }).catch(() => undefined);
  }
}

/**
 * One solve attempt: the agent solves in one restored environment, its patch is graded in
 * another (the grader of `scaleswe eval`), the attempt is recorded. Undefined when interrupted.
 */
async function solveAttempt(
  opts: LocalSolveOptions,
  instance: LocalInstance,
  attempt: number,
): Promise<SolveAttempt | undefined> {
  const id = instance.spec.instanceId;
  const dir = join(opts.state.root, 'work', instanceSegment(id), `solve-${attempt}`);
  const timeoutSeconds = stageTimeoutSeconds(opts.spec.agents.timeouts, 'verify');
  const endpoint = opts.llm?.endpointFor(
    instance.spec,
    instance.status,
    { stage: 'verify', attempt: solveGrant(attempt) },
    timeoutSeconds,
    opts.solve.maxTokens,
  );
  const solved = await inFreshEnvironment(
    opts,
    instance,
    solveInput(opts.spec, opts.solve, instance, endpoint),
    join(dir, 'solve'),
  );
  if (opts.signal.aborted) return undefined;
  const trajectory = solved.trajectories.find((t) => t.agent === 'SolveAgent');
  const common = {
    instanceId: id,
    attempt,
    tokensUsed: solved.tokensUsed,
    ...(solved.inputTokens !== undefined && { inputTokens: solved.inputTokens }),
    ...(solved.outputTokens !== undefined && { outputTokens: solved.outputTokens }),
    durationMs: solved.durationMs,
    ...(trajectory && { trajectory }),
  };
  if (solved.outcome !== 'succeeded' || !solved.solve)
    return { ...common, patch: '', error: { reason: solved.reason, message: solved.message } };
  const patch = solved.solve.patch;
  let grading: StageResult | undefined;
  if (patch.trim()) {
    const input = {
      ...stageInputFor({
        runSpec: opts.spec,
        instance: instance.spec,
        status: instance.status,
        stage: 'verify',
      }),
      grade: { modelPatch: patch },
    };
    grading = await inFreshEnvironment(opts, instance, input, join(dir, 'grade'));
    if (opts.signal.aborted) return undefined;
  }
  return {
    ...common,
    ending: solved.solve.ending,
    patch,
    ...attemptGrade(patch, grading, instance.status ?? {}),
  };
}

/**
 * The solve stage of a Verified instance (spec.solve): the attempts not recorded yet, then the
 * summary in status.solve. The verdict stays as it is whatever the attempts do. Returns the
 * instance as saved (unchanged when interrupted).
 */
export async function solveLocal(opts: LocalSolveOptions, instance: LocalInstance): Promise<LocalInstance> {
  const id = instance.spec.instanceId;
  const recorded = new Set((await opts.state.loadSolveAttempts(id)).map((a) => a.attempt));
  for (let attempt = 1; attempt <= opts.solve.attempts; attempt++) {
    if (recorded.has(attempt)) continue;
    if (opts.signal.aborted) return instance;
    const result = await solveAttempt(opts, instance, attempt);
    if (!result) return instance;
    await opts.state.saveSolveAttempt(result);
    opts.onAttempt?.(result);
  }
  const attempts = await opts.state.loadSolveAttempts(id);
  const updated = {
    ...instance,
    status: { ...instance.status, solve: solveSummary(attempts, opts.solve.attempts) },
  };
  await opts.state.saveInstance(updated);
  return updated;
}
