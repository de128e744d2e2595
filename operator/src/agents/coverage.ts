import { readFile, rm } from 'node:fs/promises';
import path from 'node:path';
import type { DiffCoverage, Recipe } from '../api/index.ts';
import { coverageLinesOf, diffCoverage, goModulePath } from '../languages/coverage.ts';
import { coverageFor, languageOfPath, mutationSyntaxOf } from '../languages/index.ts';
import { codeOf } from '../languages/mutation.ts';
import { sh } from './exec.ts';
import type { StageContext } from './stage-context.ts';
import { RUN_ENV, runTests, testCommandFor } from './test-run.ts';
import type { Workspace } from './workspace.ts';

/** A record of coverage that was not measured: never counted as covered. */
function skipped(reason: string): DiffCoverage {
  return { covered: 0, total: 0, uncovered: [], skipped: reason };
}

/** An added line with code on it (not blank, not only a comment or brackets), by the language's syntax. */
function hasCode(file: string, text: string): boolean {
  const syntax = mutationSyntaxOf(file);
  return syntax !== undefined && /\w/.test(codeOf(text, syntax).replaceAll('\u0000', ''));
}

/**
 * Diff coverage of the gold patch: the FAIL_TO_PASS tests run once more under the language's
 * coverage engine in the verified workspace (test and gold patch applied), and the lines the
 * gold patch adds are graded against its report. A runner without an engine, or a run that
 * leaves no report, is recorded as skipped.
 */
export async function measureDiffCoverage(
  ctx: StageContext,
  ws: Workspace,
  recipe: Recipe,
  failToPass: readonly string[],
  timeoutMs: number,
  testPatches?: readonly string[],
): Promise<DiffCoverage> {
  const out = `${ws.dir}.coverage.json`;
  await rm(out, { force: true });
  const plan = coverageFor(recipe, testCommandFor(ctx, ws, recipe, testPatches), failToPass, out);
  if (!plan) return skipped(`no coverage engine for this test command (${recipe.resultFormat})`);
  if (plan.prepare) {
    const r = await sh(plan.prepare, { cwd: ws.dir, timeoutMs: ctx.commandTimeoutMs, env: RUN_ENV });
    ctx.remember(`coverage: prepare ${plan.engine.name} (exit ${r.code})`, r.output);
    if (r.code !== 0) ctx.log.warn(`coverage: preparing ${plan.engine.name} exited ${r.code}`);
  }
  await runTests(ctx, ws, recipe, `FAIL_TO_PASS under ${plan.engine.name}`, testPatches, {
    command: plan.run,
    timeoutMs,
  });
  const report = await readFile(out, 'utf8').catch(() => undefined);
  if (report === undefined) return skipped(`the ${plan.engine.name} run left no report`);
  let goModule: string | undefined;
  if (plan.engine.format === 'go-coverprofile')
    goModule = goModulePath(await readFile(path.join(ws.dir, 'go.mod'), 'utf8').catch(() => ''));
  let lines: ReturnType<typeof coverageLinesOf>;
  try {
    lines = coverageLinesOf(plan.engine.format, report, { rootDir: ws.dir, goModule });
  } catch (e) {
    return skipped(`the ${plan.engine.name} report could not be read: ${(e as Error).message}`);
  }
  const measured = (file: string) =>
    languageOfPath(file) === plan.language && mutationSyntaxOf(file) !== undefined;
  return { ...diffCoverage(ctx.input.instance.patch, lines, measured, hasCode), engine: plan.engine.name };
}

/** One clause for the stage message, e.g. `diff coverage 2/3 (coverage.py)`. */
export function coverageNote(c: DiffCoverage): string {
  if (c.skipped) return `diff coverage: skipped (${c.skipped})`;
  return `diff coverage ${c.covered}/${c.total}${c.engine ? ` (${c.engine})` : ''}${c.uncovered.length ? `; not run: ${c.uncovered.slice(0, 5).join(', ')}` : ''}`;
}
