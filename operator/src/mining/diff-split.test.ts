import { describe, expect, it } from 'vitest';
import { changeShape, parseDiff, splitDiff } from './diff-split.ts';

function fileDiff(path: string, added: string[], removed: string[] = []): string {
  const hunk = [...removed.map((l) => `-${l}`), ...added.map((l) => `+${l}`)].join('\n');
  return [
    `diff --git a/${path} b/${path}`,
    'index 1111111..2222222 100644',
    `--- a/${path}`,
    `+++ b/${path}`,
    `@@ -1,${removed.length} +1,${added.length} @@`,
    hunk,
    '',
  ].join('\n');
}

describe('splitDiff', () => {
  const code = fileDiff('src/calc.py', ['def add(a, b):', '    return a + b'], ['def add(a, b):']);
  const test = fileDiff('tests/test_calc.py', ['def test_add():', '    assert add(1, 2) == 3']);
  const docs = fileDiff('README.md', ['Adds numbers.']);

  it('puts test files in the test patch and everything else in the gold patch, byte-exact', () => {
    const split = splitDiff(code + test + docs);
    expect(split.patch).toBe(code + docs);
    expect(split.testPatch).toBe(test);
    expect(split.files.map((f) => [f.path, f.kind, f.added, f.deleted])).toEqual([
      ['src/calc.py', 'code', 2, 1],
      ['tests/test_calc.py', 'test', 2, 0],
      ['README.md', 'docs', 1, 0],
    ]);
    expect(split.lines).toBe(6);
    expect(split.language).toBe('python');
  });

  it('counts hunk lines that look like headers as content', () => {
    const tricky = [
      'diff --git a/a.py b/a.py',
      '--- a/a.py',
      '+++ b/a.py',
      '@@ -1,2 +1,2 @@',
      '--- old comment',
      '+++ new comment',
      ' context',
      '\\ No newline at end of file',
      '',
    ].join('\n');
    const [f] = parseDiff(tricky);
    expect([f?.path, f?.added, f?.deleted]).toEqual(['a.py', 1, 1]);
  });

  it('reads renames, deletions, new files, binaries and quoted paths', () => {
    const diff = [
      'diff --git a/old/name.go b/new/name.go',
      'similarity index 90%',
      'rename from old/name.go',
      'rename to new/name.go',
      'diff --git a/gone.py b/gone.py',
      'deleted file mode 100644',
      '--- a/gone.py',
      '+++ /dev/null',
      '@@ -1 +0,0 @@',
      '-x = 1',
      'diff --git a/logo.png b/logo.png',
      'new file mode 100644',
      'Binary files /dev/null and b/logo.png differ',
      'diff --git "a/t\\303\\251st dir/x.rs" "b/t\\303\\251st dir/x.rs"',
      'new file mode 100644',
      '--- /dev/null',
      '+++ "b/t\\303\\251st dir/x.rs"',
      '@@ -0,0 +1 @@',
      '+fn main() {}',
      '',
    ].join('\n');
    const files = parseDiff(diff);
    expect(files.map((f) => [f.path, f.oldPath, f.binary, f.added, f.deleted])).toEqual([
      ['new/name.go', 'old/name.go', false, 0, 0],
      ['gone.py', undefined, false, 0, 1],
      ['logo.png', undefined, true, 0, 0],
      ['tést dir/x.rs', undefined, false, 1, 0],
    ]);
  });

  it('detects the language by changed lines of code and tests', () => {
    const go = fileDiff('main.go', ['a', 'b', 'c']);
    const ts = fileDiff('web/app.ts', ['a']);
    expect(splitDiff(go + ts).language).toBe('go');
    expect(splitDiff(fileDiff('src/lib.rs', ['x']) + fileDiff('tests/it.rs', ['y'])).language).toBe('rust');
    expect(splitDiff(fileDiff('src/main/java/A.java', ['x'])).language).toBe('java');
    expect(splitDiff(fileDiff('index.mjs', ['x'])).language).toBe('node');
    expect(splitDiff(fileDiff('main.c', ['x'])).language).toBeUndefined();
    expect(splitDiff(docs).language).toBeUndefined();
  });

  it('classifies the shape of a change', () => {
    const lock = fileDiff('yarn.lock', ['x']);
    const ci = fileDiff('.github/workflows/ci.yml', ['x']);
    const bin = 'diff --git a/a.bin b/a.bin\nBinary files a/a.bin and b/a.bin differ\n';
    expect(changeShape(parseDiff(''))).toBe('empty');
    expect(changeShape(parseDiff(bin))).toBe('binaryOnly');
    expect(changeShape(parseDiff(docs + lock))).toBe('docsOrLockfileOnly');
    expect(changeShape(parseDiff(docs + bin))).toBe('docsOrLockfileOnly');
    expect(changeShape(parseDiff(test))).toBe('noCode');
    expect(changeShape(parseDiff(ci + test))).toBe('noCode');
    expect(changeShape(parseDiff(code + docs))).toBe('code');
  });
});
