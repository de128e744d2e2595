import { type ChangedTests, isChangedTest } from './changed-tests.ts';
import type { TestResults } from './parsers/index.ts';

/**
 * F2P/P2P from one run before and one after the gold patch (SWE-bench grading).
 * A test missing before (e.g. its file did not import) counts as failing before; skipped
 * tests count neither way.
 */
export interface Classification {
  FAIL_TO_PASS: string[];
  PASS_TO_PASS: string[];
  PASS_TO_FAIL: string[];
  FAIL_TO_FAIL: string[];
}

const notPassed = (s: string | undefined) => s === undefined || s === 'failed' || s === 'error';

export function classify(before: TestResults, after: TestResults): Classification {
  const c: Classification = { FAIL_TO_PASS: [], PASS_TO_PASS: [], PASS_TO_FAIL: [], FAIL_TO_FAIL: [] };
  for (const [id, post] of after) {
    const pre = before.get(id);
    if (post === 'passed') {
      if (pre === 'passed') c.PASS_TO_PASS.push(id);
      else if (notPassed(pre)) c.FAIL_TO_PASS.push(id);
    } else if (post === 'failed' || post === 'error') {
      if (pre === 'passed') c.PASS_TO_FAIL.push(id);
      else if (notPassed(pre)) c.FAIL_TO_FAIL.push(id);
    }
  }
  for (const [id, pre] of before) if (pre === 'passed' && !after.has(id)) c.PASS_TO_FAIL.push(id);
  for (const list of Object.values(c)) list.sort();
  return c;
}

/**
 * Env acceptance from a run at base: the suite must really run — most reported tests pass or
 * fail (errors are tests that could not even start: a module that does not build or collect),
 * at least `minRatio` of them — and the run must be evidence at all (not cut off, not crashed).
 */
export function baseRunAccepted(
  run: RunFacts,
  minRatio: number,
  /** False for the PR's own tests on a base without tests: those are expected to fail there. */
  atBase = true,
): { ok: boolean; note: string; ran: number } {
  const statuses = [...run.results.values()];
  const ran = statuses.filter((s) => s === 'passed' || s === 'failed').length;
  const counted = ran + statuses.filter((s) => s === 'error').length;
  const fault = runFault(run);
  if (fault) return { ok: false, ran, note: `the test run ${fault} (exit ${run.exitCode}): not evidence` };
  if (run.results.size === 0)
    return { ok: false, ran, note: `test command (exit ${run.exitCode}) reported no tests` };
  if (ran === 0) return { ok: false, ran, note: 'no test ran' };
  if (ran < minRatio * counted)
    return {
      ok: false,
      ran,
      note: `only ${ran} of ${counted} test(s) ran (the rest errored); at least ${Math.round(minRatio * 100)}% must (verification.minBaseTestsRunRatio)`,
    };
  // Every test of the repository failing at base is a runner or environment that cannot run
  // them (a TypeScript suite under `node --test`, a missing service), not a base to label.
  if (atBase && !statuses.includes('passed'))
    return {
      ok: false,
      ran,
      note: `all ${ran} test(s) that ran failed at base: not a working test environment`,
    };
  return { ok: true, ran, note: `${ran} of ${counted} test(s) ran` };
}

/** What grading needs of one test command run. */
export interface RunFacts {
  results: TestResults;
  exitCode: number;
  timedOut: boolean;
}

/**
 * Why a run is no evidence either way (retried, never labelled): cut off by the time limit,
 * or ended abnormally — the runner exited non-zero although no reported test failed (a
 * crash, a kill, an abort half-way), so the tests it did not reach are unknown. A run that
 * reported nothing at all is not a fault here: before the gold patch that is a base that
 * does not build (see gradeRuns), after it a rejection (NoTestsRan).
 */
export function runFault(run: RunFacts): 'timed out' | 'crashed' | undefined {
  if (run.timedOut) return 'timed out';
  const failing = [...run.results.values()].some((s) => s === 'failed' || s === 'error');
  if (run.exitCode !== 0 && run.results.size > 0 && !failing) return 'crashed';
  return undefined;
}

export interface Grade extends Classification {
  /**
   * Tests that pass after the gold patch but never ran before it (the base did not build or
   * collect them) and that the test patches do not add or change: no evidence, not F2P.
   */
  didNotRunAtBase: string[];
  /** Why FAIL_TO_PASS was limited, for the instance's record; empty when it was not. */
  note: string;
}

/**
 * Does a not-passing status before the gold patch count as evidence that `id` failed? A test
 * that ran and failed, yes. A test that did not run at all only when the test patches add
 * or change it: otherwise it is absent because the base does not compile or collect with
 * the PR's tests (a Java module, a Go package, a Python module importing the PR's new API),
 * which would turn every test of the suite into FAIL_TO_PASS.
 */
export function failedBefore(id: string, pre: TestResults, changed: ChangedTests): boolean {
  const s = pre.get(id);
  if (s === 'failed' || s === 'error') return true;
  return s === undefined && isChangedTest(id, changed);
}

/**
 * A before run limited to the PR's test files that reported no test and exited non-zero: the
 * base does not build those files with the PR's tests. Where the test patch changes no test
 * (a compile-time regression test: thiserror#408 adds a type whose derive did not expand at
 * base), that build failure is the evidence that the files' tests fail before the fix.
 */
export function builtNothing(run: { results: TestResults; exitCode: number; scoped: boolean }): boolean {
  return run.scoped && run.results.size === 0 && run.exitCode !== 0;
}

/**
 * classify() under the run-validity rules: F2P needs evidence of failing before (failedBefore).
 * When that leaves none and the base built none of the PR's test files (`baseBuiltNothing`),
 * the tests of those files that pass after the gold patch are FAIL_TO_PASS: the scoped run
 * holds only them, so this never takes in the rest of the suite.
 */
export function gradeRuns(
  pre: TestResults,
  post: TestResults,
  changed: ChangedTests,
  opts: { baseBuiltNothing?: boolean } = {},
): Grade {
  const c = classify(pre, post);
  const FAIL_TO_PASS = c.FAIL_TO_PASS.filter((id) => failedBefore(id, pre, changed));
  const didNotRunAtBase = c.FAIL_TO_PASS.filter((id) => !failedBefore(id, pre, changed));
  if (FAIL_TO_PASS.length === 0 && didNotRunAtBase.length > 0 && opts.baseBuiltNothing)
    return { ...c, didNotRunAtBase: [], note: unbuiltBaseNote(didNotRunAtBase.length) };
  return { ...c, FAIL_TO_PASS, didNotRunAtBase, note: baseNote(didNotRunAtBase, FAIL_TO_PASS) };
}

function unbuiltBaseNote(n: number): string {
  return `the base does not build the PR's test files (no test reported before the gold patch) and the test patch changes no test: FAIL_TO_PASS is the ${n} test(s) of those files that pass after it`;
}

export function baseNote(didNotRunAtBase: readonly string[], f2p: readonly string[]): string {
  if (didNotRunAtBase.length === 0) return '';
  return `the base does not build or collect ${didNotRunAtBase.length} test(s) with the PR's tests (e.g. ${didNotRunAtBase.slice(0, 3).join(', ')}): FAIL_TO_PASS limited to the ${f2p.length} test(s) the test patch adds or changes`;
}

/** Messages of failed name lookups and unreachable networks, across runtimes. */
const NETWORK_SYMPTOMS =
  /^.*(Temporary failure in name resolution|Name or service not known|nodename nor servname|getaddrinfo (ENOTFOUND|EAI_AGAIN)|Could not resolve host|dial tcp: lookup|no such host|Network is unreachable|ENETUNREACH|failed to lookup address information).*$/m;

/** The first output line showing that a test wanted the network (test runs have none). */
export function networkSymptom(output: string): string | undefined {
  return NETWORK_SYMPTOMS.exec(output)?.[0]?.trim().slice(0, 300);
}

export interface Verdict {
  outcome: 'succeeded' | 'rejected';
  reason: string;
  message: string;
  FAIL_TO_PASS: string[];
  PASS_TO_PASS: string[];
  /** Candidates dropped because reruns disagreed. */
  flaky: string[];
  passToFail: string[];
}

/**
 * The verifier's decision over repeated runs: a test keeps its F2P/P2P label only if every
 * run agrees; PASS→FAIL must be consistent to reject (a flaky one is merely dropped).
 * `expected` are the labels the tests stage found; absent, they are derived from the runs.
 */
export function verifyRuns(
  pre: TestResults[],
  post: TestResults[],
  expected?: { FAIL_TO_PASS?: string[] | undefined; PASS_TO_PASS?: string[] | undefined },
  changed: ChangedTests = { files: new Set(), newFiles: new Set(), names: new Set() },
  /** Every before run built none of the PR's test files (builtNothing): see gradeRuns. */
  opts: { baseBuiltNothing?: boolean } = {},
): Verdict {
  const empty = (r: TestResults[]) => r.length === 0 || r.every((x) => x.size === 0);
  const base = { FAIL_TO_PASS: [], PASS_TO_PASS: [], flaky: [], passToFail: [] };
  if (empty(post)) {
    return {
      ...base,
      outcome: 'rejected',
      reason: 'NoTestsRan',
      message: 'no test results after the gold patch',
    };
  }
  const ids = new Set<string>();
  for (const r of [...pre, ...post]) for (const id of r.keys()) ids.add(id);
  const allPost = (id: string, ok: (s: string | undefined) => boolean) => post.every((r) => ok(r.get(id)));
  const allPre = (id: string, ok: (s: string | undefined) => boolean) => pre.every((r) => ok(r.get(id)));
  const passed = (s: string | undefined) => s === 'passed';

  const strictFailedInAllPre = (id: string) => pre.every((r) => failedBefore(id, r, changed));
  const strictF2P = [...ids].filter((id) => allPost(id, passed) && strictFailedInAllPre(id));
  // As in gradeRuns: a base that built none of the PR's test files fails their tests, where the
  // strict rule finds none (the labels the tests stage gave, when given, are kept as they are).
  const unbuilt =
    opts.baseBuiltNothing === true && (expected?.FAIL_TO_PASS !== undefined || strictF2P.length === 0);
  const failedInAllPre = (id: string) =>
    strictFailedInAllPre(id) || (unbuilt && allPre(id, (s) => s === undefined));
  const stableF2P = new Set([...ids].filter((id) => allPost(id, passed) && failedInAllPre(id)));
  const didNotRunAtBase = [...ids].filter(
    (id) => allPost(id, passed) && allPre(id, notPassed) && !failedInAllPre(id),
  );
  const stableP2P = new Set([...ids].filter((id) => allPost(id, passed) && allPre(id, passed)));
  // A test the tests stage saw pass after the gold patch (it labelled it PASS_TO_PASS) and that
  // now fails after it is flaky across runs (spf13/cast under load), not a PR that breaks it.
  const sawPassAfter = new Set(expected?.PASS_TO_PASS ?? []);
  const passToFail = [...ids]
    .filter((id) => allPre(id, passed) && allPost(id, notPassed) && !sawPassAfter.has(id))
    .sort();

  const f2pCandidates =
    expected?.FAIL_TO_PASS ?? [...stableF2P].concat(flakyCandidates(ids, pre, post, 'f2p'));
  const p2pCandidates =
    expected?.PASS_TO_PASS ?? [...stableP2P].concat(flakyCandidates(ids, pre, post, 'p2p'));
  const F2P = f2pCandidates.filter((id) => stableF2P.has(id)).sort();
  const P2P = p2pCandidates.filter((id) => stableP2P.has(id)).sort();
  const flaky = [
    ...new Set([
      ...f2pCandidates.filter((id) => !stableF2P.has(id)),
      ...p2pCandidates.filter((id) => !stableP2P.has(id)),
    ]),
  ].sort();

  const limited = expected?.FAIL_TO_PASS ? [] : didNotRunAtBase;
  const note = limited.length ? `; ${baseNote(limited, F2P)}` : '';
  const summary = `F2P ${F2P.length}, P2P ${P2P.length}, flaky dropped ${flaky.length}${note}`;
  if (passToFail.length > 0) {
    return {
      outcome: 'rejected',
      reason: 'PassToFail',
      message: `${passToFail.length} test(s) pass before and fail after the gold patch: ${passToFail.slice(0, 5).join(', ')}`,
      FAIL_TO_PASS: F2P,
      PASS_TO_PASS: P2P,
      flaky,
      passToFail,
    };
  }
  if (F2P.length === 0) {
    return {
      outcome: 'rejected',
      reason: 'NoFailToPass',
      message: `no test fails before and passes after the gold patch in every run (${summary})`,
      FAIL_TO_PASS: F2P,
      PASS_TO_PASS: P2P,
      flaky,
      passToFail,
    };
  }
  return {
    outcome: 'succeeded',
    reason: 'Verified',
    message: summary,
    FAIL_TO_PASS: F2P,
    PASS_TO_PASS: P2P,
    flaky,
    passToFail,
  };
}

/** Without expected labels: tests that looked F2P/P2P in some run pair but not in all. */
function flakyCandidates(
  ids: Set<string>,
  pre: TestResults[],
  post: TestResults[],
  kind: 'f2p' | 'p2p',
): string[] {
  return [...ids].filter(
    (id) =>
      post.some((r) => r.get(id) === 'passed') &&
      (kind === 'f2p' ? pre.some((r) => notPassed(r.get(id))) : pre.some((r) => r.get(id) === 'passed')) &&
      !(
        post.every((r) => r.get(id) === 'passed') &&
        (kind === 'f2p' ? pre.every((r) => notPassed(r.get(id))) : pre.every((r) => r.get(id) === 'passed'))
      ),
  );
}

/** SWE-bench's `tests_status` of the labelled tests: only a test that passed succeeds. */
export interface TestsStatus {
  FAIL_TO_PASS: { success: string[]; failure: string[] };
  PASS_TO_PASS: { success: string[]; failure: string[] };
}

/**
 * One run with a candidate patch against the instance's labels, as SWE-bench grades it: a
 * FAIL_TO_PASS or PASS_TO_PASS test succeeds when it passed; failed, errored, skipped or
 * missing (a patch that breaks collection) is a failure. Pure.
 */
export function gradePatchRun(
  results: TestResults,
  failToPass: readonly string[],
  passToPass: readonly string[],
): TestsStatus {
  const split = (ids: readonly string[]) => ({
    success: ids.filter((id) => results.get(id) === 'passed'),
    failure: ids.filter((id) => results.get(id) !== 'passed'),
  });
  return { FAIL_TO_PASS: split(failToPass), PASS_TO_PASS: split(passToPass) };
}
