import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { Recipe } from '../api/index.ts';
import { ScaleSweError } from '../api/index.ts';
import { applyMutant, describeMutant, type Mutant, mutantDiff } from '../languages/mutation.ts';
import { classifyPath } from '../mining/paths.ts';
import { changedTests } from './changed-tests.ts';
import { prepareStageWorkspace } from './environment.ts';
import { truncateMiddle } from './exec.ts';
import { builtNothing, type Classification, gradeRuns, networkSymptom, runFault } from './grading.ts';
import type { StageContext } from './stage-context.ts';
import { loopFailure, type StageOutput } from './stage-output.ts';
import { countStatuses, exitNote, runTests } from './test-run.ts';
import { runToolLoop, type Tool } from './tool-loop.ts';
import { workspaceTools } from './tools.ts';
import { applyPatch, diffPaths, patchPaths, resetToSetup, type Workspace } from './workspace.ts';

/** A patch that could not be applied is a property of the PR, not a transient failure. */
export class PatchError extends ScaleSweError {}

export async function applyOrThrow(
  ws: Workspace,
  patch: string,
  what: string,
  opts: { index?: boolean } = {},
) {
  const err = await applyPatch(ws, patch, opts);
  if (err !== undefined) {
    const reason =
      what === 'gold patch'
        ? 'GoldPatchDoesNotApply'
        : what === 'test patch'
          ? 'TestPatchDoesNotApply'
          : 'GeneratedTestsDoNotApply';
    throw new PatchError(reason, `${what} does not apply at the base commit: ${err.slice(0, 1500)}`);
  }
}

/** The stage's workspace: the prepared environment, or a replay of the recipe (agents/environment.ts). */
export const prepareWorkspace = prepareStageWorkspace;

/** Tests at base + tests, then base + tests + gold; returns the classification and a summary. */
async function beforeAfter(
  ctx: StageContext,
  ws: Workspace,
  recipe: Recipe,
  testPatches: [string, string][],
) {
  await resetToSetup(ws);
  for (const [patch, what] of testPatches) await applyOrThrow(ws, patch, what);
  const applied = testPatches.map(([patch]) => patch);
  const pre = await runTests(ctx, ws, recipe, 'before gold patch', applied);
  await applyOrThrow(ws, ctx.input.instance.patch, 'gold patch');
  const post = await runTests(ctx, ws, recipe, 'after gold patch', applied);
  const c = gradeRuns(pre.results, post.results, changedTests(applied), {
    baseBuiltNothing: builtNothing(pre),
  });
  const note = c.note ? `; ${c.note}` : '';
  const summary = `before: ${countStatuses(pre.results)}${exitNote(pre)}; after: ${countStatuses(post.results)}${exitNote(post)}; F2P ${c.FAIL_TO_PASS.length}, P2P ${c.PASS_TO_PASS.length}, P2F ${c.PASS_TO_FAIL.length}${note}`;
  const preFault = runFault(pre);
  const fault = preFault ?? runFault(post);
  return {
    c,
    summary,
    ran: post.results.size > 0,
    fault: fault && { kind: fault, what: `the run ${preFault ? 'before' : 'after'} the gold patch ${fault}` },
    timedOut: pre.timedOut || post.timedOut,
    postOutput: post.output,
    preOutput: pre.output,
  };
}

/**
 * A run cut off by the time limit or ended abnormally is no evidence: every test it did not
 * reach would look failing before (a false FAIL_TO_PASS) or after. Retried, never labelled.
 */
function faultyRun(fault: { kind: 'timed out' | 'crashed'; what: string }, summary: string): StageOutput {
  return {
    outcome: 'failed',
    reason: fault.kind === 'timed out' ? 'TestsTimedOut' : 'TestRunCrashed',
    message: `${fault.what}: its results are not evidence (${summary})`,
  };
}

/**
 * TestAgent: the PR's own tests first; when there are none (or they yield no FAIL_TO_PASS)
 * and generation is allowed, an LLM writes tests against the fixed code, kept apart as
 * generatedTestPatch (ScaleSWE's f2p_patch).
 */
export async function runTestsStage(ctx: StageContext): Promise<StageOutput> {
  const { instance, config } = ctx.input;
  if (!instance.testPatch.trim() && (!config.generateTests || !ctx.llm)) {
    // Nothing to run: decide before paying for a checkout and setup replay. The reason names
    // what is missing (the same two reasons as the candidate filter at mining): generation
    // switched off, or switched on with no LLM configured to do it.
    return config.generateTests
      ? {
          outcome: 'rejected',
          reason: 'NoTestsAndNoLlm',
          message:
            'the PR has no test changes; test generation is enabled (generateTests) but no llm is configured to write tests',
        }
      : {
          outcome: 'rejected',
          reason: 'NoTestsAndGenerationDisabled',
          message: 'the PR has no test changes and test generation is disabled (generateTests: false)',
        };
  }
  const prepared = await prepareWorkspace(ctx, 'tests');
  if (!('ws' in prepared)) return prepared;
  const { ws, recipe } = prepared;
  let prNote = 'the PR has no test changes';
  let ranAny = false;
  if (instance.testPatch.trim()) {
    const r = await beforeAfter(ctx, ws, recipe, [[instance.testPatch, 'test patch']]);
    if (r.fault) return faultyRun(r.fault, r.summary);
    ranAny = r.ran;
    if (r.c.FAIL_TO_PASS.length > 0) return testsReady('pr', r.c, r.summary);
    prNote = `the PR's tests give no FAIL_TO_PASS (${r.summary})`;
    const offline = config.testNetwork === 'none' && networkSymptom(`${r.preOutput}\n${r.postOutput}`);
    if (offline)
      return {
        outcome: 'rejected',
        reason: 'TestsNeedNetwork',
        message: `${prNote}; the tests wanted the network, which test runs do not have (sandbox.testNetwork: allowed permits it): ${offline}`,
      };
  }
  if (!config.generateTests || !ctx.llm) {
    return { outcome: 'rejected', reason: ranAny ? 'NoFailToPass' : 'NoTestsRan', message: prNote };
  }
  return generateTests(ctx, ws, recipe, prNote);
}

function testsReady(
  source: 'pr' | 'generated',
  c: Classification,
  summary: string,
  generated?: { patch: string; full: string },
): StageOutput {
  return {
    outcome: 'succeeded',
    reason: 'TestsReady',
    message: `${source === 'pr' ? "PR's tests" : 'generated tests'}: ${summary}`,
    testsSource: source,
    ...(generated && { generatedTestPatch: generated.patch, fullTestPatch: generated.full }),
    FAIL_TO_PASS: c.FAIL_TO_PASS,
    PASS_TO_PASS: c.PASS_TO_PASS,
  };
}

async function generateTests(
  ctx: StageContext,
  ws: Workspace,
  recipe: Recipe,
  prNote: string,
): Promise<StageOutput> {
  const { instance } = ctx.input;
  const goldPaths = new Set(patchPaths(instance.patch));
  const tools = workspaceTools(ws.dir, { maxTimeoutSeconds: ctx.input.config.commandTimeoutSeconds });
  const agentState = fixedCodeState(ws, instance.testPatch, instance.patch);
  await agentState();
  const finish: Tool<{ patch: string; c: Classification; summary: string }> = {
    name: 'finish',
    description:
      'Submit the test files you wrote. They are run against the code before and after the fix; at least one new test must fail before and pass after.',
    parameters: { type: 'object', properties: { summary: { type: 'string' } } },
    async run() {
      const { outside, tests } = await writtenTestFiles(ws, tools.written, goldPaths);
      if (outside.length)
        return `Rejected: generated tests may only touch test paths, and these are not: ${outside.join(', ')} (${OUTSIDE_TEST_PATHS}). Put everything the tests need in test files, remove or restore the others, then call finish again.`;
      if (tests.length === 0)
        return 'You have not written any test file (source files of the fix do not count).';
      const generated = await diffPaths(ws, tests);
      if (!generated.trim()) return 'Your files do not differ from the repository.';
      const r = await beforeAfter(ctx, ws, recipe, [
        [instance.testPatch, 'test patch'],
        [generated, 'generated tests'],
      ]);
      await agentState(generated);
      if (r.timedOut)
        return `A test run hit the time limit (${r.summary}); make the tests fast and self-contained, then call finish again.`;
      if (r.fault)
        return `${r.fault.what} (the runner exited non-zero without a failing test: ${r.summary}); its results are not evidence. Make the tests self-contained, then call finish again.\nBefore the fix:\n${truncateMiddle(r.preOutput, 2000)}\nAfter the fix:\n${truncateMiddle(r.postOutput, 2000)}`;
      if (r.c.FAIL_TO_PASS.length > 0) return { done: { patch: generated, c: r.c, summary: r.summary } };
      return `No test fails before the fix and passes after it (${r.summary}).\nBefore the fix:\n${truncateMiddle(r.preOutput, 3000)}\nAfter the fix:\n${truncateMiddle(r.postOutput, 3000)}\nRevise the tests and call finish again.`;
    },
  };
  const outcome = await runToolLoop<{ patch: string; c: Classification; summary: string }>({
    llm: ctx.llm!,
    agent: 'TestAgent',
    system: TEST_SYSTEM,
    user: testBrief(ctx, recipe),
    tools: [...tools.tools, finish],
    maxTurns: ctx.input.config.maxTurns,
  });
  if (outcome.status === 'done') {
    const { patch, c, summary } = outcome.value;
    const full = await combinedTestPatch(ws, instance.testPatch, patch);
    return testsReady('generated', c, summary, { patch, full });
  }
  return loopFailure(outcome, 'NoFailToPass', `${prNote}; TestAgent wrote no failing-then-passing test`);
}

const OUTSIDE_TEST_PATHS =
  'test paths are files under a test directory such as tests/, test/, testdata/ or __tests__/, or named like test files of their language, e.g. test_*.py, *_test.go, *.test.ts';

/**
 * Which of the paths TestAgent wrote are not test paths, by the mining path classifier (the
 * same rule that split the PR into gold patch and test patch).
 */
export function outsideTestPaths(paths: readonly string[]): string[] {
  return paths.filter((p) => classifyPath(p) !== 'test');
}

/**
 * The PR's tests and the generated ones as one patch at base: what evaluation applies (the
 * generated diff alone was taken on top of the PR's tests and does not stand on its own).
 */
async function combinedTestPatch(
  ws: Workspace,
  testPatch: string,
  generated: string,
  against = '',
): Promise<string> {
  await resetToSetup(ws);
  // `against` staged: the result is what the two add on top of it.
  await applyOrThrow(ws, against, 'test patch', { index: true });
  await applyOrThrow(ws, testPatch, 'test patch');
  await applyOrThrow(ws, generated, 'generated tests');
  return diffPaths(ws, [...new Set([...patchPaths(testPatch), ...patchPaths(generated)])]);
}

const TEST_SYSTEM = `You write regression tests for a bug fix that has already been applied to this checkout.
Write new test files (or extend existing test files) that FAIL on the code before the fix and
PASS after it, and exercise the behaviour the fix changes through the public interface.
Do not modify non-test source files. Use run_command to run your tests against the fixed code.
When done, call finish; your tests will be run with and without the fix.`;

function testBrief(ctx: StageContext, recipe: Recipe): string {
  const i = ctx.input.instance;
  return `Repository ${i.repo}, PR #${i.pullNumber}: ${i.title}
${truncateMiddle(i.body, 3000)}

The fix (already applied):
${truncateMiddle(i.patch, 12000)}

The test suite runs with: ${recipe.testCommand}
(result format ${recipe.resultFormat}; the environment is already set up).`;
}

/** Tests TestAgent added to kill surviving mutants: its diff, and the PR's tests plus all generated ones. */
export interface StrongerTests {
  generated: string;
  full: string;
  summary: string;
}

/**
 * Feedback from mutation testing (issue #20): TestAgent gets the mutants of the gold patch the
 * tests let through (as diffs) and the changed lines no FAIL_TO_PASS test ran, and adds tests
 * that pass on the fixed code and fail on at least one of those mutants, confined to test
 * paths and within its budget. The verify stage then labels and mutates again with them.
 */
export async function strengthenTests(
  ctx: StageContext,
  ws: Workspace,
  recipe: Recipe,
  tests: { full: string; generated?: string | undefined },
  survivors: readonly Mutant[],
  uncovered: readonly string[],
): Promise<{ done: StrongerTests } | { failed: StageOutput }> {
  const testPatch = tests.full;
  const { instance } = ctx.input;
  const goldPaths = new Set(patchPaths(instance.patch));
  const tools = workspaceTools(ws.dir, { maxTimeoutSeconds: ctx.input.config.commandTimeoutSeconds });
  const agentState = fixedCodeState(ws, testPatch, instance.patch);
  await agentState();
  const finish: Tool<{ patch: string; summary: string }> = {
    name: 'finish',
    description:
      'Submit the tests you added. They must pass on the fixed code and fail on at least one of the mutants.',
    parameters: { type: 'object', properties: { summary: { type: 'string' } } },
    async run() {
      const { outside, tests } = await writtenTestFiles(ws, tools.written, goldPaths);
      if (outside.length)
        return `Rejected: tests may only touch test paths, and these are not: ${outside.join(', ')} (${OUTSIDE_TEST_PATHS}). Restore them, then call finish again.`;
      const generated = tests.length ? await diffPaths(ws, tests) : '';
      if (!generated.trim()) return 'You have not changed any test file.';
      const applied = [testPatch, generated];
      const fixed = await runTests(ctx, ws, recipe, 'added tests on the fixed code', applied);
      const failing = [...fixed.results].filter(([, s]) => s === 'failed' || s === 'error').map(([id]) => id);
      if (fixed.timedOut || failing.length > 0 || fixed.results.size === 0)
        return `The tests must pass on the fixed code; ${fixed.timedOut ? 'the run timed out' : failing.length ? `failing: ${failing.slice(0, 10).join(', ')}` : 'no test result was reported'}.\n${truncateMiddle(fixed.output, 3000)}\nRevise the tests and call finish again.`;
      const killed: string[] = [];
      for (const m of survivors) {
        const file = path.join(ws.dir, m.file);
        const original = await readFile(file, 'utf8');
        const mutated = applyMutant(original, m);
        if (mutated === undefined) continue;
        try {
          await writeFile(file, mutated);
          const run = await runTests(ctx, ws, recipe, `added tests on ${describeMutant(m)}`, applied);
          if ([...run.results.values()].some((s) => s === 'failed' || s === 'error'))
            killed.push(describeMutant(m));
        } finally {
          await writeFile(file, original);
        }
      }
      if (killed.length === 0)
        return 'Every mutant still passes all the tests: no test tells the fixed code from a mutant. Test the behaviour each mutant changes (e.g. the boundary value), then call finish again.';
      return {
        done: {
          patch: generated,
          summary: `kills ${killed.length} of ${survivors.length} surviving mutants`,
        },
      };
    },
  };
  const outcome = await runToolLoop<{ patch: string; summary: string }>({
    llm: ctx.llm!,
    agent: 'TestAgent',
    system: STRENGTHEN_SYSTEM,
    user: strengthenBrief(ctx, recipe, survivors, uncovered),
    tools: [...tools.tools, finish],
    maxTurns: ctx.input.config.maxTurns,
  });
  if (outcome.status !== 'done')
    return {
      failed: loopFailure(outcome, 'WeakTests', 'TestAgent wrote no test that kills a surviving mutant'),
    };
  const { patch, summary } = outcome.value;
  const full = await combinedTestPatch(ws, testPatch, patch);
  // Everything generated so far, on top of the PR's own tests (what generatedTestPatch holds).
  const generated = await combinedTestPatch(ws, tests.generated ?? '', patch, instance.testPatch);
  return { done: { generated, full, summary } };
}

const STRENGTHEN_SYSTEM = `You strengthen the tests of a bug fix that has already been applied to this checkout.
Mutation testing made small changes (mutants) to the lines the fix adds; the existing tests still
pass on the mutants below, so they would accept a wrong fix. Add tests (in test files only) that
PASS on the fixed code and FAIL on the mutants, through the public interface. Do not modify
non-test source files. Use run_command to run your tests. When done, call finish.`;

function strengthenBrief(
  ctx: StageContext,
  recipe: Recipe,
  survivors: readonly Mutant[],
  uncovered: readonly string[],
): string {
  const i = ctx.input.instance;
  const mutants = survivors.map((m) => `${describeMutant(m)}\n${mutantDiff(m)}`).join('\n');
  const notRun = uncovered.length
    ? `\nLines the fix adds that no FAIL_TO_PASS test runs: ${uncovered.join(', ')}\n`
    : '';
  return `Repository ${i.repo}, PR #${i.pullNumber}: ${i.title}

The fix (already applied):
${truncateMiddle(i.patch, 12000)}

Surviving mutants (each a one-line change on top of the fix):
${truncateMiddle(mutants, 8000)}
${notRun}
The test suite runs with: ${recipe.testCommand}
(result format ${recipe.resultFormat}; the environment is already set up).`;
}

/**
 * What TestAgent works on: the fixed code (base + the tests staged + gold), so its own edits
 * diff against the index; `generated` puts its tests back after a test run reset the tree.
 */
function fixedCodeState(ws: Workspace, testPatch: string, goldPatch: string) {
  return async (generated?: string): Promise<void> => {
    await resetToSetup(ws);
    await applyOrThrow(ws, testPatch, 'test patch', { index: true });
    await applyOrThrow(ws, goldPatch, 'gold patch');
    if (generated) await applyOrThrow(ws, generated, 'generated tests');
  };
}

/**
 * The files TestAgent wrote, apart from the gold patch's: the test files, and the non-test
 * files it really changed (only test paths may change: a helper in a source file would
 * become part of the task).
 */
async function writtenTestFiles(
  ws: Workspace,
  written: readonly string[],
  goldPaths: ReadonlySet<string>,
): Promise<{ outside: string[]; tests: string[] }> {
  const files = written.filter((f) => !goldPaths.has(f));
  const outside = outsideTestPaths(files);
  const changed = outside.length ? await diffPaths(ws, outside) : '';
  return { outside: changed.trim() ? outside : [], tests: files.filter((f) => !outside.includes(f)) };
}
