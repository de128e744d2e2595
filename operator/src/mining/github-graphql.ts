import type { GitHubClient } from './github-client.ts';

/**
 * What the candidate filter needs beyond the diff, for many PRs in one GraphQL request instead of
 * 2–4 REST requests per PR: commit messages (closing keywords), the first commit's time (hint
 * cutoff), closing references GitHub itself knows (PR sidebar links), issue text and comments.
 */
export interface IssueText {
  title: string;
  body: string;
  commentCount: number;
  /** undefined when the issue has more comments than one request returns: fetch them over REST. */
  comments: Array<{ body: string; createdAt: string }> | undefined;
}

export interface PrContext {
  commitMessages: string[];
  firstCommitAt: string | undefined;
  closingIssues: number[];
}

export interface RepoContext {
  pulls: Map<number, PrContext>;
  /** null: the number is not an issue (a pull request, or deleted). */
  issues: Map<number, IssueText | null>;
}

const COMMENTS = 'comments(first: 100) { totalCount nodes { body createdAt } }';
const ISSUE_FIELDS = `number title body ${COMMENTS}`;

/** Pure: the query, with one alias per PR and per issue. Numbers are integers, so inlining them is safe. */
export function contextQuery(pullNumbers: readonly number[], issueNumbers: readonly number[]): string {
  const pulls = pullNumbers.map(
    (n) =>
      `pr${n}: pullRequest(number: ${n}) { commits(first: 100) { nodes { commit { message authoredDate } } } ` +
      `closingIssuesReferences(first: 10) { nodes { ${ISSUE_FIELDS} } } }`,
  );
  const issues = issueNumbers.map((n) => `issue${n}: issue(number: ${n}) { ${ISSUE_FIELDS} }`);
  return `query ScaleSweMiningContext($owner: String!, $name: String!) { repository(owner: $owner, name: $name) { ${[...pulls, ...issues].join(' ')} } }`;
}

interface IssueNode {
  number: number;
  title: string;
  body: string | null;
  comments: { totalCount: number; nodes: Array<{ body: string; createdAt: string }> };
}

interface PullNode {
  commits: { nodes: Array<{ commit: { message: string; authoredDate: string } }> };
  closingIssuesReferences: { nodes: IssueNode[] } | null;
}

function issueText(node: IssueNode): IssueText {
  const complete = node.comments.totalCount <= node.comments.nodes.length;
  return {
    title: node.title,
    body: node.body ?? '',
    commentCount: node.comments.totalCount,
    comments: complete ? node.comments.nodes : undefined,
  };
}

/** Pure: the response's `repository` object into per-PR and per-issue context. */
export function parseContext(
  repository: Record<string, unknown> | null | undefined,
  pullNumbers: readonly number[],
  issueNumbers: readonly number[],
): RepoContext {
  const pulls = new Map<number, PrContext>();
  const issues = new Map<number, IssueText | null>();
  for (const n of pullNumbers) {
    const node = repository?.[`pr${n}`] as PullNode | null | undefined;
    if (!node) continue;
    const commits = node.commits.nodes.map((c) => c.commit);
    const dates = commits.map((c) => c.authoredDate).sort((a, b) => Date.parse(a) - Date.parse(b));
    const closing = node.closingIssuesReferences?.nodes ?? [];
    for (const issue of closing) issues.set(issue.number, issueText(issue));
    pulls.set(n, {
      commitMessages: commits.map((c) => c.message),
      firstCommitAt: dates[0],
      closingIssues: closing.map((i) => i.number),
    });
  }
  for (const n of issueNumbers) {
    const node = repository?.[`issue${n}`] as IssueNode | null | undefined;
    issues.set(n, node ? issueText(node) : null);
  }
  return { pulls, issues };
}

/**
 * One GraphQL request. "Could not resolve to an Issue" errors (a number that is a PR) come with
 * the rest of the data, which we keep; any other failure returns undefined and the caller falls
 * back to REST, so an old GitHub Enterprise without a field costs requests, not the run.
 */
export async function fetchContext(
  octokit: GitHubClient,
  owner: string,
  name: string,
  pullNumbers: readonly number[],
  issueNumbers: readonly number[],
): Promise<RepoContext | undefined> {
  if (pullNumbers.length === 0 && issueNumbers.length === 0) return { pulls: new Map(), issues: new Map() };
  const query = contextQuery(pullNumbers, issueNumbers);
  try {
    const data = await octokit.graphql<{ repository: Record<string, unknown> | null }>(query, {
      owner,
      name,
    });
    return parseContext(data.repository, pullNumbers, issueNumbers);
  } catch (error) {
    const partial = error as {
      name?: string;
      data?: { repository?: Record<string, unknown> };
      errors?: Array<{ type?: string }>;
    };
    if (partial.name === 'GraphqlResponseError' && partial.errors?.every((e) => e.type === 'NOT_FOUND')) {
      return parseContext(partial.data?.repository, pullNumbers, issueNumbers);
    }
    return undefined;
  }
}
