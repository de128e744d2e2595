import { afterEach, describe, expect, it } from 'vitest';
import { FakeGitHub, type FakeSearchRepository } from '../../../test/support/github-server.ts';
import { RepositorySearch } from '../api/index.ts';
import { searchQuery, searchRepositories } from './github-search.ts';

const servers: FakeGitHub[] = [];
afterEach(async () => {
  for (const s of servers.splice(0)) await s.close();
});

/** 250 repositories: every 2nd Python, stars 0..249, every 5th topic web, pushed over 2025. */
function catalogue(): FakeSearchRepository[] {
  return Array.from({ length: 250 }, (_, i) => ({
    full_name: `org${i % 7}/repo-${i}`,
    language: i % 2 === 0 ? 'Python' : 'Go',
    stargazers_count: i,
    pushed_at: new Date(Date.UTC(2025, 0, 1 + i)).toISOString(),
    topics: i % 5 === 0 ? ['web', 'http'] : ['cli'],
    fork: i === 248,
    archived: i === 246,
  }));
}

describe('GitHub repository search', () => {
  it('builds the query from the spec', () => {
    expect(
      searchQuery(
        RepositorySearch.parse({
          language: 'python',
          minStars: 100,
          pushedAfter: '2025-06-01',
          topics: ['web', 'http'],
        }),
      ),
    ).toBe('language:python stars:>=100 pushed:>=2025-06-01 topic:web topic:http fork:false archived:false');
    expect(searchQuery(RepositorySearch.parse({ language: 'Jupyter Notebook' }))).toBe(
      'language:"Jupyter Notebook" fork:false archived:false',
    );
  });

  it('pages through the results with the real octokit, most stars first, up to maxRepositories', async () => {
    const github = new FakeGitHub({ owner: 'x', repo: 'y', token: 'secret-token' });
    servers.push(github);
    github.searchable = catalogue();
    const baseURL = await github.start();
    const search = RepositorySearch.parse({
      language: 'python',
      minStars: 20,
      baseURL,
      maxRepositories: 105,
    });
    const result = await searchRepositories(search, 'secret-token');
    // Python: even i; stars >= 20; not the fork (248) nor the archived one (246). Two pages of
    // 100 (octokit's throttling spaces search requests, as GitHub's search limit asks).
    const expected = Array.from({ length: 250 }, (_, i) => i)
      .filter((i) => i % 2 === 0 && i >= 20 && i !== 248 && i !== 246)
      .sort((a, b) => b - a)
      .map((i) => `org${i % 7}/repo-${i}`);
    expect(result.totalCount).toBe(expected.length);
    expect(result.repositories).toEqual(expected.slice(0, 105)); // 113 found, the first 105 taken
    expect(github.countRequests((r) => r.path.startsWith('/search/repositories'))).toBe(2);

    const topical = await searchRepositories(
      RepositorySearch.parse({ topics: ['web'], pushedAfter: '2025-08-01', baseURL, maxRepositories: 5 }),
      'secret-token',
    );
    expect(topical.repositories).toEqual([
      'org0/repo-245',
      'org2/repo-240',
      'org4/repo-235',
      'org6/repo-230',
      'org1/repo-225',
    ]);
  });
});
