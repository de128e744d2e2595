/**
 * Issues a PR closes, by GitHub's closing keywords, in title, body and commit messages:
 * `fixes #12`, `Closes: owner/repo#12`, `resolved https://github.com/owner/repo/issues/12`.
 * References to other repositories are ignored: their text is not the task's.
 */

const KEYWORD = String.raw`\b(?:fix|fixes|fixed|close|closes|closed|resolve|resolves|resolved)\b:?\s+`;
const REFERENCE = String.raw`(?:#(\d+)|([A-Za-z0-9_.-]+)/([A-Za-z0-9_.-]+)#(\d+)|https?://[^\s/]+/(?:api/v3/repos/)?([A-Za-z0-9_.-]+)/([A-Za-z0-9_.-]+)/issues/(\d+))\b`;

/** Issue numbers in order of first mention, without duplicates and without the PR itself. */
export function linkedIssueNumbers(repo: string, pullNumber: number, texts: readonly string[]): number[] {
  const pattern = new RegExp(KEYWORD + REFERENCE, 'gi');
  const target = repo.toLowerCase();
  const found: number[] = [];
  for (const text of texts) {
    for (const m of text.matchAll(pattern)) {
      const number = referenceNumber(m, target);
      if (number !== undefined && number !== pullNumber && !found.includes(number)) found.push(number);
    }
  }
  return found;
}

function referenceNumber(m: RegExpMatchArray, repo: string): number | undefined {
  if (m[1] !== undefined) return Number(m[1]);
  if (m[4] !== undefined) return `${m[2]}/${m[3]}`.toLowerCase() === repo ? Number(m[4]) : undefined;
  if (m[7] !== undefined) return `${m[5]}/${m[6]}`.toLowerCase() === repo ? Number(m[7]) : undefined;
  return undefined;
}

/**
 * SWE-bench hints: issue comments written before the PR's first commit, i.e. before work on
 * the fix began, so they cannot describe the fix itself.
 */
export function hintsBefore(
  comments: ReadonlyArray<{ body: string; createdAt: string }>,
  firstCommitAt: string | undefined,
): string[] {
  if (firstCommitAt === undefined) return [];
  const cutoff = Date.parse(firstCommitAt);
  return comments.filter((c) => Date.parse(c.createdAt) < cutoff && c.body.trim() !== '').map((c) => c.body);
}
