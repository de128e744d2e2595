import { tmpdir } from 'node:os';
import { describe, expect, it } from 'vitest';
import { type Mutant, mutantDiff } from '../languages/mutation.ts';
import { staticVerdicts } from './equivalence.ts';
import {
  mutantOutcome,
  mutantParallelism,
  mutantTimeoutMs,
  mutationNote,
  mutationSummary,
  wantsStrongerTests,
  weakTests,
} from './mutation.ts';
import type { TestStatus } from './parsers/index.ts';

const labels = ['t.py::f2p', 't.py::p2p'];
const run = (results: Record<string, TestStatus>, extra: { timedOut?: boolean; exitCode?: number } = {}) => ({
  results: new Map(Object.entries(results)),
  exitCode: extra.exitCode ?? 0,
  timedOut: extra.timedOut ?? false,
});
const mutant = (line: number): Mutant => ({
  file: 'a.py',
  line,
  kind: 'boundary',
  original: '    if x > y:',
  mutated: '    if x >= y:',
});

describe('mutantOutcome', () => {
  it('killed when any labelled test fails or errors, survived when all pass', () => {
    expect(
      mutantOutcome(run({ 't.py::f2p': 'passed', 't.py::p2p': 'failed' }, { exitCode: 1 }), labels),
    ).toBe('killed');
    expect(mutantOutcome(run({ 't.py::f2p': 'error' }, { exitCode: 1 }), labels)).toBe('killed');
    expect(
      mutantOutcome(run({ 't.py::f2p': 'passed', 't.py::p2p': 'passed', other: 'failed' }), labels),
    ).toBe('survived');
  });

  it('not-compiling when none of them was reported; errored when cut off or partly missing', () => {
    expect(mutantOutcome(run({ 't.py': 'error' }, { exitCode: 2 }), labels)).toBe('not-compiling');
    expect(mutantOutcome(run({}, { exitCode: 1 }), labels)).toBe('not-compiling');
    expect(mutantOutcome(run({ 't.py::f2p': 'passed' }, { timedOut: true }), labels)).toBe('errored');
    expect(mutantOutcome(run({ 't.py::f2p': 'passed' }), labels)).toBe('errored');
    expect(mutantOutcome(run({ 't.py::f2p': 'passed', 't.py::p2p': 'skipped' }), labels)).toBe('errored');
  });
});

describe('mutationSummary and the gate', () => {
  it('scores killed / (killed + survived); not-compiling and errored are not counted', () => {
    const r = mutationSummary([
      { mutant: mutant(1), outcome: 'killed' },
      { mutant: mutant(2), outcome: 'killed' },
      { mutant: mutant(3), outcome: 'killed' },
      { mutant: mutant(4), outcome: 'survived' },
      { mutant: mutant(5), outcome: 'not-compiling' },
      { mutant: mutant(6), outcome: 'errored' },
      { mutant: mutant(7), outcome: 'equivalent' },
    ]);
    expect(r).toEqual({
      tried: 7,
      killed: 3,
      survived: 1,
      notCompiling: 1,
      errored: 1,
      equivalent: 1,
      score: 0.75,
      survivors: ['a.py:4 boundary: if x > y: → if x >= y:'],
    });
    expect(weakTests(r, 0.8)).toBe(true);
    expect(weakTests(r, 0.75)).toBe(false);
    expect(weakTests(r, undefined)).toBe(false);
    expect(mutationNote(r)).toBe(
      'mutation: 3 of 4 killed (score 0.75), 1 not compiling, 1 without a verdict, 1 equivalent; survived: a.py:4 boundary: if x > y: → if x >= y:',
    );
  });

  it('every mutant killed scores 1; nothing counted has no score and never rejects', () => {
    expect(mutationSummary([{ mutant: mutant(1), outcome: 'killed' }]).score).toBe(1);
    const none = mutationSummary([{ mutant: mutant(1), outcome: 'not-compiling' }]);
    expect(none.score).toBeUndefined();
    expect(weakTests(none, 1)).toBe(false);
  });

  it('skipped: recorded with the reason, no score (not counted as strong)', () => {
    const r = mutationSummary([], 'nothing to mutate');
    expect(r).toMatchObject({ tried: 0, skipped: 'nothing to mutate' });
    expect(r.score).toBeUndefined();
    expect(weakTests(r, 0.5)).toBe(false);
    expect(mutationNote(r)).toBe('mutation: skipped (nothing to mutate)');
  });

  it('a mutant run is bounded by a few slowest verified runs, within the test timeout', () => {
    expect(mutantTimeoutMs(2_000, 900_000)).toBe(60_000);
    expect(mutantTimeoutMs(100_000, 900_000)).toBe(330_000);
    expect(mutantTimeoutMs(500_000, 900_000)).toBe(900_000);
  });
});

describe('mutants at once', () => {
  it('the setting, else the CPUs, never more than the mutants', () => {
    expect(mutantParallelism(undefined, 4, 20)).toBe(4);
    expect(mutantParallelism(2, 16, 20)).toBe(2);
    expect(mutantParallelism(undefined, 8, 3)).toBe(3);
    expect(mutantParallelism(undefined, 1, 20)).toBe(1);
  });
});

describe('equivalent and non-compiling mutants, told apart without a run', () => {
  const verdict = (file: string, original: string, line: number, from: string, to: string) => {
    const lines = original.split('\n');
    const m: Mutant = {
      file,
      line,
      kind: 'constant',
      original: lines[line - 1]!,
      mutated: lines[line - 1]!.replace(from, to),
    };
    lines[line - 1] = m.mutated;
    return staticVerdicts([{ mutant: m, original, mutated: lines.join('\n') }], tmpdir()).then((v) => v[0]);
  };

  it('Python: same AST or same bytecode is equivalent; a mutant that does not parse is not compiling', async () => {
    const src = 'def f(x):\n    y = x  # keep\n    return (x > 1) and y\n';
    // Parentheses and blanks are not in the AST.
    expect(await verdict('a.py', src, 3, '(x > 1)', 'x  >  1')).toBe('equivalent');
    // Constant folding: 2 - 1 and 1 compile alike.
    expect(await verdict('a.py', 'LIMIT = 2 - 1\n', 1, '2 - 1', '1')).toBe('equivalent');
    expect(await verdict('a.py', src, 3, 'x > 1', 'x >= 1')).toBeUndefined();
    expect(await verdict('a.py', src, 3, 'x > 1', 'x > > 1')).toBe('not-compiling');
  });

  it('Go: the same gofmt form is equivalent; a syntax error is not compiling', async () => {
    const src = 'package p\n\nfunc F(x int) bool {\n\treturn x > 1\n}\n';
    expect(await verdict('p.go', src, 4, 'x > 1', 'x>1')).toBe('equivalent');
    expect(await verdict('p.go', src, 4, 'x > 1', 'x >= 1')).toBeUndefined();
    expect(await verdict('p.go', src, 4, 'x > 1', 'x > ) 1')).toBe('not-compiling');
  });

  it('any language: blanks alone outside strings are equivalent, a change inside a string is not', async () => {
    const src = "export const f = (x) => x > 1 ? 'a  b' : 'c';\n";
    expect(await verdict('a.js', src, 1, 'x > 1', 'x >  1')).toBe('equivalent');
    expect(await verdict('a.js', src, 1, "'a  b'", "'a b'")).toBeUndefined();
    expect(await verdict('a.js', src, 1, 'x > 1', 'x >= 1')).toBeUndefined();
  });
});

describe('feedback to TestAgent', () => {
  const weak = mutationSummary([
    { mutant: mutant(1), outcome: 'killed' },
    { mutant: mutant(2), outcome: 'survived' },
  ]);
  it('one round, only for tests below the gate with survivors and an LLM', () => {
    expect(wantsStrongerTests(weak, 0.9, true, 1)).toBe(true);
    expect(wantsStrongerTests(weak, 0.9, true, 0)).toBe(false);
    expect(wantsStrongerTests(weak, 0.9, false, 1)).toBe(false);
    expect(wantsStrongerTests(weak, undefined, true, 1)).toBe(false);
    expect(wantsStrongerTests(weak, 0.5, true, 1)).toBe(false);
  });

  it('a survivor is shown as a one-line diff on top of the gold patch', () => {
    expect(mutantDiff(mutant(4))).toBe(
      '--- a/a.py\n+++ b/a.py\n@@ -4 +4 @@\n-    if x > y:\n+    if x >= y:\n',
    );
  });
});
