import { TokenBudgetExhausted } from '../llm/client.ts';
import { shellQuote, truncateMiddle } from './exec.ts';
import { findLeaks, type LeakFinding } from './leak.ts';
import type { StageContext } from './stage-context.ts';
import type { StageOutput } from './stage-output.ts';
import { createWorkspace, git } from './workspace.ts';

type Source = 'issue' | 'pr' | 'llm';

/**
 * PromptAgent: the linked issues' text when there are any (SWE-bench's problem_statement);
 * otherwise a statement the LLM writes from PR title/body/diff; otherwise (no LLM) the PR
 * title and body. Every statement then passes the pure leak check, and the LLM judge when
 * configured. Issue text is only checked for verbatim fix lines: an issue may legitimately
 * name the API it asks for.
 */
export async function runPromptStage(ctx: StageContext): Promise<StageOutput> {
  const { instance } = ctx.input;
  const hintsText = instance.issues.flatMap((i) => i.hints).join('\n\n');
  let statement: string;
  let source: Source;
  // The git source knows linked issue numbers but not their text: only issues with text count.
  const describedIssues = instance.issues.filter((i) => `${i.title}${i.body}`.trim() !== '');
  if (describedIssues.length > 0) {
    statement = describedIssues.map((i) => `${i.title}\n${i.body}`.trim()).join('\n\n');
    source = 'issue';
  } else if (ctx.llm) {
    try {
      statement = await synthesize(ctx);
    } catch (err) {
      if (err instanceof TokenBudgetExhausted)
        return { outcome: 'rejected', reason: 'TokenBudgetExhausted', message: err.message };
      return {
        outcome: 'failed',
        reason: 'LlmUnavailable',
        message: `PromptAgent: ${(err as Error).message}`,
      };
    }
    source = 'llm';
  } else {
    statement = `${instance.title}\n${instance.body}`.trim();
    source = 'pr';
  }
  if (!statement.trim()) {
    return {
      outcome: 'rejected',
      reason: 'NoProblemStatement',
      message: 'no issue, no PR text and no LLM to write one',
    };
  }
  const existsAtBase = source === 'issue' ? undefined : await baseIdentifierLookup(ctx);
  const findings = findLeaks(statement, instance.patch, {
    identifiers: source !== 'issue',
    ...(existsAtBase ? { existsAtBase } : {}),
  });
  const common = { problemStatement: statement, problemStatementSource: source, hintsText };
  if (findings.length > 0) {
    return {
      ...common,
      outcome: 'rejected',
      reason: 'StatementLeaksSolution',
      message: `${source} statement leaks the fix: ${describe(findings)}`,
    };
  }
  let judged = 'no LLM judge';
  if (ctx.llm) {
    let verdict: { leaks: boolean; reason: string } | undefined;
    try {
      verdict = await judge(ctx, statement);
    } catch (err) {
      if (err instanceof TokenBudgetExhausted)
        return { outcome: 'rejected', reason: 'TokenBudgetExhausted', message: err.message };
      return { outcome: 'failed', reason: 'LlmUnavailable', message: `LeakJudge: ${(err as Error).message}` };
    }
    if (verdict?.leaks) {
      return {
        ...common,
        outcome: 'rejected',
        reason: 'StatementLeaksSolution',
        message: `LLM judge: ${verdict.reason}`,
      };
    }
    // An unreadable verdict does not block: the pure check already passed.
    judged = verdict ? `LLM judge: no leak (${verdict.reason})` : 'LLM judge gave no readable verdict';
  }
  return {
    ...common,
    outcome: 'succeeded',
    reason: 'PromptReady',
    message: `problem statement from ${source}; leak check passed; ${judged}`,
  };
}

function describe(findings: LeakFinding[]): string {
  return findings
    .slice(0, 5)
    .map((f) => (f.kind === 'addedLine' ? `line "${f.text}"` : `new identifier ${f.text}`))
    .join(', ');
}

/** Which identifiers exist at base: a `git grep -w` in a base-only checkout (best effort). */
async function baseIdentifierLookup(ctx: StageContext): Promise<((id: string) => boolean) | undefined> {
  const { instance } = ctx.input;
  try {
    const ws = await createWorkspace(instance.cloneURL, instance.baseCommit, await ctx.dir('prompt'));
    const cache = new Map<string, boolean>();
    const ids = new Set((instance.patch.match(/[A-Za-z_][A-Za-z0-9_]*/g) ?? []).filter((x) => x.length >= 4));
    for (const id of ids) cache.set(id, (await git(ws.dir, `grep -q -w -F -e ${shellQuote(id)}`)).code === 0);
    return (id) => cache.get(id) ?? false;
  } catch (err) {
    ctx.log.warn(`prompt: base checkout for the leak check failed: ${(err as Error).message}`);
    return undefined;
  }
}

const WRITER_SYSTEM = `You write the problem statement of a software-engineering task, as a GitHub issue a user
would file BEFORE the fix existed. Describe the observed wrong behaviour, how to reproduce it and
what is expected. Never describe the solution: no code from the fix, no names of functions,
variables or files the fix introduces, no hints about how to implement it. Reply with the
statement only (markdown), no preamble.`;

async function synthesize(ctx: StageContext): Promise<string> {
  const i = ctx.input.instance;
  const t = ctx.recorder.start('PromptAgent');
  const reply = await ctx.llm!.chat(t, {
    messages: [
      { role: 'system', content: WRITER_SYSTEM },
      {
        role: 'user',
        content: `PR title: ${i.title}\nPR description:\n${truncateMiddle(i.body, 4000)}\n\nThe fix (for your understanding only; do not reveal it):\n${truncateMiddle(i.patch, 10000)}\n\nTests added with the fix:\n${truncateMiddle(ctx.input.previous.fullTestPatch || i.testPatch, 6000)}`,
      },
    ],
  });
  return (reply.choices[0]?.message.content ?? '').trim();
}

const JUDGE_SYSTEM = `You check whether a problem statement leaks the solution of a coding task. It leaks
if it contains code from the fix, names new functions/variables/files the fix introduces, or
spells out how to implement the fix. Describing the symptom and the expected behaviour is fine.
Answer with JSON only: {"leaks": true|false, "reason": "..."}`;

/** Undefined when the judge's answer could not be read (the pure check already passed). */
async function judge(
  ctx: StageContext,
  statement: string,
): Promise<{ leaks: boolean; reason: string } | undefined> {
  const t = ctx.recorder.start('LeakJudge');
  const reply = await ctx.llm!.chat(t, {
    messages: [
      { role: 'system', content: JUDGE_SYSTEM },
      {
        role: 'user',
        content: `Problem statement:\n${truncateMiddle(statement, 6000)}\n\nThe fix:\n${truncateMiddle(ctx.input.instance.patch, 10000)}`,
      },
    ],
  });
  return parseVerdict(reply.choices[0]?.message.content ?? '');
}

export function parseVerdict(text: string): { leaks: boolean; reason: string } | undefined {
  const m = /\{[\s\S]*\}/.exec(text);
  if (!m) return undefined;
  try {
    const v = JSON.parse(m[0]) as { leaks?: unknown; reason?: unknown };
    if (typeof v.leaks !== 'boolean') return undefined;
    return { leaks: v.leaks, reason: String(v.reason ?? '') };
  } catch {
    return undefined;
  }
}
