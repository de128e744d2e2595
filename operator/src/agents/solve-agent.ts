import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { SolveEnding, SolveRequest } from '../api/index.ts';
import { sh, shellQuote, truncateMiddle } from './exec.ts';
import { detectOfflineTool, offlineCommand } from './offline.ts';
import type { StageContext } from './stage-context.ts';
import type { StageOutput } from './stage-output.ts';
import { prepareWorkspace } from './test-agent.ts';
import { RUN_ENV } from './test-run.ts';
import { type LoopOutcome, runToolLoop, type Tool } from './tool-loop.ts';
import { insideWorkspace, writeWorkspaceFile } from './tools.ts';
import { git, type Workspace } from './workspace.ts';

/** Characters of one observation the model sees (the loop shortens older ones further). */
const OBSERVATION_CHARS = 8_000;
/** Lines view_file shows when no range is given. */
const VIEW_LINES = 200;
/** Seconds a run_command may take at most (also bounded by the stage's command timeout). */
const COMMAND_SECONDS = 300;

const SYSTEM = `You are a software engineer fixing an issue in a repository checked out in your working directory.
Work through the tools: view files, search, edit with str_replace, run commands (no network).
Make the smallest change to the source code that resolves the issue; do not edit or add tests
unless you need them to check your fix. When you are done, call submit: your changes to the
working tree are the patch.`;

/** The task message: the problem statement and how the repository's tests run. */
export function solvePrompt(problemStatement: string, testCommand: string): string {
  return `<issue>\n${problemStatement.trim()}\n</issue>\n\nThe repository's environment is installed; its tests run with:\n${testCommand}\n\nResolve the issue, then call submit.`;
}

/** A file's lines `start`..`end` (1-based, inclusive), numbered. Pure. */
export function viewLines(text: string, start?: number, end?: number): string {
  const lines = text.split('\n');
  if (lines.at(-1) === '') lines.pop();
  const from = Math.max(1, Math.floor(start ?? 1));
  const to = Math.min(lines.length, Math.floor(end ?? from + VIEW_LINES - 1));
  if (from > lines.length) return `the file has ${lines.length} lines`;
  const shown = lines.slice(from - 1, to).map((l, i) => `${String(from + i).padStart(6)}\t${l}`);
  const more = to < lines.length ? `\n(${lines.length - to} more lines)` : '';
  return `${shown.join('\n')}${more}`;
}

/** str_replace semantics: `old` must occur exactly once. Returns the new text or an error. Pure. */
export function replaceOnce(
  text: string,
  old: string,
  replacement: string,
): { text: string } | { error: string } {
  if (old === '') return { error: 'old_str must not be empty' };
  const first = text.indexOf(old);
  if (first < 0) return { error: 'old_str does not occur in the file' };
  if (text.indexOf(old, first + 1) >= 0)
    return { error: 'old_str occurs more than once; include more context to make it unique' };
  return { text: text.slice(0, first) + replacement + text.slice(first + old.length) };
}

/**
 * Directories the agent's commands must not see: a local source repository (a local run's
 * clone URL), which holds the history past base — the fix. Empty when it would hide the
 * workspace itself. Pure.
 */
export function hiddenFromCommands(cloneURL: string, workspace: string): string[] {
  const local = cloneURL.startsWith('file://')
    ? decodeURIComponent(new URL(cloneURL).pathname)
    : path.isAbsolute(cloneURL)
      ? cloneURL
      : undefined;
  if (!local) return [];
  const dir = path.resolve(local);
  return workspace === dir || workspace.startsWith(`${dir}${path.sep}`) ? [] : [dir];
}

/** The agent-computer interface: view, search, str_replace, create, run (offline, time-limited), submit. */
export function solveTools(ctx: StageContext, ws: Workspace): Tool[] {
  const root = ws.dir;
  const hide = hiddenFromCommands(ctx.input.instance.cloneURL, root);
  const commandSeconds = Math.min(COMMAND_SECONDS, ctx.input.config.commandTimeoutSeconds);
  return [
    {
      name: 'view_file',
      description: `Show lines of a file, numbered (default: ${VIEW_LINES} lines from start_line).`,
      parameters: {
        type: 'object',
        properties: {
          path: { type: 'string' },
          start_line: { type: 'integer', minimum: 1 },
          end_line: { type: 'integer', minimum: 1 },
        },
        required: ['path'],
      },
      async run(args) {
        const text = await readFile(insideWorkspace(root, String(args.path)), 'utf8');
        const start = args.start_line === undefined ? undefined : Number(args.start_line);
        const end = args.end_line === undefined ? undefined : Number(args.end_line);
        return truncateMiddle(viewLines(text, start, end), OBSERVATION_CHARS);
      },
    },
    {
      name: 'search',
      description: 'Search the repository for a regular expression (grep -rnE); optional path to narrow it.',
      parameters: {
        type: 'object',
        properties: { pattern: { type: 'string' }, path: { type: 'string' } },
        required: ['pattern'],
      },
      async run(args) {
        const where = insideWorkspace(root, String(args.path ?? '.'));
        const r = await sh(
          `grep -rnIE --exclude-dir=.git --exclude-dir=.venv --exclude-dir=node_modules -e ${shellQuote(String(args.pattern))} -- ${shellQuote(where)} | head -200`,
          { cwd: root, timeoutMs: 60_000 },
        );
        const out = r.output.split(`${root}/`).join('');
        return out.trim() ? truncateMiddle(out, OBSERVATION_CHARS) : 'no matches';
      },
    },
    {
      name: 'str_replace',
      description: 'Replace the one occurrence of old_str in a file with new_str.',
      parameters: {
        type: 'object',
        properties: { path: { type: 'string' }, old_str: { type: 'string' }, new_str: { type: 'string' } },
        required: ['path', 'old_str', 'new_str'],
      },
      async run(args) {
        const abs = insideWorkspace(root, String(args.path));
        const out = replaceOnce(
          await readFile(abs, 'utf8'),
          String(args.old_str ?? ''),
          String(args.new_str ?? ''),
        );
        if ('error' in out) return `error: ${out.error}`;
        await writeFile(abs, out.text);
        return `edited ${String(args.path)}`;
      },
    },
    {
      name: 'create_file',
      description: 'Create a new file (or overwrite one) with the given content.',
      parameters: {
        type: 'object',
        properties: { path: { type: 'string' }, content: { type: 'string' } },
        required: ['path', 'content'],
      },
      async run(args) {
        // New files may sit in new directories (a new module with its package).
        return `wrote ${await writeWorkspaceFile(root, String(args.path), String(args.content ?? ''))}`;
      },
    },
    {
      name: 'run_command',
      description: `Run a bash command in the repository root, without network, for at most ${commandSeconds}s. Output is truncated.`,
      parameters: {
        type: 'object',
        properties: { cmd: { type: 'string' }, timeout: { type: 'integer', minimum: 1 } },
        required: ['cmd'],
      },
      async run(args) {
        const seconds = Math.min(Number(args.timeout) || commandSeconds, commandSeconds);
        const tool = await detectOfflineTool(root);
        const r = await sh(offlineCommand(String(args.cmd ?? ''), tool, hide), {
          cwd: root,
          timeoutMs: seconds * 1000,
          env: RUN_ENV,
        });
        const status = r.timedOut ? `timed out after ${seconds}s` : `exit code ${r.code}`;
        return `${status}\n${truncateMiddle(r.output, OBSERVATION_CHARS)}`;
      },
    },
    {
      name: 'submit',
      description: 'Submit the current changes of the working tree as your fix. Ends the task.',
      parameters: { type: 'object', properties: {} },
      async run() {
        return { done: true };
      },
    },
  ];
}

/** How the loop ended, as the attempt records it; undefined: an LLM failure (no attempt). */
export function solveEnding(outcome: LoopOutcome<unknown>): SolveEnding | undefined {
  switch (outcome.status) {
    case 'done':
      return 'Submitted';
    case 'maxTurns':
      return 'MaxTurns';
    case 'budget':
      return 'BudgetExhausted';
    case 'context':
      return 'ContextExceeded';
    case 'error':
      return undefined;
  }
}

/** Everything the agent changed against `tree` (new files included, ignored ones not). */
async function diffAgainst(ws: Workspace, tree: string): Promise<string> {
  await git(ws.dir, 'add -A');
  const r = await git(ws.dir, `diff --cached --binary ${tree}`);
  await git(ws.dir, 'reset -q');
  return r.output;
}

/**
 * The solve stage: SolveAgent fixes the issue in the prepared environment at the base commit
 * and submits; the patch is the work tree's diff against base + setup. The attempt ends
 * cleanly however the loop ends (turns, tokens, context window) — its diff is what it made;
 * only an LLM that cannot be reached fails it.
 */
export async function runSolveStage(ctx: StageContext, request: SolveRequest): Promise<StageOutput> {
  if (!ctx.llm)
    return {
      outcome: 'failed',
      reason: 'LlmUnavailable',
      message: 'the solve stage needs an LLM (spec.llm)',
    };
  const prepared = await prepareWorkspace(ctx, 'solve');
  if (!('ws' in prepared)) return prepared;
  const { ws, recipe } = prepared;
  // Test-runner caches of earlier stages name tests (pytest's nodeids, lastfailed): gone.
  await sh(
    'find . \\( -path ./.git -o -path ./.venv -o -path ./node_modules \\) -prune -o -name .pytest_cache -type d -prune -exec rm -rf {} +',
    { cwd: ws.dir, timeoutMs: 60_000 },
  );
  // The starting tree (base + setup changes): the patch is everything past it.
  await git(ws.dir, 'add -A');
  const tree = (await git(ws.dir, 'write-tree')).output.trim();
  await git(ws.dir, 'reset -q');
  const outcome = await runToolLoop<true>({
    llm: ctx.llm,
    agent: 'SolveAgent',
    system: SYSTEM,
    user: solvePrompt(request.problemStatement, recipe.testCommand),
    tools: solveTools(ctx, ws),
    maxTurns: request.maxTurns,
  });
  const ending = solveEnding(outcome);
  if (ending === undefined)
    return {
      outcome: 'failed',
      reason: 'LlmUnavailable',
      message: `solving: ${'message' in outcome ? outcome.message : ''}`,
    };
  const patch = await diffAgainst(ws, tree);
  return {
    outcome: 'succeeded',
    reason: ending,
    message: `${ending} after ${outcome.turns} turns; patch of ${patch.split('\n').length} lines${'message' in outcome ? `: ${outcome.message}` : ''}`,
    solve: { patch, ending, turns: outcome.turns },
  };
}
