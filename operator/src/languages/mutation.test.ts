import { describe, expect, it } from 'vitest';
import { languageModule, mutationSyntaxOf } from './index.ts';
import { addedLines, applyMutant, describeMutant, type Mutant, mutantsOfPatch } from './mutation.ts';

/** A one-file unified diff adding `lines` after `context` (new-side line numbers from 1). */
function diffOf(file: string, context: string[], lines: string[]): string {
  const header = `diff --git a/${file} b/${file}\nindex 1..2 100644\n--- a/${file}\n+++ b/${file}\n`;
  const hunk = `@@ -1,${context.length} +1,${context.length + lines.length} @@\n`;
  return header + hunk + context.map((l) => ` ${l}\n`).join('') + lines.map((l) => `+${l}\n`).join('');
}

const mutated = (ms: Mutant[]) =>
  [...ms].sort((a, b) => a.line - b.line).map((m) => `${m.kind}: ${m.mutated.trim()}`.trim());

describe('addedLines', () => {
  it('numbers added lines on the new side, across hunks and files; deleted files have none', () => {
    const diff = [
      'diff --git a/a.py b/a.py',
      '--- a/a.py',
      '+++ b/a.py',
      '@@ -1,3 +1,3 @@',
      ' x = 1',
      '-y = 2',
      '+y = 3',
      ' z = 4',
      '@@ -10,2 +10,3 @@',
      ' p = 1',
      '+q = 2',
      ' r = 3',
      'diff --git a/gone.py b/gone.py',
      'deleted file mode 100644',
      '--- a/gone.py',
      '+++ /dev/null',
      '@@ -1 +0,0 @@',
      '-old = 1',
      '\\ No newline at end of file',
    ].join('\n');
    expect(addedLines(diff).map(({ file, line, text }) => [file, line, text])).toEqual([
      ['a.py', 2, 'y = 3'],
      ['a.py', 11, 'q = 2'],
    ]);
  });
});

describe('mutantsOfPatch: Python', () => {
  const py = (lines: string[], context: string[] = ['def f(value, low, high):'], max = 100) =>
    mutantsOfPatch(diffOf('pkg/mod.py', context, lines), mutationSyntaxOf, max);

  it('boundary, neutral return and a deleted statement (as pass)', () => {
    const ms = py(['    if value > high:', '        return high', '    total = value + 1']);
    expect(mutated(ms)).toEqual([
      'boundary: if value >= high:',
      'return: return None',
      'arithmetic: total = value - 1',
      'constant: total = value + 2',
      'constant: total = value + 0',
      'delete: pass',
    ]);
    expect(ms[1]).toMatchObject({ file: 'pkg/mod.py', line: 3, original: '        return high' });
  });

  it('and/or, True/False, ==/!=; strings, comments and docstrings are left alone', () => {
    const ms = py([
      '    """Returns True if a < b and c > d."""',
      '    ok = a == b and flag is True  # a < b or not',
      '    msg = "x < y or True"',
      '    """',
      '    a < b or True',
      '    """',
    ]);
    expect(mutated(ms)).toEqual([
      'equality: ok = a != b and flag is True  # a < b or not',
      'logical: ok = a == b or flag is True  # a < b or not',
      'boolean: ok = a == b and flag is False  # a < b or not',
      'delete: pass',
      'delete: pass',
    ]);
  });

  it('never deletes block openers, signatures, imports or continuation lines', () => {
    const ms = py([
      'import os',
      'def g(x):',
      '    if x:',
      '    y = call(',
      '        x)',
      '    z = (a + c +',
      '         b)',
    ]);
    expect(ms.filter((m) => m.kind === 'delete')).toEqual([]);
    expect(mutated(ms)).toEqual(['arithmetic: z = (a - c +']);
  });
});

describe('mutantsOfPatch: JavaScript / TypeScript', () => {
  it('===/!==, &&/||, boundaries, return undefined, deleted calls; generics and arrows stay', () => {
    const ms = mutantsOfPatch(
      diffOf(
        'src/range.ts',
        ['export function inRange(x: number, lo: number, hi: number): boolean {'],
        [
          '  const ok: Array<number> = [];',
          '  if (x === lo) return true;',
          // biome-ignore lint/suspicious/noTemplateCurlyInString: a JavaScript line under test
          '  log(`x < ${hi}`);',
          '  return x >= lo && x <= hi;',
        ],
      ),
      mutationSyntaxOf,
      100,
    );
    expect(mutated(ms)).toEqual([
      'equality: if (x !== lo) return true;',
      'boolean: if (x === lo) return false;',
      'delete:',
      'boundary: return x > lo && x <= hi;',
      'boundary: return x >= lo && x < hi;',
      'logical: return x >= lo || x <= hi;',
      'return: return undefined;',
    ]);
  });
});

describe('mutantsOfPatch: Go', () => {
  it('no return mutant (no neutral value); != and arithmetic; deletes an assignment', () => {
    const ms = mutantsOfPatch(
      diffOf(
        'span.go',
        ['func Span(lo, hi int) int {'],
        ['\tif hi != lo {', '\t\tcount = hi - lo', '\t}', '\treturn hi - lo + 1', '\tch <- v'],
      ),
      mutationSyntaxOf,
      100,
    );
    expect(mutated(ms)).toEqual([
      'equality: if hi == lo {',
      'arithmetic: count = hi + lo',
      'delete:',
      'arithmetic: return hi + lo + 1',
      'arithmetic: return hi - lo - 1',
      'constant: return hi - lo + 2',
      'constant: return hi - lo + 0',
    ]);
  });
});

describe('mutantsOfPatch: Rust', () => {
  it('return Default::default(), generics and lifetimes untouched, let kept', () => {
    const ms = mutantsOfPatch(
      diffOf(
        'src/lib.rs',
        ["pub fn first<'a>(v: &'a Vec<u32>) -> Option<&'a u32> {"],
        [
          '    let n: Vec<u32> = Vec::new();',
          '    if v.len() < 2 {',
          '        return None;',
          '    }',
          '    v.push(3);',
        ],
      ),
      mutationSyntaxOf,
      100,
    );
    expect(mutated(ms)).toEqual([
      'boundary: if v.len() <= 2 {',
      'constant: if v.len() < 3 {',
      'constant: if v.len() < 1 {',
      'return: return Default::default();',
      'constant: v.push(4);',
      'constant: v.push(2);',
      'delete:',
    ]);
  });
});

describe('mutantsOfPatch: Java', () => {
  it('flips and deletes expression statements, never declarations, javadoc or annotations', () => {
    const ms = mutantsOfPatch(
      diffOf(
        'src/main/java/a/Range.java',
        ['class Range {'],
        [
          '  /** lo <= x && x <= hi */',
          '  @Override',
          '  public boolean contains(int x) {',
          '    int d = hi - lo;',
          '    this.hits += 1;',
          '    return x >= lo && x <= hi;',
        ],
      ),
      mutationSyntaxOf,
      100,
    );
    expect(mutated(ms)).toEqual([
      'arithmetic: int d = hi + lo;',
      'constant: this.hits += 2;',
      'constant: this.hits += 0;',
      'delete:',
      'boundary: return x > lo && x <= hi;',
      'boundary: return x >= lo && x < hi;',
      'logical: return x >= lo || x <= hi;',
    ]);
  });
});

describe('the cap and the patch', () => {
  const diff =
    diffOf('a.py', [], ['x = a + b', 'y = c < d']) +
    diffOf('README.md', [], ['a < b']) +
    diffOf('b.js', [], ['z = e || f;']);

  it('spreads over lines (round robin) and skips files of no mutable language', () => {
    expect(mutantsOfPatch(diff, mutationSyntaxOf, 3).map(describeMutant)).toEqual([
      'a.py:1 arithmetic: x = a + b → x = a - b',
      'a.py:2 boundary: y = c < d → y = c <= d',
      'b.js:1 logical: z = e || f; → z = e && f;',
    ]);
    expect(mutantsOfPatch(diff, mutationSyntaxOf, 100).length).toBe(6);
  });

  it('type declarations (.pyi stubs, .d.ts) get no mutants: nothing in them runs', () => {
    // more-itertools#653: the PR adds iter_index to recipes.py and its signature to recipes.pyi.
    const stubbed =
      diffOf('more_itertools/recipes.py', [], ['    i = start - 1']) +
      diffOf(
        'more_itertools/recipes.pyi',
        [],
        [
          'def iter_index(iterable: Iterable[object], value: Any, start: int = 0) -> Iterator[int]: ...',
          'MAX_INDEX: int = 10',
        ],
      ) +
      diffOf('types/index.d.ts', [], ['export declare const LIMIT = 10;']);
    const files = mutantsOfPatch(stubbed, mutationSyntaxOf, 100).map((m) => m.file);
    expect(files.length).toBeGreaterThan(0);
    expect(new Set(files)).toEqual(new Set(['more_itertools/recipes.py']));
    expect(mutationSyntaxOf('src/index.ts')).toBeDefined();
  });

  it('applies on top of the file after the gold patch, and only there', () => {
    const [m] = mutantsOfPatch(diff, mutationSyntaxOf, 1);
    expect(applyMutant('x = a + b\ny = c < d\n', m!)).toBe('x = a - b\ny = c < d\n');
    expect(applyMutant('x = a * b\n', m!)).toBeUndefined();
  });

  it('every language of the registry has a mutator', () => {
    for (const l of ['python', 'node', 'go', 'rust', 'java'] as const)
      expect(languageModule(l).mutation, l).toBeDefined();
  });
});
