import type { ChatMessage, ChatTool, Llm } from '../llm/client.ts';
import { TokenBudgetExhausted } from '../llm/client.ts';
import { truncateMiddle } from './exec.ts';

/** A tool the model may call. `run` returns text for the model, or `{ done }` to end the loop. */
export interface Tool<T = unknown> {
  name: string;
  description: string;
  parameters: Record<string, unknown>;
  run(args: Record<string, unknown>): Promise<string | { done: T }>;
}

export type LoopOutcome<T> =
  | { status: 'done'; value: T; turns: number }
  | { status: 'maxTurns' | 'budget' | 'context' | 'error'; message: string; turns: number };

export interface LoopOptions {
  llm: Llm;
  agent: string;
  system: string;
  user: string;
  tools: Tool[];
  maxTurns: number;
}

/**
 * Chat-completions tool loop: the model acts only through tools, and only `finish`-style
 * tools (returning `{ done }`) end it. Bounded by maxTurns and the token budget.
 */
export async function runToolLoop<T>(opts: LoopOptions): Promise<LoopOutcome<T>> {
  const trajectory = opts.llm.recorder().start(opts.agent);
  const messages: ChatMessage[] = [
    { role: 'system', content: opts.system },
    { role: 'user', content: opts.user },
  ];
  const tools: ChatTool[] = opts.tools.map((t) => ({
    type: 'function',
    function: { name: t.name, description: t.description, parameters: t.parameters },
  }));
  const byName = new Map(opts.tools.map((t) => [t.name, t]));
  for (let turn = 1; turn <= opts.maxTurns; turn++) {
    let reply: Awaited<ReturnType<Llm['chat']>>;
    try {
      reply = await opts.llm.chat(trajectory, { messages: compact(messages), tools, tool_choice: 'auto' });
    } catch (err) {
      if (err instanceof TokenBudgetExhausted)
        return { status: 'budget', message: err.message, turns: turn - 1 };
      // The conversation outgrew the model's window: the loop ends here (a retry would too).
      if (isContextLengthError(err))
        return { status: 'context', message: (err as Error).message, turns: turn - 1 };
      return { status: 'error', message: `LLM request failed: ${(err as Error).message}`, turns: turn - 1 };
    }
    const msg = reply.choices[0]?.message;
    if (!msg) return { status: 'error', message: 'LLM returned no choice', turns: turn };
    const calls = (msg.tool_calls ?? []).filter((c) => c.type === 'function');
    messages.push({
      role: 'assistant',
      content: msg.content ?? null,
      ...(calls.length ? { tool_calls: calls } : {}),
    });
    if (calls.length === 0) {
      messages.push({ role: 'user', content: 'Act through the tools only; call finish when you are done.' });
      continue;
    }
    for (const call of calls) {
      const tool = byName.get(call.function.name);
      let content: string;
      if (!tool) {
        content = `error: unknown tool ${call.function.name}`;
      } else {
        let args: Record<string, unknown>;
        try {
          args = call.function.arguments
            ? (JSON.parse(call.function.arguments) as Record<string, unknown>)
            : {};
        } catch {
          args = {};
          content = 'error: arguments are not valid JSON';
          messages.push({ role: 'tool', tool_call_id: call.id, content });
          continue;
        }
        try {
          const out = await tool.run(args);
          if (typeof out !== 'string') return { status: 'done', value: out.done as T, turns: turn };
          content = out;
        } catch (err) {
          content = `error: ${(err as Error).message}`;
        }
      }
      messages.push({ role: 'tool', tool_call_id: call.id, content });
    }
  }
  return { status: 'maxTurns', message: `no finish after ${opts.maxTurns} turns`, turns: opts.maxTurns };
}

/**
 * A provider's "prompt too long" answer (OpenAI `context_length_exceeded`, or the wording of
 * compatible servers), as the openai client raises it. Pure.
 */
export function isContextLengthError(err: unknown): boolean {
  if (err === null || typeof err !== 'object') return false;
  const e = err as { code?: unknown; status?: unknown; message?: unknown };
  if (e.code === 'context_length_exceeded') return true;
  const message = typeof e.message === 'string' ? e.message : '';
  return (
    (e.status === 400 || e.status === 413) &&
    /context[ _-]?(length|window)|maximum context|too many tokens|prompt is too long/i.test(message)
  );
}

const KEEP_RECENT_TOOL_RESULTS = 8;
const OLD_TOOL_RESULT_CHARS = 1500;

/**
 * The conversation as sent: tool results older than the last few are shortened, so a long
 * loop does not resend megabytes of old command output (prompt tokens count against the budget).
 */
export function compact(messages: ChatMessage[]): ChatMessage[] {
  let recent = 0;
  const out = [...messages];
  for (let i = out.length - 1; i >= 0; i--) {
    const m = out[i]!;
    if (m.role !== 'tool' || typeof m.content !== 'string') continue;
    if (++recent <= KEEP_RECENT_TOOL_RESULTS) continue;
    if (m.content.length > OLD_TOOL_RESULT_CHARS)
      out[i] = { ...m, content: truncateMiddle(m.content, OLD_TOOL_RESULT_CHARS) };
  }
  return out;
}
