// Repositories by GitHub's search API (GET /search/repositories), for campaigns that name
// their repositories by language, stars, last push and topics.
import type { RepositorySearch } from '../api/index.ts';
import { createGitHubClient } from './github-client.ts';
import { parseTokens, sharedTokenPool } from './token-pool.ts';

/** The search query (q=) of a spec: forks and archived repositories are never candidates. */
export function searchQuery(search: RepositorySearch): string {
  const quote = (v: string) => (/\s/.test(v) ? `"${v}"` : v);
  return [
    search.language !== undefined && `language:${quote(search.language)}`,
    search.minStars !== undefined && `stars:>=${search.minStars}`,
    search.pushedAfter !== undefined && `pushed:>=${search.pushedAfter}`,
    ...(search.topics ?? []).map((t) => `topic:${t}`),
    'fork:false',
    'archived:false',
  ]
    .filter((q): q is string => typeof q === 'string')
    .join(' ');
}

export interface SearchResult {
  query: string;
  totalCount: number;
  /** owner/name, most stars first, at most search.maxRepositories. */
  repositories: string[];
}

/**
 * Runs the search, page by page (100 a page), until maxRepositories or the results end. `token`:
 * one or several (as in a run's Secret), sharing the budget of the runs that use them.
 */
export async function searchRepositories(search: RepositorySearch, token?: string): Promise<SearchResult> {
  const { octokit } = createGitHubClient({
    ...(token !== undefined && { tokens: sharedTokenPool(parseTokens(token)) }),
    ...(search.baseURL !== undefined && { baseURL: search.baseURL }),
  });
  const query = searchQuery(search);
  const repositories: string[] = [];
  let totalCount = 0;
  for (let page = 1; repositories.length < search.maxRepositories; page++) {
    const { data } = await octokit.rest.search.repos({
      q: query,
      sort: 'stars',
      order: 'desc',
      per_page: 100,
      page,
    });
    totalCount = data.total_count;
    for (const item of data.items) {
      if (repositories.length < search.maxRepositories && !repositories.includes(item.full_name))
        repositories.push(item.full_name);
    }
    if (data.items.length < 100) break;
  }
  return { query, totalCount, repositories };
}
