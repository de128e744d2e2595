import type { Trajectory } from '../api/index.ts';

/** One fine-tuning example in OpenAI chat format, with where it came from. */
export interface ChatExample {
  messages: unknown[];
  tools?: unknown[];
  metadata: { instance_id: string; stage: string; agent: string; steps: number; total_tokens: number };
}

interface ChatCompletionLike {
  choices?: { message?: unknown }[];
}

/**
 * Each step's request already carries the whole conversation so far, so one trajectory
 * becomes one example: the last request's messages plus the last response's message.
 */
export function toChatExample(trajectory: Trajectory): ChatExample | undefined {
  const last = trajectory.steps.at(-1);
  if (!last) return undefined;
  const reply = (last.response as ChatCompletionLike).choices?.[0]?.message;
  const tools = (last.request as { tools?: unknown[] }).tools;
  return {
    messages: reply === undefined ? [...last.request.messages] : [...last.request.messages, reply],
    ...(tools && { tools }),
    metadata: {
      instance_id: trajectory.instanceId,
      stage: trajectory.stage,
      agent: trajectory.agent,
      steps: trajectory.steps.length,
      total_tokens: trajectory.steps.reduce((sum, s) => sum + (s.usage?.total_tokens ?? 0), 0),
    },
  };
}
