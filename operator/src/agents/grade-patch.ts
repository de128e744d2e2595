import { truncateMiddle } from './exec.ts';
import { gradePatchRun, runFault } from './grading.ts';
import type { StageContext } from './stage-context.ts';
import type { StageOutput } from './stage-output.ts';
import { applyOrThrow, prepareWorkspace } from './test-agent.ts';
import { countStatuses, exitNote, runTests } from './test-run.ts';
import { applyPatch, patchPaths, restoreBasePaths } from './workspace.ts';

/** Test output kept in a grading result (the rest is cut from the middle). */
const TEST_OUTPUT_CHARS = 100_000;

/**
 * `scaleswe eval`: grades a candidate patch in the instance's environment with the
 * verifier's pieces — the same workspace (prepared environment, or a replay of the recorded
 * recipe and lock), the same test command, scope, parser and offline test network — as
 * SWE-bench's harness does: candidate patch, the test patch's files put back to base, the
 * test patch, one test run, each FAIL_TO_PASS / PASS_TO_PASS test passed or not.
 *
 * Outcomes: succeeded with `grade` (the caller decides resolved or not); rejected
 * `PatchDoesNotApply` (the candidate's fault); failed for anything that is no evidence (a
 * setup replay that broke, a run cut off or crashed), never a grade.
 */
export async function runGradeStage(ctx: StageContext, modelPatch: string): Promise<StageOutput> {
  const prepared = await prepareWorkspace(ctx, 'grade');
  if (!('ws' in prepared)) return prepared;
  const { ws, recipe } = prepared;
  const { instance, previous } = ctx.input;
  const testPatch = previous.fullTestPatch ?? instance.testPatch;
  const applyError = await applyPatch(ws, modelPatch);
  if (applyError !== undefined)
    return {
      outcome: 'rejected',
      reason: 'PatchDoesNotApply',
      message: `the patch does not apply at the base commit: ${applyError.slice(0, 1500)}`,
    };
  await restoreBasePaths(ws, patchPaths(testPatch));
  await applyOrThrow(ws, testPatch, 'test patch');
  const run = await runTests(ctx, ws, recipe, 'with the candidate patch', [testPatch]);
  const fault = runFault(run);
  if (fault)
    return {
      outcome: 'failed',
      reason: run.timedOut ? 'TestsTimedOut' : 'TestRunCrashed',
      message: `the test run ${fault}: its results are not evidence${exitNote(run)}`,
    };
  const status = gradePatchRun(run.results, previous.FAIL_TO_PASS ?? [], previous.PASS_TO_PASS ?? []);
  return {
    outcome: 'succeeded',
    reason: 'Graded',
    message: `FAIL_TO_PASS ${status.FAIL_TO_PASS.success.length}/${previous.FAIL_TO_PASS?.length ?? 0} passed, PASS_TO_PASS ${status.PASS_TO_PASS.success.length}/${previous.PASS_TO_PASS?.length ?? 0} passed (${countStatuses(run.results)})${exitNote(run)}`,
    grade: { ...status, testOutput: truncateMiddle(run.output, TEST_OUTPUT_CHARS) },
  };
}
