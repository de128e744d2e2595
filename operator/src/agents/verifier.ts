import type { Recipe } from '../api/index.ts';
import { changedTests } from './changed-tests.ts';
import { coverageNote, measureDiffCoverage } from './coverage.ts';
import { builtNothing, runFault, verifyRuns } from './grading.ts';
import { mutantTimeoutMs, mutationNote, runMutationTest, wantsStrongerTests, weakTests } from './mutation.ts';
import type { TestResults } from './parsers/index.ts';
import type { StageContext } from './stage-context.ts';
import type { StageOutput } from './stage-output.ts';
import { applyOrThrow, prepareWorkspace, type StrongerTests, strengthenTests } from './test-agent.ts';
import { exitNote, runTests, type TestRun } from './test-run.ts';
import { resetToSetup, type Workspace } from './workspace.ts';

/** Feedback rounds per verify stage: TestAgent writes tests against surviving mutants once. */
const FEEDBACK_ROUNDS = 1;

/**
 * Verifier: a fresh replay of the recipe, the pre state once more and the post-gold state
 * `reruns` times; labels survive only if all runs agree (see grading.verifyRuns). With
 * mutation testing, tests too weak for the gate get one feedback round (an LLM configured):
 * TestAgent adds tests against the surviving mutants, and the instance is verified again
 * with them, its labels established afresh from the runs.
 */
export async function runVerifyStage(ctx: StageContext): Promise<StageOutput> {
  const prepared = await prepareWorkspace(ctx, 'verify');
  if (!('ws' in prepared)) return prepared;
  const { ws, recipe } = prepared;
  const { instance, previous } = ctx.input;
  // Exactly what the export's test_patch will hold.
  const testPatch = previous.fullTestPatch ?? instance.testPatch;
  return verifyWith(
    ctx,
    ws,
    recipe,
    { full: testPatch, generated: previous.generatedTestPatch },
    FEEDBACK_ROUNDS,
  );
}

async function verifyWith(
  ctx: StageContext,
  ws: Workspace,
  recipe: Recipe,
  tests: { full: string; generated?: string | undefined },
  roundsLeft: number,
  stronger?: StrongerTests,
): Promise<StageOutput> {
  const { instance, previous, config } = ctx.input;
  if (stronger) await resetToSetup(ws);
  await applyOrThrow(ws, tests.full, 'test patch');
  const runs: TestRun[] = [await runTests(ctx, ws, recipe, 'before gold patch', [tests.full])];
  await applyOrThrow(ws, instance.patch, 'gold patch');
  let slowestRunMs = 0;
  for (let i = 1; i <= config.reruns; i++) {
    const started = Date.now();
    runs.push(await runTests(ctx, ws, recipe, `after gold patch, run ${i}/${config.reruns}`, [tests.full]));
    slowestRunMs = Math.max(slowestRunMs, Date.now() - started);
  }
  // A run cut off or crashed is no evidence for any label: retried, never a verdict.
  const cut = runs.find((r) => runFault(r) !== undefined);
  if (cut)
    return {
      outcome: 'failed',
      reason: cut.timedOut ? 'TestsTimedOut' : 'TestRunCrashed',
      message: `a verification run ${runFault(cut)}: its results are not evidence${exitNote(cut)}`,
    };
  const pre: TestResults[] = [runs[0]!.results];
  const post: TestResults[] = runs.slice(1).map((r) => r.results);
  const notes = [...new Set(runs.map(exitNote).filter(Boolean))].join('');
  // Added tests have no labels from the tests stage: all are established from these runs.
  const v = verifyRuns(pre, post, stronger ? undefined : previous, changedTests([tests.full]), {
    baseBuiltNothing: builtNothing(runs[0]!),
  });
  const flaky = v.flaky.length ? `; flaky: ${v.flaky.slice(0, 10).join(', ')}` : '';
  const labelled = {
    FAIL_TO_PASS: v.FAIL_TO_PASS,
    PASS_TO_PASS: v.PASS_TO_PASS,
    ...(stronger
      ? {
          testsSource: 'generated' as const,
          generatedTestPatch: stronger.generated,
          fullTestPatch: stronger.full,
        }
      : previous.testsSource
        ? { testsSource: previous.testsSource }
        : {}),
  };
  const strongerNote = stronger
    ? `; TestAgent added tests against surviving mutants (${stronger.summary})`
    : '';
  const message = `${v.message}${flaky}${notes}${strongerNote}`;
  if (v.outcome !== 'succeeded' || !config.mutation.enabled)
    return { outcome: v.outcome, reason: v.reason, message, ...labelled };
  // Mutants of the gold patch, on top of it, in this prepared workspace (tests and gold applied).
  const labels = [...v.FAIL_TO_PASS, ...v.PASS_TO_PASS];
  const { record: measured, survivors } = await runMutationTest(
    ctx,
    ws,
    recipe,
    labels,
    config.mutation,
    slowestRunMs,
    [tests.full],
  );
  // After the mutants (every file restored): the engine may install itself into the environment.
  const diffCoverage = await measureDiffCoverage(
    ctx,
    ws,
    recipe,
    v.FAIL_TO_PASS,
    mutantTimeoutMs(slowestRunMs, ctx.testTimeoutMs),
    [tests.full],
  );
  const mutation = { ...measured, diffCoverage };
  const note = `${mutationNote(mutation)}; ${coverageNote(diffCoverage)}`;
  if (wantsStrongerTests(mutation, config.mutation.minScore, ctx.llm !== undefined, roundsLeft)) {
    const r = await strengthenTests(ctx, ws, recipe, tests, survivors, diffCoverage.uncovered);
    if ('done' in r) {
      const full = { full: r.done.full, generated: r.done.generated };
      return verifyWith(ctx, ws, recipe, full, roundsLeft - 1, r.done);
    }
    // No stronger tests: the weak verdict stands, with what TestAgent's round ended in.
    if (r.failed.outcome === 'failed') return r.failed;
    return weak(mutation, config.mutation.minScore, `${note}; ${r.failed.message}`, labelled);
  }
  if (weakTests(mutation, config.mutation.minScore))
    return weak(mutation, config.mutation.minScore, note, labelled);
  return { outcome: v.outcome, reason: v.reason, message: `${message}; ${note}`, ...labelled, mutation };
}

function weak(
  mutation: Parameters<typeof mutationNote>[0],
  minScore: number | undefined,
  note: string,
  labelled: object,
): StageOutput {
  return {
    outcome: 'rejected',
    reason: 'WeakTests',
    message: `the tests catch too few wrong fixes: score ${mutation.score} is below verification.mutation.minScore ${minScore} (${note})`,
    ...labelled,
    mutation,
  };
}
