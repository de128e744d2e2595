import { describe, expect, it } from 'vitest';
import { classify, networkSymptom, verifyRuns } from './grading.ts';
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
