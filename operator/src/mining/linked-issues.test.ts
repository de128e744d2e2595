import { describe, expect, it } from 'vitest';
import { hintsBefore, linkedIssueNumbers } from './linked-issues.ts';

describe('linkedIssueNumbers', () => {
  const repo = 'psf/requests';

  it('finds every closing keyword form, in order of first mention, once', () => {
    const texts = [
      'Fix #3: handle redirects',
      'This fixes #7 and closes #3.\nResolved: #11; Closed #12, resolves #13',
      'commit: fixed #14\n\nclose #15 — resolve #16',
    ];
    expect(linkedIssueNumbers(repo, 99, texts)).toEqual([3, 7, 11, 12, 13, 14, 15, 16]);
  });

  it('accepts owner/repo#N and issue URLs of the same repository only', () => {
    const texts = [
      'Fixes psf/requests#21 and fixes other/repo#22',
      'closes https://github.com/psf/requests/issues/23',
      'closes https://github.com/other/repo/issues/24',
      'Resolves https://ghe.example.com/PSF/Requests/issues/25',
    ];
    expect(linkedIssueNumbers(repo, 99, texts)).toEqual([21, 23, 25]);
  });

  it('ignores mentions without a keyword, words that merely contain one, and the PR itself', () => {
    const texts = ['See #4, related to #5', 'prefix #6', 'hotfixes #8', 'bugfix #9', 'fixes #99', 'fixes#10'];
    expect(linkedIssueNumbers(repo, 99, texts)).toEqual([]);
  });
});

describe('hintsBefore', () => {
  it('keeps non-empty comments made strictly before the first commit', () => {
    const comments = [
      { body: 'Can reproduce on 2.0', createdAt: '2024-01-01T10:00:00Z' },
      { body: '   ', createdAt: '2024-01-01T11:00:00Z' },
      { body: 'Fixed by my PR', createdAt: '2024-01-02T00:00:00Z' },
    ];
    expect(hintsBefore(comments, '2024-01-02T00:00:00Z')).toEqual(['Can reproduce on 2.0']);
    expect(hintsBefore(comments, undefined)).toEqual([]);
  });
});
