import { describe, expect, it } from 'vitest';
import { Filters } from '../api/index.ts';
import { inWindow, screenChange, screenLinks, screenMetadata, toCandidate } from './candidate-filter.ts';
import { splitDiff } from './diff-split.ts';
import { addToFunnel, emptyFunnel, formatFunnel } from './funnel.ts';
import type { MiningFilters } from './types.ts';

const filters = (over: object = {}): MiningFilters => Filters.parse(over) as MiningFilters;

function fileDiff(path: string, lines: number): string {
  const body = Array.from({ length: lines }, (_, i) => `+line ${i}`).join('\n');
  return `diff --git a/${path} b/${path}\n--- a/${path}\n+++ b/${path}\n@@ -0,0 +1,${lines} @@\n${body}\n`;
}

describe('candidate filter', () => {
  it('window is [mergedAfter, mergedBefore)', () => {
    const f = filters({ mergedAfter: '2024-01-01T00:00:00Z', mergedBefore: '2024-02-01T00:00:00Z' });
    expect(inWindow('2024-01-01T00:00:00Z', f)).toBe(true);
    expect(inWindow('2023-12-31T23:59:59Z', f)).toBe(false);
    expect(inWindow('2024-02-01T00:00:00Z', f)).toBe(false);
    expect(inWindow('1999-01-01T00:00:00Z', filters())).toBe(true);
  });

  it('screens metadata: merged, labels required and excluded (case-insensitive)', () => {
    const f = filters({ labels: ['bug'], excludeLabels: ['wontfix'] });
    expect(screenMetadata({ pullNumber: 1, merged: false, labels: ['bug'] }, f)?.reason).toBe('NotMerged');
    expect(screenMetadata({ pullNumber: 2, merged: true, labels: ['docs'] }, f)).toEqual({
      pullNumber: 2,
      reason: 'LabelFiltered',
      detail: 'missing label(s) bug',
    });
    expect(screenMetadata({ pullNumber: 3, merged: true, labels: ['Bug', 'WontFix'] }, f)?.detail).toBe(
      'has label(s) wontfix',
    );
    expect(screenMetadata({ pullNumber: 4, merged: true, labels: undefined }, f)?.detail).toBe(
      'the source has no labels',
    );
    expect(screenMetadata({ pullNumber: 5, merged: true, labels: ['BUG'] }, f)).toBeUndefined();
    expect(screenMetadata({ pullNumber: 6, merged: true, labels: undefined }, filters())).toBeUndefined();
  });

  it('screens the change with one reason each, in a fixed precedence', () => {
    const f = filters({ maxFiles: 3, maxLines: 10, generateTests: false });
    const reason = (diff: string) => {
      const split = splitDiff(diff);
      return screenChange(7, split, split.language, f, true)?.reason;
    };
    const bin = 'diff --git a/a.png b/a.png\nBinary files a/a.png and b/a.png differ\n';
    expect(reason('')).toBe('NoCodeChange');
    expect(reason(bin)).toBe('BinaryOnly');
    expect(reason(fileDiff('README.md', 1) + fileDiff('go.sum', 1))).toBe('DocsOrLockfileOnly');
    expect(reason(fileDiff('tests/test_a.py', 1))).toBe('NoCodeChange');
    expect(reason(['a.py', 'b.py', 'c.py', 'tests/test_a.py'].map((p) => fileDiff(p, 1)).join(''))).toBe(
      'TooManyFiles',
    );
    expect(reason(fileDiff('a.py', 6) + fileDiff('tests/test_a.py', 5))).toBe('TooManyLines');
    expect(reason(fileDiff('main.c', 1) + fileDiff('tests/test.c', 1))).toBe('UnsupportedLanguage');
    const hugeBinary = `diff --git a/tests/blob.bin b/tests/blob.bin\nGIT binary patch\nliteral 1\n${'z'.repeat(600 * 1024)}\n`;
    expect(reason(fileDiff('a.py', 1) + hugeBinary)).toBe('TooManyLines');
    expect(reason(fileDiff('a.py', 1))).toBe('NoTestsAndGenerationDisabled');
    expect(reason(fileDiff('a.py', 1) + fileDiff('tests/test_a.py', 1))).toBeUndefined();
    // Configuration and CI are not code, alone or together; docs with them neither.
    expect(reason(fileDiff('tox.ini', 1) + fileDiff('.pre-commit-config.yaml', 1))).toBe('NoCodeChange');
    expect(reason(fileDiff('.github/workflows/ci.yml', 1) + fileDiff('README.md', 1))).toBe('NoCodeChange');
    expect(screenChange(7, splitDiff(fileDiff('mypy.ini', 1)), undefined, f, true)?.detail).toBe(
      'only config changed',
    );
    // A manifest is code: dependencies changed with tests is a PR to keep.
    expect(reason(fileDiff('pyproject.toml', 1) + fileDiff('tests/test_a.py', 1))).toBeUndefined();
  });

  it('rejects a PR without tests unless TestAgent can write them: generateTests and an llm', () => {
    const split = splitDiff(fileDiff('a.py', 1));
    const screen = (over: object, llm: boolean) => screenChange(7, split, split.language, filters(over), llm);
    expect(screen({ generateTests: true }, true)).toBeUndefined();
    expect(screen({ generateTests: true }, false)).toEqual({
      pullNumber: 7,
      reason: 'NoTestsAndNoLlm',
      detail: 'the PR changes no tests and no llm is configured to write them',
    });
    // An explicit "no" is the reason that explains itself, with or without an llm.
    expect(screen({ generateTests: false }, false)?.reason).toBe('NoTestsAndGenerationDisabled');
    expect(screen({ generateTests: false }, true)?.reason).toBe('NoTestsAndGenerationDisabled');
    const tested = splitDiff(fileDiff('a.py', 1) + fileDiff('tests/test_a.py', 1));
    expect(screenChange(7, tested, tested.language, filters(), false)).toBeUndefined();
  });

  it('requires a linked issue only when asked', () => {
    expect(screenLinks(8, [], filters({ requireLinkedIssue: true }))?.reason).toBe('NoLinkedIssue');
    expect(screenLinks(8, [3], filters({ requireLinkedIssue: true }))).toBeUndefined();
    expect(screenLinks(8, [], filters())).toBeUndefined();
  });

  it('builds the candidate with the deterministic instance id', () => {
    const split = splitDiff(fileDiff('a.py', 1) + fileDiff('tests/test_a.py', 1));
    const c = toCandidate({
      repo: 'psf/requests',
      cloneURL: 'https://github.com/psf/requests.git',
      pullNumber: 6123,
      title: 't',
      body: 'b',
      baseCommit: 'a'.repeat(40),
      mergeCommit: undefined,
      createdAt: '2024-01-01T00:00:00Z',
      mergedAt: '2024-01-02T00:00:00Z',
      language: 'python',
      split,
      issues: [{ number: 5 }],
    });
    expect(c.instanceId).toBe('psf__requests-6123');
    expect(c.patch).toBe(fileDiff('a.py', 1));
    expect(c.testPatch).toBe(fileDiff('tests/test_a.py', 1));
    expect('mergeCommit' in c).toBe(false);
  });
});

describe('funnel', () => {
  it('adds pages and formats reasons in a stable order', () => {
    let funnel = emptyFunnel();
    funnel = addToFunnel(funnel, {
      kept: 0,
      rejected: [
        { pullNumber: 1, reason: 'TooManyLines', detail: '' },
        { pullNumber: 2, reason: 'NoCodeChange', detail: '' },
      ],
    });
    funnel = addToFunnel(funnel, {
      kept: 2,
      rejected: [{ pullNumber: 3, reason: 'TooManyLines', detail: '' }],
    });
    expect(funnel).toEqual({
      discovered: 5,
      kept: 2,
      rejected: 3,
      rejectedByReason: { TooManyLines: 2, NoCodeChange: 1 },
    });
    expect(formatFunnel(funnel)).toBe('5 discovered → 2 kept; NoCodeChange 1, TooManyLines 2');
    expect(formatFunnel(emptyFunnel())).toBe('0 discovered → 0 kept');
  });
});
