import { existsSync } from 'node:fs';
import { readFile, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { Recipe } from '../api/index.ts';
import { scopedTestCommand } from '../languages/index.ts';
import { dependencyChange } from './dependency-change.ts';
import { type ExecResult, sh } from './exec.ts';
import { detectOfflineTool, offlineCommand } from './offline.ts';
import { parseTestResults, type TestResults } from './parsers/index.ts';
import type { StageContext } from './stage-context.ts';
import {
  applyPatch,
  patchPaths,
  resetHard,
  restoreBasePaths,
  snapshotSetup,
  type Workspace,
} from './workspace.ts';
import { boundCommand, detectBindTool } from './workspace-copies.ts';

/** Environment every command of a stage gets: non-interactive, CI mode, no update checks. */
export const RUN_ENV: Record<string, string> = {
  CI: '1',
  PIP_DISABLE_PIP_VERSION_CHECK: '1',
  PIP_NO_INPUT: '1',
  npm_config_fund: 'false',
  npm_config_audit: 'false',
  npm_config_update_notifier: 'false',
  PYTHONDONTWRITEBYTECODE: '1',
  NO_COLOR: '1',
  FORCE_COLOR: '0',
};

/**
 * Replays a recipe's setup script from a pristine checkout and snapshots the result. The gold
 * patch's dependency files are in place while it runs and back at base afterwards
 * (dependency-change.ts): the environment has the PR's dependencies, the tree is the base.
 */
export async function runSetup(
  ctx: StageContext,
  ws: Workspace,
  recipe: Recipe,
  env: Record<string, string> = {},
): Promise<ExecResult> {
  await resetHard(ws);
  const change = dependencyChange(ctx.input.instance.patch);
  let applied = false;
  if (change) {
    applied = (await applyPatch(ws, change.patch)) === undefined;
    if (!applied)
      ctx.log.info(
        `setup: the PR's dependency change (${change.paths.join(', ')}) does not apply at base; set up without it`,
      );
  }
  const script = path.join(path.dirname(ws.dir), `${path.basename(ws.dir)}.setup.sh`);
  await writeFile(script, recipe.setupScript);
  const run = () =>
    sh(`bash ${JSON.stringify(script)}`, {
      cwd: ws.dir,
      timeoutMs: ctx.commandTimeoutMs,
      env: { ...RUN_ENV, ...env },
    });
  let r = await run();
  ctx.remember(`setup (exit ${r.code}${r.timedOut ? ', timed out' : ''})`, r.output);
  if (change) await restoreBasePaths(ws, change.paths);
  if (applied && r.code !== 0 && !r.timedOut) {
    // The manifest change may be more than dependencies, and setups that build (cargo test
    // --no-run) build the base code under it: httparse#121 moves to edition 2018, which the
    // base code does not compile in. The base's own manifests then, as without a change.
    ctx.log.info(
      `setup: failed with the PR's dependency change (${change!.paths.join(', ')}) in place; set up without it`,
    );
    await resetHard(ws);
    r = await run();
    ctx.remember(
      `setup without the PR's dependency change (exit ${r.code}${r.timedOut ? ', timed out' : ''})`,
      r.output,
    );
  }
  if (r.code === 0) await snapshotSetup(ws);
  return r;
}

export interface TestRun {
  results: TestResults;
  exitCode: number;
  timedOut: boolean;
  output: string;
  /** The command was the recipe's, limited to the applied test patches' files. */
  scoped: boolean;
}

/**
 * Runs the recipe's test command (or `opts.command`, a variant of it, e.g. under a coverage
 * engine). Runners that write reports get "$SCALESWE_RESULTS"; the report file wins over
 * stdout when present.
 */
export async function runTests(
  ctx: StageContext,
  ws: Workspace,
  recipe: Recipe,
  label: string,
  testPatches?: readonly string[],
  opts: { timeoutMs?: number; command?: string; seenAt?: string } = {},
): Promise<TestRun> {
  const command = opts.command ?? testCommandFor(ctx, ws, recipe, testPatches);
  const scoped = opts.command === undefined && command !== recipe.testCommand;
  const resultsFile = `${ws.dir}.results`;
  await rm(resultsFile, { force: true });
  const cutNetwork = ctx.input.config.testNetwork === 'none';
  const offline = cutNetwork ? await detectOfflineTool(ws.dir) : 'none';
  if (cutNetwork && offline === 'none')
    ctx.log.warn('no tool can cut the network of test commands here: tests run with the stage network');
  // A workspace copy run where the original lies (workspace-copies.ts), so it imports itself.
  const bindTool = opts.seenAt === undefined ? 'none' : await detectBindTool();
  const wrapped =
    opts.seenAt === undefined || bindTool === 'none'
      ? offlineCommand(command, offline)
      : boundCommand(command, bindTool, { from: ws.dir, to: opts.seenAt }, cutNetwork && offline !== 'none');
  const r = await sh(wrapped, {
    cwd: ws.dir,
    timeoutMs: opts.timeoutMs ?? ctx.testTimeoutMs,
    env: { ...RUN_ENV, SCALESWE_RESULTS: resultsFile },
  });
  let report = '';
  try {
    report = await readFile(resultsFile, 'utf8');
  } catch {
    // runner printed to stdout
  }
  const results = parseTestResults(recipe.resultFormat, report.trim() ? report : r.output, {
    rootDir: opts.seenAt ?? ws.dir,
  });
  const counts = countStatuses(results);
  ctx.remember(`tests ${label} (exit ${r.code}${r.timedOut ? ', timed out' : ''}; ${counts})`, r.output);
  ctx.log.info(`tests ${label}: exit ${r.code}, ${counts}`);
  return { results, exitCode: r.code, timedOut: r.timedOut, output: r.output, scoped };
}

/**
 * What a run executes: with verification.scope `files` (SWE-bench's way), the recipe's test
 * command limited to the test files the applied test patches touch (those present now), when
 * its runner allows; otherwise, or with scope `suite`, the whole suite.
 */
export function testCommandFor(
  ctx: StageContext,
  ws: Workspace,
  recipe: Recipe,
  testPatches?: readonly string[],
): string {
  if (ctx.input.config.testScope === 'suite') return recipe.testCommand;
  const patches = testPatches ?? [ctx.input.instance.testPatch, ctx.input.previous.fullTestPatch ?? ''];
  const files = [...new Set(patches.flatMap(patchPaths))].filter((f) => existsSync(path.join(ws.dir, f)));
  return scopedTestCommand(recipe, files) ?? recipe.testCommand;
}

export function countStatuses(results: TestResults): string {
  const n: Record<string, number> = {};
  for (const s of results.values()) n[s] = (n[s] ?? 0) + 1;
  return (
    Object.entries(n)
      .map(([k, v]) => `${v} ${k}`)
      .join(', ') || 'no tests'
  );
}

/**
 * The exit code next to the parsed results: a runner that failed while no test failed means
 * something outside the reported tests broke (a module that did not compile, a crash after the
 * run, a coverage gate), so the results may be incomplete. Labels still come from the parsed
 * results only (missing tests count as not passing); this note makes the doubt visible.
 */
export function exitNote(run: TestRun): string {
  if (run.timedOut) return ' [timed out: results incomplete]';
  const failing = [...run.results.values()].some((s) => s === 'failed' || s === 'error');
  return run.exitCode !== 0 && !failing ? ` [runner exited ${run.exitCode} without a failing test]` : '';
}
