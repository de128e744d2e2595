import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { MutationRecord, MutationSettings, Recipe } from '../api/index.ts';
import { mutationSyntaxOf } from '../languages/index.ts';
import { applyMutant, describeMutant, type Mutant, mutantsOfPatch } from '../languages/mutation.ts';
import type { RunFacts } from './grading.ts';
import type { StageContext } from './stage-context.ts';
import { runTests } from './test-run.ts';
import type { Workspace } from './workspace.ts';

/**
 * What one mutant's test run says: `killed` (some labelled test failed), `survived` (all
 * passed), `not-compiling` (none of them was reported: the code did not build, import or
 * collect), `errored` (no verdict: timed out, or some tests missing while the rest passed).
 * Only killed and survived count in the score.
 */
export type MutantOutcome = 'killed' | 'survived' | 'not-compiling' | 'errored';

/** Grades one mutant's run against the instance's FAIL_TO_PASS and PASS_TO_PASS tests. Pure. */
export function mutantOutcome(run: RunFacts, labels: readonly string[]): MutantOutcome {
  if (run.timedOut) return 'errored';
  const statuses = labels.map((id) => run.results.get(id));
  if (statuses.some((s) => s === 'failed' || s === 'error')) return 'killed';
  if (statuses.every((s) => s === undefined)) return 'not-compiling';
  return statuses.every((s) => s === 'passed') ? 'survived' : 'errored';
}

/** At most this many survivors are named in status. */
const SURVIVORS_KEPT = 20;

/** The record of a mutation test from its mutants' outcomes. Pure. */
export function mutationSummary(
  outcomes: readonly { mutant: Mutant; outcome: MutantOutcome }[],
  skipped?: string,
): MutationRecord {
  const count = (o: MutantOutcome) => outcomes.filter((x) => x.outcome === o).length;
  const killed = count('killed');
  const survived = count('survived');
  const counted = killed + survived;
  return {
    tried: outcomes.length,
    killed,
    survived,
    notCompiling: count('not-compiling'),
    errored: count('errored'),
    ...(counted > 0 && { score: Math.round((killed / counted) * 1000) / 1000 }),
    ...(skipped !== undefined && { skipped }),
    survivors: outcomes
      .filter((x) => x.outcome === 'survived')
      .slice(0, SURVIVORS_KEPT)
      .map((x) => describeMutant(x.mutant)),
  };
}

/** One line for the stage message, e.g. `mutation: 3 of 4 killed (score 0.75), 1 not compiling`. */
export function mutationNote(record: MutationRecord): string {
  if (record.skipped) return `mutation: skipped (${record.skipped})`;
  const extra = [
    record.notCompiling ? `${record.notCompiling} not compiling` : '',
    record.errored ? `${record.errored} without a verdict` : '',
  ].filter(Boolean);
  const score = record.score === undefined ? 'no score' : `score ${record.score}`;
  const survivors = record.survivors.length ? `; survived: ${record.survivors.slice(0, 3).join('; ')}` : '';
  return `mutation: ${record.killed} of ${record.killed + record.survived} killed (${score})${extra.length ? `, ${extra.join(', ')}` : ''}${survivors}`;
}

/**
 * The gate (verification.mutation.minScore): a measured score below it rejects as WeakTests.
 * No score (nothing to mutate, nothing counted) is not a verdict either way: recorded only.
 */
export function weakTests(record: MutationRecord, minScore: number | undefined): boolean {
  return minScore !== undefined && record.score !== undefined && record.score < minScore;
}

/**
 * A wall-time limit for one mutant's run: a few times the slowest verified run (a mutant that
 * loops forever should not cost the whole test timeout), within the run's test timeout.
 */
export function mutantTimeoutMs(slowestRunMs: number, testTimeoutMs: number): number {
  return Math.min(testTimeoutMs, Math.max(60_000, 3 * slowestRunMs + 30_000));
}

/**
 * Runs the labelled tests against mutants of the gold patch in the verified workspace (test
 * patch and gold patch applied), one mutant at a time, restoring the file after each.
 */
export async function runMutationTest(
  ctx: StageContext,
  ws: Workspace,
  recipe: Recipe,
  labels: readonly string[],
  settings: MutationSettings,
  slowestRunMs: number,
): Promise<MutationRecord> {
  const mutants = mutantsOfPatch(ctx.input.instance.patch, mutationSyntaxOf, settings.maxMutants);
  if (mutants.length === 0)
    return mutationSummary([], 'no line the gold patch adds could be mutated in a language with a mutator');
  const timeoutMs = mutantTimeoutMs(slowestRunMs, ctx.testTimeoutMs);
  const outcomes: { mutant: Mutant; outcome: MutantOutcome }[] = [];
  for (const [i, mutant] of mutants.entries()) {
    const file = path.join(ws.dir, mutant.file);
    const original = await readFile(file, 'utf8').catch(() => undefined);
    const mutated = original === undefined ? undefined : applyMutant(original, mutant);
    if (original === undefined || mutated === undefined) {
      // The file or line is not as the gold patch left it: no verdict for this mutant.
      outcomes.push({ mutant, outcome: 'errored' });
      continue;
    }
    try {
      await writeFile(file, mutated);
      const run = await runTests(
        ctx,
        ws,
        recipe,
        `mutant ${i + 1}/${mutants.length} (${describeMutant(mutant)})`,
        undefined,
        {
          timeoutMs,
        },
      );
      const outcome = mutantOutcome(run, labels);
      ctx.log.info(`mutant ${i + 1}/${mutants.length}: ${outcome}: ${describeMutant(mutant)}`);
      outcomes.push({ mutant, outcome });
    } finally {
      await writeFile(file, original);
    }
  }
  return mutationSummary(outcomes);
}
