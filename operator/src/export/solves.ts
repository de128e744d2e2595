import type { SolveAttempt } from '../api/index.ts';
import { type ChatExample, toChatExample } from './trajectories.ts';

/** Labels of one solves.jsonl line (solves.meta.jsonl, same order). */
export interface SolveLabels {
  instance_id: string;
  attempt: number;
  resolved: boolean;
  /** Graded, EmptyPatch or PatchDoesNotApply. */
  grade_reason: string;
  fail_to_pass_passed: number;
  fail_to_pass_total: number;
  pass_to_pass_broken: number;
  /** How the agent loop ended: Submitted, MaxTurns, BudgetExhausted or ContextExceeded. */
  ending: string;
  steps: number;
  total_tokens: number;
  patch: string;
}

export interface SolveFilter {
  /** Unresolved attempts too (`--all-solves`), for rejection sampling and RL; default resolved only. */
  allSolves?: boolean;
  /**
   * `--solve-weights`: every assistant message gets the OpenAI fine-tuning chat format's
   * per-message `weight` — 1 in resolved attempts, 0 in unresolved ones (with `allSolves`, the
   * unresolved conversations stay as context without being learned). Other roles take no weight.
   */
  solveWeights?: boolean;
}

/**
 * The solve attempts as fine-tuning examples (`{messages, tools}`, the trajectories.jsonl
 * shape) with their labels: graded attempts with a trajectory, resolved ones only unless
 * `allSolves`. Attempts that failed on infrastructure (no grade) are never examples. Pure.
 */
export function solveExamples(
  attempts: readonly SolveAttempt[],
  filter: SolveFilter = {},
): { example: ChatExample; labels: SolveLabels }[] {
  const out: { example: ChatExample; labels: SolveLabels }[] = [];
  for (const a of attempts) {
    if (!a.grade || !a.trajectory) continue;
    if (!a.grade.resolved && !filter.allSolves) continue;
    const chat = toChatExample(a.trajectory);
    if (!chat) continue;
    const example = filter.solveWeights ? weighted(chat, a.grade.resolved ? 1 : 0) : chat;
    out.push({
      example,
      labels: {
        instance_id: a.instanceId,
        attempt: a.attempt,
        resolved: a.grade.resolved,
        grade_reason: a.grade.reason,
        fail_to_pass_passed: a.grade.failToPassPassed,
        fail_to_pass_total: a.grade.failToPassTotal,
        pass_to_pass_broken: a.grade.passToPassBroken,
        ending: a.ending ?? '',
        steps: a.trajectory.steps.length,
        total_tokens: a.tokensUsed,
        // The split llm.price prices; absent in attempts recorded before it.
        ...(a.inputTokens !== undefined && { prompt_tokens: a.inputTokens }),
        ...(a.outputTokens !== undefined && { completion_tokens: a.outputTokens }),
        patch: a.patch,
      },
    });
  }
  return out;
}

/** The example with `weight` on each assistant message (fine-tuning accepts it there only). */
function weighted(example: ChatExample, weight: 0 | 1): ChatExample {
  return {
    ...example,
    messages: example.messages.map((m) =>
      m !== null && typeof m === 'object' && (m as { role?: unknown }).role === 'assistant'
        ? { ...m, weight }
        : m,
    ),
  };
}
