import { describe, expect, it } from 'vitest';
import { changedTests } from './changed-tests.ts';
import {
  baseRunAccepted,
  builtNothing,
  classify,
  gradePatchRun,
  gradeRuns,
  networkSymptom,
  runFault,
  verifyRuns,
} from './grading.ts';
import type { TestResults, TestStatus } from './parsers/index.ts';

const r = (o: Record<string, TestStatus>): TestResults => new Map(Object.entries(o));

describe('classify', () => {
  it('labels by before/after status; missing before counts as failing', () => {
    const c = classify(
      r({ a: 'failed', b: 'passed', c: 'passed', d: 'error', e: 'skipped', g: 'failed' }),
      r({ a: 'passed', b: 'passed', c: 'failed', d: 'passed', e: 'passed', f: 'passed', g: 'failed' }),
    );
    expect(c).toEqual({
      FAIL_TO_PASS: ['a', 'd', 'f'],
      PASS_TO_PASS: ['b'],
      PASS_TO_FAIL: ['c'],
      FAIL_TO_FAIL: ['g'],
    });
  });
  it('a test that passed before and vanished after is PASS_TO_FAIL', () => {
    expect(classify(r({ a: 'passed' }), r({ b: 'passed' })).PASS_TO_FAIL).toEqual(['a']);
  });
});

describe('verifyRuns', () => {
  const pre = r({ f: 'failed', p: 'passed', q: 'passed' });
  it('keeps labels every run agrees on and drops flaky ones', () => {
    const post = [r({ f: 'passed', p: 'passed', q: 'passed' }), r({ f: 'passed', p: 'passed', q: 'failed' })];
    const v = verifyRuns([pre], post, { FAIL_TO_PASS: ['f'], PASS_TO_PASS: ['p', 'q'] });
    expect(v).toMatchObject({
      outcome: 'succeeded',
      reason: 'Verified',
      FAIL_TO_PASS: ['f'],
      PASS_TO_PASS: ['p'],
      flaky: ['q'],
    });
  });
  it('rejects when nothing stays FAIL_TO_PASS', () => {
    const post = [r({ f: 'passed', p: 'passed', q: 'passed' }), r({ f: 'failed', p: 'passed', q: 'passed' })];
    expect(verifyRuns([pre], post, { FAIL_TO_PASS: ['f'], PASS_TO_PASS: ['p'] })).toMatchObject({
      outcome: 'rejected',
      reason: 'NoFailToPass',
      flaky: ['f'],
    });
  });
  it('a PASS_TO_PASS test of the tests stage failing after the gold patch here is flaky, not PASS→FAIL', () => {
    const post = [r({ f: 'passed', p: 'failed', q: 'passed' })];
    expect(verifyRuns([pre], post, { FAIL_TO_PASS: ['f'], PASS_TO_PASS: ['p', 'q'] })).toMatchObject({
      outcome: 'succeeded',
      PASS_TO_PASS: ['q'],
      flaky: ['p'],
      passToFail: [],
    });
    // Without that earlier observation the same runs are a PASS→FAIL.
    expect(verifyRuns([pre], post, { FAIL_TO_PASS: ['f'], PASS_TO_PASS: ['q'] })).toMatchObject({
      reason: 'PassToFail',
      passToFail: ['p'],
    });
  });
  it('rejects a consistent PASS→FAIL, but not a flaky one', () => {
    const consistent = [
      r({ f: 'passed', p: 'failed', q: 'passed' }),
      r({ f: 'passed', p: 'failed', q: 'passed' }),
    ];
    expect(verifyRuns([pre], consistent)).toMatchObject({
      outcome: 'rejected',
      reason: 'PassToFail',
      passToFail: ['p'],
    });
    const flaky = [
      r({ f: 'passed', p: 'failed', q: 'passed' }),
      r({ f: 'passed', p: 'passed', q: 'passed' }),
    ];
    expect(verifyRuns([pre], flaky)).toMatchObject({
      outcome: 'succeeded',
      FAIL_TO_PASS: ['f'],
      PASS_TO_PASS: ['q'],
      flaky: ['p'],
    });
  });
  it('rejects when the suite did not run', () => {
    expect(verifyRuns([pre], [new Map(), new Map()])).toMatchObject({
      outcome: 'rejected',
      reason: 'NoTestsRan',
    });
  });
});

// A Java PR whose new API breaks test compilation at base: no test runs before the fix.
const javaPatch = `diff --git a/src/test/java/org/x/WidgetTest.java b/src/test/java/org/x/WidgetTest.java
--- a/src/test/java/org/x/WidgetTest.java
+++ b/src/test/java/org/x/WidgetTest.java
@@ -30,6 +30,10 @@ public class WidgetTest {
     }
 
+    @Test
+    public void resizesToFit() {
+        assertEquals(2, new Widget().fit());
+    }
`;
const suite = ['org.x.WidgetTest::resizesToFit', 'org.x.WidgetTest::keepsRatio', 'org.x.OtherTest::works'];
const allPass = r(Object.fromEntries(suite.map((id) => [id, 'passed' as TestStatus])));

describe('run validity', () => {
  const run = (results: TestResults, exitCode: number, timedOut = false) => ({ results, exitCode, timedOut });
  it('a run cut off or ending abnormally without a failing test is no evidence', () => {
    expect(runFault(run(r({ a: 'passed' }), 1, true))).toBe('timed out');
    // The runner died half-way: 1 test reported, exit 134, nothing failed.
    expect(runFault(run(r({ a: 'passed' }), 134))).toBe('crashed');
  });
  it('failing tests, a clean exit or no report at all are not faults', () => {
    expect(runFault(run(r({ a: 'passed', b: 'failed' }), 1))).toBeUndefined();
    expect(runFault(run(r({ 'tests/test_a.py': 'error' }), 2))).toBeUndefined();
    expect(runFault(run(r({ a: 'passed' }), 0))).toBeUndefined();
    expect(runFault(run(new Map(), 1))).toBeUndefined();
  });
});

describe('baseRunAccepted: env acceptance needs most tests at base to run', () => {
  const run = (results: TestResults, exitCode = 1) => ({ results, exitCode, timedOut: false });
  // 1 test ran, 4 modules failed to collect: one running test is not a working environment.
  const mostlyBroken = r({
    't/a.py::x': 'passed',
    't/b.py': 'error',
    't/c.py': 'error',
    't/d.py': 'error',
    't/e.py': 'error',
  });
  it('rejects a run where most tests error, naming the setting', () => {
    expect(baseRunAccepted(run(mostlyBroken), 0.5)).toEqual({
      ok: false,
      ran: 1,
      note: 'only 1 of 5 test(s) ran (the rest errored); at least 50% must (verification.minBaseTestsRunRatio)',
    });
  });
  it('the threshold is configurable; skipped tests do not count', () => {
    expect(baseRunAccepted(run(mostlyBroken), 0.2)).toMatchObject({ ok: true, note: '1 of 5 test(s) ran' });
    expect(
      baseRunAccepted(run(r({ a: 'failed', b: 'passed', c: 'error', s: 'skipped' })), 0.6),
    ).toMatchObject({ ok: true });
  });
  it('a crashed, silent or all-error run is no environment', () => {
    expect(baseRunAccepted(run(r({ a: 'passed' }), 139), 0.5)).toMatchObject({
      ok: false,
      note: 'the test run crashed (exit 139): not evidence',
    });
    expect(baseRunAccepted(run(new Map()), 0.5)).toMatchObject({ ok: false });
    expect(baseRunAccepted(run(r({ a: 'error' })), 0)).toMatchObject({ ok: false, note: 'no test ran' });
  });
  it("every test failing at base is no environment; the PR's own tests on a bare base may all fail", () => {
    // pillarjs/path-to-regexp#261: `node --test` ran the TypeScript spec as one failing "test".
    const allFailed = r({ 'src/index.spec.ts': 'failed', b: 'failed', s: 'skipped' });
    expect(baseRunAccepted(run(allFailed), 0.5)).toEqual({
      ok: false,
      ran: 2,
      note: 'all 2 test(s) that ran failed at base: not a working test environment',
    });
    expect(baseRunAccepted(run(allFailed), 0.5, false)).toMatchObject({ ok: true });
    expect(baseRunAccepted(run(r({ a: 'failed', b: 'passed' })), 0.5)).toMatchObject({ ok: true });
  });
});

describe('gradeRuns: a base that does not build', () => {
  it('FAIL_TO_PASS is limited to the tests the PR adds or changes, and says why', () => {
    const g = gradeRuns(new Map(), allPass, changedTests([javaPatch]));
    expect(g.FAIL_TO_PASS).toEqual(['org.x.WidgetTest::resizesToFit']);
    expect(g.PASS_TO_PASS).toEqual([]);
    expect(g.didNotRunAtBase).toEqual(['org.x.OtherTest::works', 'org.x.WidgetTest::keepsRatio']);
    expect(g.note).toContain(
      "the base does not build or collect 2 test(s) with the PR's tests (e.g. org.x.OtherTest::works, org.x.WidgetTest::keepsRatio): FAIL_TO_PASS limited to the 1 test(s)",
    );
  });
  it('a Go package that fails to build reports the package, not its tests', () => {
    const pre = r({ 'github.com/acme/uuid': 'error' });
    const post = r({
      'github.com/acme/uuid/TestNewV7': 'passed',
      'github.com/acme/uuid/TestParse': 'passed',
    });
    const patch =
      'diff --git a/uuid_test.go b/uuid_test.go\n--- a/uuid_test.go\n+++ b/uuid_test.go\n@@ -1,1 +1,3 @@\n+func TestNewV7(t *testing.T) {\n+}\n';
    expect(gradeRuns(pre, post, changedTests([patch])).FAIL_TO_PASS).toEqual([
      'github.com/acme/uuid/TestNewV7',
    ]);
  });
  it('tests that ran and failed before stay FAIL_TO_PASS whether the PR touched them or not', () => {
    const pre = r({ 'org.x.OtherTest::works': 'failed', 'org.x.WidgetTest::keepsRatio': 'passed' });
    const g = gradeRuns(pre, allPass, changedTests([javaPatch]));
    expect(g).toMatchObject({
      FAIL_TO_PASS: ['org.x.OtherTest::works', 'org.x.WidgetTest::resizesToFit'],
      PASS_TO_PASS: ['org.x.WidgetTest::keepsRatio'],
      didNotRunAtBase: [],
      note: '',
    });
  });
  it('a compile-time regression test (the patch changes no test): a base that built none of the PR test files fails them all', () => {
    // thiserror#408: the test patch adds only a type whose derive did not expand at base; the
    // run limited to tests/test_generics.rs built nothing before, and its 3 tests pass after.
    const patch =
      'diff --git a/tests/test_generics.rs b/tests/test_generics.rs\n--- a/tests/test_generics.rs\n+++ b/tests/test_generics.rs\n@@ -160,0 +161,3 @@\n+#[derive(Error, Debug)]\n+pub enum AssociatedTypeError<T: FromStr> {\n+}\n';
    const post = r({ test_display_enum_compound: 'passed', test_multiple_bound: 'passed' });
    const strict = gradeRuns(new Map(), post, changedTests([patch]));
    expect(strict.FAIL_TO_PASS).toEqual([]);
    const g = gradeRuns(new Map(), post, changedTests([patch]), { baseBuiltNothing: true });
    expect(g).toMatchObject({
      FAIL_TO_PASS: ['test_display_enum_compound', 'test_multiple_bound'],
      didNotRunAtBase: [],
    });
    expect(g.note).toContain("the base does not build the PR's test files");
    // Where the patch changes a test, the strict rule stands: only that test.
    expect(
      gradeRuns(new Map(), allPass, changedTests([javaPatch]), { baseBuiltNothing: true }).FAIL_TO_PASS,
    ).toEqual(['org.x.WidgetTest::resizesToFit']);
    // verify confirms the tests stage's labels from the same kind of before run, and derives
    // them the same way without labels; a before run that reported tests is no build failure.
    const expected = { FAIL_TO_PASS: g.FAIL_TO_PASS, PASS_TO_PASS: [] };
    expect(
      verifyRuns([new Map()], [post, post], expected, changedTests([patch]), { baseBuiltNothing: true }),
    ).toMatchObject({ outcome: 'succeeded', FAIL_TO_PASS: g.FAIL_TO_PASS });
    expect(
      verifyRuns([new Map()], [post, post], undefined, changedTests([patch]), { baseBuiltNothing: true }),
    ).toMatchObject({ outcome: 'succeeded', FAIL_TO_PASS: g.FAIL_TO_PASS });
    expect(verifyRuns([new Map()], [post, post], expected, changedTests([patch])).FAIL_TO_PASS).toEqual([]);
    expect(builtNothing({ results: new Map(), exitCode: 101, scoped: true })).toBe(true);
    expect(builtNothing({ results: new Map(), exitCode: 101, scoped: false })).toBe(false);
    expect(builtNothing({ results: new Map(), exitCode: 0, scoped: true })).toBe(false);
    expect(builtNothing({ results: r({ a: 'error' }), exitCode: 1, scoped: true })).toBe(false);
  });
  it('verifyRuns derives labels under the same rule', () => {
    const v = verifyRuns([new Map()], [allPass, allPass], undefined, changedTests([javaPatch]));
    expect(v).toMatchObject({ outcome: 'succeeded', FAIL_TO_PASS: ['org.x.WidgetTest::resizesToFit'] });
    expect(v.message).toContain('FAIL_TO_PASS limited to the 1 test(s)');
  });
});

describe('networkSymptom', () => {
  it.each([
    [
      'python',
      "E   urllib3.exceptions.NameResolutionError: <...>: Failed to resolve 'pypi.org' ([Errno -3] Temporary failure in name resolution)",
    ],
    ['node', 'Error: getaddrinfo ENOTFOUND registry.npmjs.org'],
    ['go', 'Get "https://example.com": dial tcp: lookup example.com on 127.0.0.53:53: no such host'],
    ['curl', 'curl: (6) Could not resolve host: example.com'],
    [
      'rust',
      'error sending request: failed to lookup address information: Temporary failure in name resolution',
    ],
  ])('finds the %s message', (_runtime, line) => {
    expect(networkSymptom(`collected 3 items\n${line}\nFAILED tests/test_x.py::test_y`)).toBe(line.trim());
  });

  it('ignores ordinary failures', () => {
    expect(
      networkSymptom('AssertionError: assert 1 == 2\nConnectionRefusedError on a closed local port'),
    ).toBeUndefined();
  });
});

describe('gradePatchRun (scaleswe eval)', () => {
  it('a labelled test succeeds only when it passed: failed, errored, skipped or missing fail', () => {
    const results = r({ f1: 'passed', f2: 'failed', p1: 'passed', p2: 'error', p3: 'skipped', x: 'failed' });
    expect(gradePatchRun(results, ['f1', 'f2', 'f3'], ['p1', 'p2', 'p3'])).toEqual({
      FAIL_TO_PASS: { success: ['f1'], failure: ['f2', 'f3'] },
      PASS_TO_PASS: { success: ['p1'], failure: ['p2', 'p3'] },
    });
  });
  it('tests outside the labels do not count', () => {
    expect(gradePatchRun(r({ f: 'passed', other: 'failed' }), ['f'], [])).toEqual({
      FAIL_TO_PASS: { success: ['f'], failure: [] },
      PASS_TO_PASS: { success: [], failure: [] },
    });
  });
});
