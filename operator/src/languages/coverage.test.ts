import { describe, expect, it } from 'vitest';
import {
  coveragePy,
  coveragePyLines,
  diffCoverage,
  goCover,
  goModulePath,
  goProfileLines,
  goTestName,
  istanbulLines,
  jsTestNamePattern,
  v8Coverage,
} from './coverage.ts';
import { coverageFor, languageModule } from './index.ts';

const PATCH = [
  'diff --git a/pkg/a.py b/pkg/a.py',
  '--- a/pkg/a.py',
  '+++ b/pkg/a.py',
  '@@ -1,2 +1,5 @@',
  ' def f(x):',
  '+    """Doc."""',
  '+    if x > 1:',
  '+        return 2',
  '     return x',
  'diff --git a/pkg/b.py b/pkg/b.py',
  '--- a/pkg/b.py',
  '+++ b/pkg/b.py',
  '@@ -1,1 +1,3 @@',
  ' import os',
  '+# a comment',
  '+y = 1',
  'diff --git a/data.json b/data.json',
  '--- a/data.json',
  '+++ b/data.json',
  '@@ -0,0 +1 @@',
  '+{"a": 1}',
].join('\n');

const pyCode = (_file: string, text: string) => /\w/.test(text.replace(/#.*/, ''));
const isPy = (file: string) => file.endsWith('.py');

describe('diffCoverage', () => {
  it('counts the executable added lines of measured files and names those no test ran', () => {
    const lines = coveragePyLines(
      JSON.stringify({ files: { 'pkg/a.py': { executed_lines: [1, 3], missing_lines: [4, 5] } } }),
      '/w',
    );
    // a.py: the docstring is not executable, line 3 ran, line 4 did not; b.py was never
    // loaded: its line with code counts, not run; data.json is not measured.
    expect(diffCoverage(PATCH, lines, isPy, pyCode)).toEqual({
      covered: 1,
      total: 3,
      ratio: 0.333,
      uncovered: ['pkg/a.py:4', 'pkg/b.py:3'],
    });
  });

  it('has no ratio when no added line is executable', () => {
    expect(diffCoverage(PATCH, new Map(), () => false, pyCode)).toEqual({
      covered: 0,
      total: 0,
      uncovered: [],
    });
  });

  it('keeps at most 20 uncovered lines', () => {
    const many = `diff --git a/m.py b/m.py\n--- a/m.py\n+++ b/m.py\n@@ -0,0 +1,30 @@\n${Array.from({ length: 30 }, (_, i) => `+x${i} = ${i}`).join('\n')}`;
    const r = diffCoverage(many, new Map(), isPy, pyCode);
    expect(r).toMatchObject({ covered: 0, total: 30, ratio: 0 });
    expect(r.uncovered).toHaveLength(20);
  });
});

describe('reports', () => {
  it('istanbul: a statement marks its first line, executed when counted; paths made relative', () => {
    const json = JSON.stringify({
      '/w/src/t.js': {
        path: '/w/src/t.js',
        statementMap: {
          '0': { start: { line: 3, column: 2 }, end: { line: 5, column: 3 } },
          '1': { start: { line: 4, column: 4 }, end: { line: 4, column: 30 } },
        },
        s: { '0': 1, '1': 0 },
      },
    });
    const f = istanbulLines(json, '/w/').get('src/t.js')!;
    expect([...f.executable]).toEqual([3, 4]);
    expect([...f.executed]).toEqual([3]);
  });

  it('go profile: every line of a block, executed when any block over it ran; other modules left out', () => {
    const profile = [
      'mode: set',
      'example.com/m/t.go:6.38,7.17 1 1',
      'example.com/m/t.go:7.17,9.3 1 0',
      'example.com/m/sub/u.go:3.1,3.9 1 1',
      'example.com/other/x.go:1.1,2.2 1 1',
    ].join('\n');
    const lines = goProfileLines(profile, 'example.com/m');
    expect([...lines.keys()]).toEqual(['t.go', 'sub/u.go']);
    expect([...lines.get('t.go')!.executable]).toEqual([6, 7, 8, 9]);
    expect([...lines.get('t.go')!.executed]).toEqual([6, 7]);
    expect(goModulePath('// c\nmodule example.com/m\n\ngo 1.22\n')).toBe('example.com/m');
    expect(goTestName('example.com/m/pkg/TestX/case#01')).toBe('TestX');
  });
});

describe('engine plans', () => {
  it('coverage.py runs the FAIL_TO_PASS node ids instead of the test files, installing coverage when missing', () => {
    const plan = coveragePy.plan(
      'PYTHONPATH=.:src .venv/bin/python -m pytest -rA --tb=short tests/test_a.py tests/test_b.py',
      ['tests/test_a.py::test_x[a b]', 'tests/test_a.py::test_y'],
      '/w.cov',
    )!;
    expect(plan.run).toBe(
      "PYTHONPATH=.:src .venv/bin/python -m coverage run --data-file=/w.cov.data -m pytest -rA --tb=short 'tests/test_a.py::test_x[a b]' tests/test_a.py::test_y\n.venv/bin/python -m coverage combine -q --data-file=/w.cov.data >/dev/null 2>&1 || true\n.venv/bin/python -m coverage json -q --data-file=/w.cov.data -o /w.cov",
    );
    expect(plan.prepare).toContain(".venv/bin/python -c 'import coverage'");
    expect(coveragePy.plan('tox -e py', [], '/o')).toBeUndefined();
  });

  it('V8: vitest with its v8 provider, jest with its own, c8 around anything else', () => {
    expect(v8Coverage.plan('npx vitest run --reporter=json t.test.js', [], '/o')!.run).toBe(
      'npx vitest run --coverage.enabled --coverage.provider=v8 --coverage.reporter=json --coverage.reportsDirectory=/o.d --reporter=json t.test.js\ncp /o.d/coverage-final.json /o',
    );
    expect(
      v8Coverage.plan('npx vitest run t.test.js', ['t.test.js > group > a (x)', 't.test.js > top'], '/o')!
        .run,
    ).toContain("--coverage.reportsDirectory=/o.d -t '(?:^|[ >])(?:group(?: > | )a \\(x\\)|top)$' t.test.js");
    expect(v8Coverage.plan('npx jest --ci', [], '/o')!.run).toContain(
      'npx jest --coverage --coverageProvider=v8 --coverageReporters=json --coverageDirectory=/o.d --ci',
    );
    expect(v8Coverage.plan('node --test', [], '/o')!.run).toContain(
      "npx c8 --reporter=json --reports-dir=/o.d -- bash -c 'node --test'",
    );
  });

  it('the -t pattern selects the named tests under either separator, after the file or not (nested deeper too)', () => {
    const re = new RegExp(jsTestNamePattern(['t.test.js > group > a (x)', 't.test.js > top'])!);
    for (const name of ['group > a (x)', 'group a (x)', 't.test.js > group > a (x)', 'top', 'group > top'])
      expect(re.test(name), name).toBe(true);
    for (const name of ['group > a (x) 2', 'a (x)', 'stop', 'top > more'])
      expect(re.test(name), name).toBe(false);
    expect(jsTestNamePattern([])).toBeUndefined();
  });

  it('go: -coverprofile over the module, -run the FAIL_TO_PASS top-level tests', () => {
    expect(
      goCover.plan(
        'go test -json -count=1 ./pkg',
        ['example.com/m/pkg/TestA/sub', 'example.com/m/pkg/TestA', 'example.com/m/TestB'],
        '/o',
      )!.run,
    ).toBe("go test -coverprofile=/o -coverpkg=./... -run '^(TestA|TestB)$' -json -count=1 ./pkg");
  });

  it('the registry picks the engine by the recipe runner; rust and java have none', () => {
    const recipe = {
      setupScript: '',
      testCommand: 'go test -json ./...',
      resultFormat: 'go-test-json',
      source: 'deterministic',
    } as const;
    expect(coverageFor(recipe, recipe.testCommand, [], '/o')).toMatchObject({ language: 'go' });
    expect(
      coverageFor({ ...recipe, testCommand: 'cargo test', resultFormat: 'cargo' }, 'cargo test', [], '/o'),
    ).toBeUndefined();
    expect(languageModule('java').coverage).toBeUndefined();
  });
});
