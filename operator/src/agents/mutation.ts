import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { MutationRecord, MutationSettings, Recipe } from '../api/index.ts';
import { mutationSyntaxOf } from '../languages/index.ts';
import { applyMutant, describeMutant, type Mutant, mutantsOfPatch } from '../languages/mutation.ts';
import { type MutantText, staticVerdicts } from './equivalence.ts';
import type { RunFacts } from './grading.ts';
import type { StageContext } from './stage-context.ts';
import { runTests } from './test-run.ts';
import type { Workspace } from './workspace.ts';
import { cpuBudget, type RunPlace, workspaceCopies } from './workspace-copies.ts';

/**
 * What one mutant's test run says: `killed` (some labelled test failed), `survived` (all
 * passed), `not-compiling` (none of them was reported: the code did not build, import or
 * collect), `errored` (no verdict: timed out, or some tests missing while the rest passed);
 * `equivalent` is decided before any run (equivalence.ts). Only killed and survived count in
 * the score.
 */
export type MutantOutcome = 'killed' | 'survived' | 'not-compiling' | 'errored' | 'equivalent';

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
    equivalent: count('equivalent'),
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
    record.equivalent ? `${record.equivalent} equivalent` : '',
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
 * The feedback round (issue #20): tests too weak for the gate, mutants that survived and an
 * LLM to write tests that kill them, and a round left (one per verify stage). Pure.
 */
export function wantsStrongerTests(
  record: MutationRecord,
  minScore: number | undefined,
  hasLlm: boolean,
  roundsLeft: number,
): boolean {
  return hasLlm && roundsLeft > 0 && record.survived > 0 && weakTests(record, minScore);
}

/**
 * A wall-time limit for one mutant's run: a few times the slowest verified run (a mutant that
 * loops forever should not cost the whole test timeout), within the run's test timeout.
 */
export function mutantTimeoutMs(slowestRunMs: number, testTimeoutMs: number): number {
  return Math.min(testTimeoutMs, Math.max(60_000, 3 * slowestRunMs + 30_000));
}

/** Mutants run at once: the setting, else the stage's CPUs; never more than there are mutants. Pure. */
export function mutantParallelism(setting: number | undefined, cpus: number, mutants: number): number {
  return Math.max(1, Math.min(setting ?? cpus, mutants));
}

/**
 * Runs the labelled tests against mutants of the gold patch in the verified workspace (test
 * patch and gold patch applied; `testPatches` scope the runs) and copies of it, several at once (workspace-copies.ts),
 * restoring each file after its mutant. Equivalent and statically non-compiling mutants are
 * told apart without a run. Outcomes are in mutant order whatever order the runs end in.
 */
export async function runMutationTest(
  ctx: StageContext,
  ws: Workspace,
  recipe: Recipe,
  labels: readonly string[],
  settings: MutationSettings,
  slowestRunMs: number,
  testPatches: readonly string[],
): Promise<{ record: MutationRecord; survivors: Mutant[] }> {
  const mutants = mutantsOfPatch(ctx.input.instance.patch, mutationSyntaxOf, settings.maxMutants);
  if (mutants.length === 0)
    return {
      record: mutationSummary(
        [],
        'no line the gold patch adds could be mutated in a language with a mutator',
      ),
      survivors: [],
    };
  const timeoutMs = mutantTimeoutMs(slowestRunMs, ctx.testTimeoutMs);
  const outcomes: MutantOutcome[] = new Array(mutants.length);
  // Each mutant on the file as the gold patch left it; equivalent ones need no run.
  const texts: (MutantText | undefined)[] = [];
  for (const mutant of mutants) {
    const original = await readFile(path.join(ws.dir, mutant.file), 'utf8').catch(() => undefined);
    const mutated = original === undefined ? undefined : applyMutant(original, mutant);
    texts.push(original === undefined || mutated === undefined ? undefined : { mutant, original, mutated });
  }
  const known = texts.flatMap((t) => (t ? [t] : []));
  const verdicts = await staticVerdicts(known, ws.dir);
  const toRun: number[] = [];
  for (const [i, t] of texts.entries()) {
    // The file or line is not as the gold patch left it: no verdict for this mutant.
    const verdict = t ? verdicts[known.indexOf(t)] : 'errored';
    if (verdict) {
      outcomes[i] = verdict;
      ctx.log.info(
        `mutant ${i + 1}/${mutants.length}: ${verdict} without a run: ${describeMutant(mutants[i]!)}`,
      );
    } else toRun.push(i);
  }
  const wanted = mutantParallelism(settings.parallelism, cpuBudget(), toRun.length);
  const { places, note, release } = await workspaceCopies(ws.dir, wanted);
  if (note) {
    ctx.log.warn(`mutants: ${note}`);
    ctx.remember(`mutants: ${note}`, '');
  }
  let next = 0;
  const worker = async (place: RunPlace) => {
    for (let k = next++; k < toRun.length; k = next++) {
      const i = toRun[k]!;
      const name = `mutant ${i + 1}/${mutants.length} (${describeMutant(mutants[i]!)})`;
      outcomes[i] = await runMutant(
        ctx,
        { ...ws, dir: place.dir },
        place.seenAt,
        recipe,
        labels,
        texts[i]!,
        name,
        { timeoutMs, testPatches },
      );
    }
  };
  // Every worker ends before the copies go, even when one of them throws.
  const ended = await Promise.allSettled(places.map(worker));
  await release();
  const thrown = ended.find((e) => e.status === 'rejected');
  if (thrown) throw thrown.reason;
  const results = mutants.map((mutant, i) => ({ mutant, outcome: outcomes[i]! }));
  const survivors = results.filter((r) => r.outcome === 'survived').map((r) => r.mutant);
  return { record: mutationSummary(results), survivors };
}

/** One mutant in one place: applied, its tests run, the file restored. */
async function runMutant(
  ctx: StageContext,
  ws: Workspace,
  seenAt: string | undefined,
  recipe: Recipe,
  labels: readonly string[],
  { mutant, original, mutated }: MutantText,
  name: string,
  run: { timeoutMs: number; testPatches: readonly string[] },
): Promise<MutantOutcome> {
  const file = path.join(ws.dir, mutant.file);
  try {
    await writeFile(file, mutated);
    const results = await runTests(ctx, ws, recipe, name, run.testPatches, {
      timeoutMs: run.timeoutMs,
      seenAt,
    });
    const outcome = mutantOutcome(results, labels);
    ctx.log.info(`${name}: ${outcome}`);
    return outcome;
  } finally {
    await writeFile(file, original);
  }
}
