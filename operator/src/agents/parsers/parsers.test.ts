import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseTestResults } from './index.ts';

// Outputs in testdata/ were captured from real runs of pytest 9.2, vitest 5.1, go 1.26,
// node 24 --test (junit reporter) and cargo 1.95 on the fixture repositories.
const data = (f: string) => readFileSync(path.join(import.meta.dirname, 'testdata', f), 'utf8');
const obj = (m: Map<string, string>) => Object.fromEntries([...m].sort(([a], [b]) => a.localeCompare(b)));

describe('pytest -rA', () => {
  it('reads pass and fail lines of the summary', () => {
    expect(obj(parseTestResults('pytest', data('pytest-pre.txt')))).toEqual({
      'tests/test_textutils.py::test_clamp_above': 'failed',
      'tests/test_textutils.py::test_clamp_below': 'passed',
      'tests/test_textutils.py::test_clamp_inside': 'passed',
      'tests/test_textutils.py::test_slugify': 'passed',
    });
  });
  it('keeps params with spaces, classes, errors, xfail; collection errors by module path', () => {
    expect(obj(parseTestResults('pytest', data('pytest-mix-continue.txt')))).toEqual({
      'tests/test_broken.py': 'error',
      'tests/test_mix.py::TestK::test_method': 'passed',
      'tests/test_mix.py::test_error': 'error',
      'tests/test_mix.py::test_param[1]': 'passed',
      'tests/test_mix.py::test_param[2]': 'failed',
      'tests/test_mix.py::test_param[a b]': 'passed',
      'tests/test_mix.py::test_xfail': 'skipped',
    });
  });
  it('an interrupted collection yields only the error', () => {
    expect(obj(parseTestResults('pytest', data('pytest-mix.txt')))).toEqual({
      'tests/test_broken.py': 'error',
    });
  });
  it('reads verbose lines too', () => {
    const out = 'tests/a.py::test_x PASSED                [ 50%]\ntests/a.py::test_y[a-b] FAILED   [100%]\n';
    expect(obj(parseTestResults('pytest', out))).toEqual({
      'tests/a.py::test_x': 'passed',
      'tests/a.py::test_y[a-b]': 'failed',
    });
  });
});

describe('junit xml', () => {
  it('pytest --junitxml', () => {
    const r = parseTestResults('junit-xml', data('pytest-mix.xml'));
    expect(r.get('tests.test_mix::test_param[2]')).toBe('failed');
    expect(r.get('tests.test_mix.TestK::test_method')).toBe('passed');
    expect(r.get('tests.test_mix::test_skipped')).toBe('skipped');
    expect(r.get('tests.test_mix::test_error')).toBe('error');
  });
  it('node --test junit reporter, ids relative to the workspace', () => {
    expect(
      obj(parseTestResults('junit-xml', data('nodetest-junit.xml'), { rootDir: '/tmp/cap/nt' })),
    ).toEqual({
      'test/a.test.mjs > math > adds': 'passed',
      'test/a.test.mjs > math > fails': 'failed',
      'test/a.test.mjs > math > skipped': 'skipped',
      'test/a.test.mjs > top level': 'passed',
    });
  });
  it('concatenated surefire reports (one document per class)', () => {
    // Shape of maven-surefire-plugin 3.x TEST-*.xml files, concatenated by the recipe.
    const surefire = (cls: string, cases: string) =>
      `<?xml version="1.0" encoding="UTF-8"?>\n<testsuite xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" name="${cls}" time="0.02" tests="2" errors="0" skipped="0" failures="1">\n<properties><property name="java.version" value="21"/></properties>\n${cases}\n</testsuite>\n`;
    const text =
      surefire(
        'com.acme.MathTest',
        '<testcase name="adds" classname="com.acme.MathTest" time="0.001"/>\n<testcase name="divides" classname="com.acme.MathTest" time="0.003"><failure message="expected: &lt;2&gt; but was: &lt;3&gt;" type="org.opentest4j.AssertionFailedError">trace</failure></testcase>',
      ) +
      surefire(
        'com.acme.IoTest',
        '<testcase name="reads" classname="com.acme.IoTest" time="0"><skipped/></testcase><testcase name="opens" classname="com.acme.IoTest" time="0"><error type="java.io.IOException">x</error></testcase>',
      );
    expect(obj(parseTestResults('junit-xml', text))).toEqual({
      'com.acme.IoTest::opens': 'error',
      'com.acme.IoTest::reads': 'skipped',
      'com.acme.MathTest::adds': 'passed',
      'com.acme.MathTest::divides': 'failed',
    });
  });
});

describe('vitest/jest json', () => {
  it('builds file > describe > title ids', () => {
    expect(
      obj(parseTestResults('vitest-json', data('vitest-pre.json'), { rootDir: '/tmp/cap/repos/rangekit' })),
    ).toEqual({
      'test/range.test.js > computes the span': 'passed',
      'test/range.test.js > inRange > accepts the lower bound': 'passed',
      'test/range.test.js > inRange > accepts the upper bound': 'failed',
      'test/range.test.js > inRange > rejects values below': 'passed',
    });
  });
  it('a suite that failed to load counts as an error', () => {
    const report = {
      numTotalTests: 0,
      testResults: [
        { name: '/w/test/a.test.js', status: 'failed', message: 'SyntaxError', assertionResults: [] },
      ],
    };
    expect(
      obj(parseTestResults('jest-json', `noise\n${JSON.stringify(report)}\n`, { rootDir: '/w' })),
    ).toEqual({
      'test/a.test.js': 'error',
    });
  });
});

describe('go test -json', () => {
  it('reads tests and subtests per package', () => {
    expect(obj(parseTestResults('go-test-json', data('gotest-pre.jsonl')))).toEqual({
      'example.com/mathx/TestMaxFirstLarger': 'passed',
      'example.com/mathx/TestMaxSecondLarger': 'failed',
      'example.com/mathx/TestMaxSecondLarger/case': 'failed',
      'example.com/mathx/TestMaxSecondLarger/case#01': 'failed',
      'example.com/mathx/strx/TestShout': 'passed',
    });
  });
  it('a package that does not build is an error under its import path', () => {
    expect(obj(parseTestResults('go-test-json', data('gotest-buildfail.jsonl')))).toEqual({
      'example.com/mathx': 'error',
      'example.com/mathx/strx/TestShout': 'passed',
    });
  });
  it('a test that never finished (panic/timeout) failed', () => {
    const out = '{"Action":"run","Package":"p","Test":"TestHang"}\n{"Action":"fail","Package":"p"}\n';
    expect(obj(parseTestResults('go-test-json', out))).toEqual({ 'p/TestHang': 'failed' });
  });
});

describe('cargo test', () => {
  it('reads every test binary', () => {
    expect(obj(parseTestResults('cargo', data('cargo.txt')))).toEqual({
      integration_ok: 'passed',
      'tests::adds': 'passed',
      'tests::fails': 'failed',
      'tests::ignored': 'skipped',
      'tests::nested::deep': 'passed',
    });
  });
  it('doctest ids carry no line number, so moving code does not relabel them', () => {
    const ids = {
      'src/lib.rs - Wrap::boom': 'passed',
      'src/lib.rs - Wrap::skipped': 'skipped',
      'src/lib.rs - Wrap::typed - compile fail': 'passed',
      'src/lib.rs - Wrap::wrong': 'failed',
      'src/lib.rs - add #1': 'passed',
      'src/lib.rs - add #2': 'passed',
    };
    const before = data('cargo-doctests.txt');
    expect(obj(parseTestResults('cargo', before))).toEqual(ids);
    // The same doctests after a patch that inserts 40 lines above them.
    const moved = before.replace(/\(line (\d+)\)/g, (_m, n) => `(line ${Number(n) + 40})`);
    expect(moved).not.toBe(before);
    expect(obj(parseTestResults('cargo', moved))).toEqual(ids);
  });
});

describe('tap', () => {
  it('nests subtests', () => {
    const out =
      'TAP version 13\n# Subtest: math\n    ok 1 - adds\n    not ok 2 - fails\n    ok 3 - later # SKIP\nnot ok 1 - math\nok 2 - top\n';
    expect(obj(parseTestResults('tap', out))).toEqual({
      math: 'failed',
      'math > adds': 'passed',
      'math > fails': 'failed',
      'math > later': 'skipped',
      top: 'passed',
    });
  });
});
