import type { InfraFailureReason, StageResultArg } from '../api/index.ts';
import type { LoopOutcome } from './tool-loop.ts';

type Output = Omit<StageResultArg, 'stage' | 'durationMs' | 'tokensUsed' | 'trajectories' | 'logTail'>;

/**
 * What an agent returns; runStage adds stage, timing, tokens, trajectories and the log tail.
 * A `failed` outcome (retried, never a verdict) must name a reason of the failure vocabulary.
 */
export type StageOutput =
  | (Output & { outcome: 'succeeded' | 'rejected' })
  | (Output & { outcome: 'failed'; reason: InfraFailureReason });

/** Maps an unfinished tool loop to an outcome: budget → rejected, LLM error → failed (retryable). */
export function loopFailure(outcome: LoopOutcome<unknown>, reason: string, message: string): StageOutput {
  if (outcome.status === 'budget')
    return { outcome: 'rejected', reason: 'TokenBudgetExhausted', message: `${message}: ${outcome.message}` };
  if (outcome.status === 'error')
    return { outcome: 'failed', reason: 'LlmUnavailable', message: `${message}: ${outcome.message}` };
  return {
    outcome: 'rejected',
    reason,
    message: `${message}: ${outcome.status === 'maxTurns' ? outcome.message : ''}`,
  };
}
