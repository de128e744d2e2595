import type {
  CurationRunSpec,
  InstanceRecord,
  PatchGrade,
  SolveAttempt,
  SolveAttemptStatus,
  SolveGrade,
  SolveSettings,
  SolveSummary,
  StageInput,
  StageResult,
  SWEInstanceStatus,
  Trajectory,
} from '../api/index.ts';
import { stageInputFor } from './pipeline.ts';

/**
 * The solve stage as pure functions: an attempt's grade from the grading run, the instance's
 * summary (solve rate, pass@k) from its attempts. Shared by both drivers and the export.
 */

/**
 * Unbiased pass@k (Chen et al. 2021, "Evaluating Large Language Models Trained on Code"):
 * 1 - C(n-c, k) / C(n, k) for n samples of which c are correct, as a stable product.
 * Undefined when n < k (no unbiased estimate).
 */
export function passAtK(n: number, c: number, k: number): number | undefined {
  if (!Number.isInteger(n) || !Number.isInteger(c) || !Number.isInteger(k) || k < 1 || c < 0 || c > n)
    return undefined;
  if (n < k) return undefined;
  if (n - c < k) return 1;
  let fail = 1;
  for (let i = n - c + 1; i <= n; i++) fail *= 1 - k / i;
  return 1 - fail;
}

/** What a patch did to the labelled tests: resolved iff every F2P passes and no P2P breaks. */
export function gradeOf(grade: PatchGrade): SolveGrade {
  const f2p = grade.FAIL_TO_PASS;
  const p2p = grade.PASS_TO_PASS;
  return {
    resolved: f2p.failure.length === 0 && f2p.success.length > 0 && p2p.failure.length === 0,
    failToPassPassed: f2p.success.length,
    failToPassTotal: f2p.success.length + f2p.failure.length,
    passToPassBroken: p2p.failure.length,
    reason: 'Graded',
  };
}

/**
 * The grade of a solve attempt from its grading run: an empty patch is unresolved without a
 * run; a patch that does not apply is unresolved; a grading run that gave no evidence (setup
 * replay or test run failed) is an infrastructure error, not a grade.
 */
export function attemptGrade(
  patch: string,
  grading: StageResult | undefined,
  labels: { FAIL_TO_PASS?: string[] | undefined },
): { grade: SolveGrade } | { error: { reason: string; message: string } } {
  const f2pTotal = labels.FAIL_TO_PASS?.length ?? 0;
  const unresolved = (reason: string) => ({
    grade: { resolved: false, failToPassPassed: 0, failToPassTotal: f2pTotal, passToPassBroken: 0, reason },
  });
  if (!patch.trim()) return unresolved('EmptyPatch');
  if (!grading) return { error: { reason: 'NotGraded', message: 'no grading run' } };
  if (grading.outcome === 'rejected' && grading.reason === 'PatchDoesNotApply')
    return unresolved('PatchDoesNotApply');
  if (grading.outcome !== 'succeeded' || !grading.grade)
    return { error: { reason: grading.reason, message: grading.message } };
  return { grade: gradeOf(grading.grade) };
}

/** The instance's solve summary from its recorded attempts (k: spec.solve.attempts). */
export function solveSummary(
  attempts: ReadonlyArray<{
    grade?: SolveGrade | undefined;
    tokensUsed?: number | undefined;
    inputTokens?: number | undefined;
    outputTokens?: number | undefined;
  }>,
  k: number,
): SolveSummary {
  const graded = attempts.filter((a) => a.grade !== undefined);
  const resolved = graded.filter((a) => a.grade?.resolved).length;
  const pass = passAtK(graded.length, resolved, k);
  return {
    attempts: graded.length,
    resolved,
    ...(graded.length > 0 && { solveRate: resolved / graded.length }),
    k,
    ...(pass !== undefined && { passAtK: pass }),
    failedAttempts: attempts.length - graded.length,
    // Every attempt paid for its tokens, graded or not: what the run's solve cost adds up.
    tokensUsed: sum(attempts, (a) => a.tokensUsed ?? 0),
    inputTokens: sum(attempts, (a) => a.inputTokens ?? 0),
    outputTokens: sum(attempts, (a) => a.outputTokens ?? 0),
  };
}

const sum = <T>(items: readonly T[], of: (item: T) => number) => items.reduce((n, i) => n + of(i), 0);

/** A Verified instance the run should still solve (spec.solve set, no summary recorded yet). */
export function wantsSolve(status: SWEInstanceStatus | undefined, solveEnabled: boolean): boolean {
  return solveEnabled && status?.phase === 'Verified' && status.solve === undefined;
}

/**
 * A solve attempt's LLM grant is the verify stage's, numbered apart from verify's own attempts
 * (agents.maxAttempts <= 10): 1000 * try + attempt (spec.solve.attempts <= 100). The gateway
 * names the attempt's trajectory by it, so a retried agent pod gets a trajectory of its own.
 */
export const SOLVE_GRANT_BASE = 1000;

export function solveGrant(attempt: number, podTry = 1): number {
  return SOLVE_GRANT_BASE * podTry + attempt;
}

/** The (attempt, try) of a verify-stage grant number, undefined for the verify stage's own. */
export function solveOfGrant(grant: number): { attempt: number; podTry: number } | undefined {
  if (grant < SOLVE_GRANT_BASE) return undefined;
  return { attempt: grant % SOLVE_GRANT_BASE, podTry: Math.floor(grant / SOLVE_GRANT_BASE) };
}

/**
 * What the solving agent may see of an instance, from the verify stage's input (`base`): the
 * base commit and how to set it up — no gold patch, no test patch, no PR or issue text (the
 * statement comes in the solve request), no labels, no history past base. Pure; both drivers.
 */
export function solveInputFrom(
  base: StageInput,
  settings: SolveSettings,
  instance: InstanceRecord,
): StageInput {
  // Nor where the PR content is kept (its ref counts the fix's files and lines).
  const { mergeCommit: _merge, mergedAt: _mergedAt, prContent: _pr, ...visible } = instance.spec;
  const previous = base.previous;
  return {
    ...base,
    instance: { ...visible, title: '', body: '', patch: '', testPatch: '', issues: [] },
    previous: {
      ...(previous.recipe && { recipe: previous.recipe }),
      ...(previous.environment && { environment: previous.environment }),
    },
    solve: { problemStatement: instance.status?.problemStatement ?? '', maxTurns: settings.maxTurns },
    config: {
      ...base.config,
      ...(base.config.llm && { llm: { ...base.config.llm, tokenBudget: settings.maxTokens } }),
    },
  };
}

/** The solve input of the local driver (its own LLM endpoint). */
export function solveInput(
  spec: CurationRunSpec,
  settings: SolveSettings,
  instance: InstanceRecord,
  llmEndpoint: { baseURL: string; apiKey?: string | undefined } | undefined,
): StageInput {
  const base = stageInputFor({
    runSpec: spec,
    instance: instance.spec,
    status: instance.status,
    stage: 'verify',
    llmEndpoint,
  });
  return solveInputFrom(base, settings, instance);
}

/**
 * A cluster attempt as the export's record (the local driver's shape), with its trajectory
 * from the gateway (SolveAgent). Undefined while the attempt is not Done. Pure.
 */
export function solveAttemptOf(
  instanceId: string,
  recorded: SolveAttemptStatus,
  trajectory: Trajectory | undefined,
): SolveAttempt | undefined {
  if (recorded.phase !== 'Done') return undefined;
  return {
    instanceId,
    attempt: recorded.attempt,
    ...(recorded.ending && { ending: recorded.ending }),
    patch: recorded.patch ?? '',
    ...(recorded.grade && { grade: recorded.grade }),
    ...(recorded.error && { error: recorded.error }),
    tokensUsed: recorded.tokensUsed,
    ...(recorded.inputTokens !== undefined && { inputTokens: recorded.inputTokens }),
    ...(recorded.outputTokens !== undefined && { outputTokens: recorded.outputTokens }),
    durationMs: recorded.durationMs,
    ...(trajectory && { trajectory: { ...trajectory, agent: 'SolveAgent' } }),
  };
}
