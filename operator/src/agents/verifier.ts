import { changedTests } from './changed-tests.ts';
import { runFault, verifyRuns } from './grading.ts';
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
  for (let i = 1; i <= config.reruns; i++)
    runs.push(await runTests(ctx, ws, recipe, `after gold patch, run ${i}/${config.reruns}`));
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
  return {
    outcome: v.outcome,
    reason: v.reason,
    message: `${v.message}${flaky}${notes}`,
    FAIL_TO_PASS: v.FAIL_TO_PASS,
    PASS_TO_PASS: v.PASS_TO_PASS,
    ...(previous.testsSource ? { testsSource: previous.testsSource } : {}),
  };
}
