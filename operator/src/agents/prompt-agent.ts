import { STATEMENT_VERDICTS, type StatementVerdict } from '../api/index.ts';
import { TokenBudgetExhausted } from '../llm/client.ts';
import { shellQuote, truncateMiddle } from './exec.ts';
import { findLeaks, type LeakFinding, testInterfaceNames } from './leak.ts';
import type { StageContext } from './stage-context.ts';
import type { StageOutput } from './stage-output.ts';
import { changeSentences, cleanStatement } from './statement-text.ts';
import { createWorkspace, git } from './workspace.ts';

type Source = 'issue' | 'pr' | 'llm';

/**
 * PromptAgent: the linked issues' text when there are any (SWE-bench's problem_statement);
 * otherwise a statement the LLM writes from PR title/body/diff; otherwise (no LLM) the PR
 * title and body, cleaned of trailers, separators and squash-merge history. Every statement
 * then passes the pure leak check (it may name the interface the tests use, never the fix's
 * code), a sentence check for text that describes the change itself (PR and LLM text), and
 * the LLM judge when configured: only its `ok` passes. Issue text is only checked for verbatim
 * fix lines: an issue may legitimately name the API it asks for.
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
    statement = cleanStatement(`${instance.title}\n${instance.body}`);
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
  const tests = ctx.input.previous.fullTestPatch || instance.testPatch;
  const findings = findLeaks(statement, instance.patch, {
    identifiers: source !== 'issue',
    interfaceNames: testInterfaceNames(tests),
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
  const howSentences = source === 'issue' ? [] : changeSentences(statement);
  if (howSentences.length > 0) {
    return {
      ...common,
      outcome: 'rejected',
      reason: 'StatementDescribesFix',
      message: `${source} statement describes the change itself: ${howSentences
        .slice(0, 3)
        .map((s) => `"${s.sentence.slice(0, 120)}" (${s.why})`)
        .join('; ')}`,
    };
  }
  let judged = 'no LLM judge';
  if (ctx.llm) {
    let verdict: { verdict: StatementVerdict; reason: string } | undefined;
    try {
      verdict = await judge(ctx, statement, tests);
    } catch (err) {
      if (err instanceof TokenBudgetExhausted)
        return { outcome: 'rejected', reason: 'TokenBudgetExhausted', message: err.message };
      return { outcome: 'failed', reason: 'LlmUnavailable', message: `LeakJudge: ${(err as Error).message}` };
    }
    // Only `ok` passes: an answer that cannot be read is the endpoint misbehaving (retried).
    if (!verdict)
      return { outcome: 'failed', reason: 'LlmUnavailable', message: 'LeakJudge gave no readable verdict' };
    if (verdict.verdict !== 'ok') {
      return {
        ...common,
        statementVerdict: verdict.verdict,
        outcome: 'rejected',
        reason: VERDICT_REASONS[verdict.verdict],
        message: `LLM judge: ${verdict.verdict} (${verdict.reason})`,
      };
    }
    judged = `LLM judge: ok (${verdict.reason})`;
    return {
      ...common,
      statementVerdict: 'ok',
      outcome: 'succeeded',
      reason: 'PromptReady',
      message: `problem statement from ${source}; leak check passed; ${judged}`,
    };
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

/** The rejection reason of each judge class but `ok`. */
const VERDICT_REASONS: Record<Exclude<StatementVerdict, 'ok'>, string> = {
  vague: 'StatementVague',
  'tests-need-more-than-stated': 'TestsNeedMoreThanStated',
  'solution-in-text': 'StatementLeaksSolution',
};

const JUDGE_SYSTEM = `You review the problem statement of a coding task. A solver sees only the statement and
the repository; hidden tests (shown to you) then decide whether the solution is right.
Classify the statement as exactly one of:
- "solution-in-text": it gives away the fix: code from the fix, or how to implement it
  (which computation, type, condition or call to change). Naming the interface the tests use
  (functions, classes, parameters, signatures they import or call) is NOT a leak.
- "tests-need-more-than-stated": the tests check behaviour, names or signatures that the
  statement does not state and a solver could not infer from it and the repository.
- "vague": too unclear to act on (no observable wrong behaviour or wanted feature).
- "ok": states the problem (and the interface the tests use) without the fix.
Answer with JSON only: {"verdict": "ok"|"vague"|"tests-need-more-than-stated"|"solution-in-text", "reason": "..."}`;

/** Undefined when the judge's answer could not be read. */
async function judge(
  ctx: StageContext,
  statement: string,
  tests: string,
): Promise<{ verdict: StatementVerdict; reason: string } | undefined> {
  const t = ctx.recorder.start('LeakJudge');
  const reply = await ctx.llm!.chat(t, {
    messages: [
      { role: 'system', content: JUDGE_SYSTEM },
      {
        role: 'user',
        content: `Problem statement:\n${truncateMiddle(statement, 6000)}\n\nThe fix (hidden from the solver):\n${truncateMiddle(ctx.input.instance.patch, 10000)}\n\nThe tests (hidden from the solver):\n${truncateMiddle(tests, 6000)}`,
      },
    ],
  });
  return parseVerdict(reply.choices[0]?.message.content ?? '');
}

/**
 * The judge's JSON. `{"leaks": bool}` (the earlier, leak-only answer) reads as
 * solution-in-text / ok, so a judge prompted the old way still gates.
 */
export function parseVerdict(text: string): { verdict: StatementVerdict; reason: string } | undefined {
  const m = /\{[\s\S]*\}/.exec(text);
  if (!m) return undefined;
  try {
    const v = JSON.parse(m[0]) as { verdict?: unknown; leaks?: unknown; reason?: unknown };
    const reason = String(v.reason ?? '');
    const verdict = STATEMENT_VERDICTS.find((c) => c === v.verdict);
    if (verdict) return { verdict, reason };
    if (typeof v.leaks === 'boolean') return { verdict: v.leaks ? 'solution-in-text' : 'ok', reason };
    return undefined;
  } catch {
    return undefined;
  }
}
