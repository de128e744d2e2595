import { changedTests } from './changed-tests.ts';
import { coverageNote, measureDiffCoverage } from './coverage.ts';
import { runFault, verifyRuns } from './grading.ts';
import { mutantTimeoutMs, mutationNote, runMutationTest, weakTests } from './mutation.ts';
import type { TestResults } from './parsers/index.ts';
import type { StageContext } from './stage-context.ts';
import type { StageOutput } from './stage-output.ts';
import { applyOrThrow, prepareWorkspace } from './test-agent.ts';
import { exitNote, runTests, type TestRun } from './test-run.ts';

/**
 * Verifier: a fresh replay of the recipe, the pre state once more and the post-gold state
 * `reruns` times; labels survive only if all runs agree (see grading.verifyRuns).
 */
export async function runVerifyStage(ctx: StageContext): Promise<StageOutput> {
  const prepared = await prepareWorkspace(ctx, 'verify');
  if (!('ws' in prepared)) return prepared;
  const { ws, recipe } = prepared;
  const { instance, previous, config } = ctx.input;
  // Exactly what the export's test_patch will hold.
  const testPatch = previous.fullTestPatch ?? instance.testPatch;
  await applyOrThrow(ws, testPatch, 'test patch');
  const runs: TestRun[] = [await runTests(ctx, ws, recipe, 'before gold patch')];
  await applyOrThrow(ws, instance.patch, 'gold patch');
  let slowestRunMs = 0;
  for (let i = 1; i <= config.reruns; i++) {
    const started = Date.now();
    runs.push(await runTests(ctx, ws, recipe, `after gold patch, run ${i}/${config.reruns}`));
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
  const v = verifyRuns(pre, post, previous, changedTests([testPatch]));
  const flaky = v.flaky.length ? `; flaky: ${v.flaky.slice(0, 10).join(', ')}` : '';
  const labelled = {
    FAIL_TO_PASS: v.FAIL_TO_PASS,
    PASS_TO_PASS: v.PASS_TO_PASS,
    ...(previous.testsSource ? { testsSource: previous.testsSource } : {}),
  };
  const message = `${v.message}${flaky}${notes}`;
  if (v.outcome !== 'succeeded' || !config.mutation.enabled)
    return { outcome: v.outcome, reason: v.reason, message, ...labelled };
  // Mutants of the gold patch, on top of it, in this prepared workspace (tests and gold applied).
  const labels = [...v.FAIL_TO_PASS, ...v.PASS_TO_PASS];
  const measured = await runMutationTest(ctx, ws, recipe, labels, config.mutation, slowestRunMs);
  // After the mutants (every file restored): the engine may install itself into the environment.
  const diffCoverage = await measureDiffCoverage(
    ctx,
    ws,
    recipe,
    v.FAIL_TO_PASS,
    mutantTimeoutMs(slowestRunMs, ctx.testTimeoutMs),
  );
  const mutation = { ...measured, diffCoverage };
  const note = `${mutationNote(mutation)}; ${coverageNote(diffCoverage)}`;
  if (weakTests(mutation, config.mutation.minScore))
    return {
      outcome: 'rejected',
      reason: 'WeakTests',
      message: `the tests catch too few wrong fixes: score ${mutation.score} is below verification.mutation.minScore ${config.mutation.minScore} (${note})`,
      ...labelled,
      mutation,
    };
  return { outcome: v.outcome, reason: v.reason, message: `${message}; ${note}`, ...labelled, mutation };
}
