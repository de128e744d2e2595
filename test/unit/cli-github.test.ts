import { execFileSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createSampleRepo, SAMPLE_EXPECTED, SAMPLE_REPO } from '../../operator/src/cli/sample.ts';
import { bwrapAvailable } from '../../operator/src/local/executor.ts';
import { parsePrCommit } from '../../operator/src/mining/git-source.ts';
import { runCli } from '../support/cli.ts';
import { startGitServer } from '../support/git-server.ts';
import { FakeGitHub, type FakeIssue, type FakePull } from '../support/github-server.ts';

// `scaleswe run --github` end to end: the real CLI process mines the bundled sample's PRs
// through the real octokit from a local server speaking GitHub's REST/GraphQL wire shape,
// and its stages (under bubblewrap) clone the base commits from a real smart-HTTP git server
// that the API's clone_url names.

const TOKEN = 'ghp_cliGithubTest0123456789abcdefABCDEF';
const [OWNER = '', NAME = ''] = SAMPLE_REPO.split('/');
const scratch = mkdtempSync(join(tmpdir(), 'scaleswe-gh-'));
const state = join(scratch, 'state');
const bare = join(scratch, 'git', `${SAMPLE_REPO}.git`);

/** The PRs as GitHub would list them, read from the history's merge and squash commits. */
function pullsFromHistory(gitDir: string): FakePull[] {
  const git = (...args: string[]) =>
    execFileSync('git', ['--git-dir', gitDir, ...args], { encoding: 'utf8' });
  const iso = (date: string) => new Date(date).toISOString().replace('.000Z', 'Z');
  const log = git('log', '--first-parent', '--format=%H%x1f%P%x1f%aI%x1f%cI%x1f%B%x1e', 'main');
  const pulls: FakePull[] = [];
  for (const record of log.split('\x1e')) {
    const [sha = '', parents = '', authoredAt = '', committedAt = '', message = ''] = record
      .replace(/^\n/, '')
      .split('\x1f');
    const pr = parsePrCommit({
      sha,
      parents: parents.split(' ').filter(Boolean),
      authoredAt,
      committedAt,
      message,
    });
    if (!pr) continue;
    // A merge's PR commits are on its second parent; a squash commit is the whole PR.
    const commits = pr.head
      ? git('log', '--format=%B%x1f%aI%x1e', `${pr.base}..${pr.head}`)
          .split('\x1e')
          .filter((c) => c.trim())
          .map((c) => {
            const [msg = '', date = ''] = c.replace(/^\n/, '').split('\x1f');
            return { message: msg.trim(), date: iso(date) };
          })
      : [{ message: pr.messages[0]!.trim(), date: iso(pr.authoredAt) }];
    const mergedAt = iso(pr.committedAt);
    pulls.push({
      number: pr.pullNumber,
      title: pr.title,
      body: pr.body,
      merged_at: mergedAt,
      created_at: commits.map((c) => c.date).sort()[0]!,
      updated_at: mergedAt,
      labels: [],
      base_sha: pr.base,
      merge_commit_sha: pr.commit,
      diff: git('diff', '--binary', '--no-color', pr.base, pr.commit),
      commits,
    });
  }
  return pulls;
}

// The issues the sample's PRs close ("Fixes #10", "Closes #11"): on GitHub their text is the
// problem statement, where the git source only knows their numbers.
const ISSUES: FakeIssue[] = [
  {
    number: 10,
    title: 'clamp() lets large values through',
    body: 'clamp(42, 0, 10) gives 42, expected 10.',
    comments: [],
  },
  { number: 11, title: 'mean([]) crashes', body: 'An empty list raises ZeroDivisionError.', comments: [] },
];

let gh: FakeGitHub;
let pulls: FakePull[] = [];
let closeGit: () => Promise<void> = async () => {};

beforeAll(async () => {
  const work = createSampleRepo(join(scratch, 'work'));
  execFileSync('git', ['clone', '-q', '--bare', work, bare]);
  const gitServer = await startGitServer(join(scratch, 'git'));
  closeGit = gitServer.close;
  gh = new FakeGitHub({
    owner: OWNER,
    repo: NAME,
    token: TOKEN,
    language: 'Python',
    cloneURL: `${gitServer.url}/${SAMPLE_REPO}.git`,
  });
  pulls = pullsFromHistory(bare);
  gh.pulls = pulls;
  gh.issues = ISSUES;
  await gh.start();
});
afterAll(async () => {
  await gh?.close();
  await closeGit();
  rmSync(scratch, { recursive: true, force: true });
});

function filesUnder(dir: string): string[] {
  return readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile())
    .map((e) => join(e.parentPath, e.name));
}

describe('scaleswe run --github', () => {
  it('has bubblewrap (scripts/test.sh installs it)', () => {
    expect(bwrapAvailable()).toBe(true);
  });

  it('mines the PRs from the GitHub API with GITHUB_TOKEN and verifies the expected instances', async () => {
    expect(pulls.map((p) => p.number)).toEqual([5, 4, 3, 2, 1]);
    const { OPENAI_API_KEY: _o, SCALESWE_LLM_API_KEY: _s, ...env } = process.env;
    const r = await runCli(
      [
        'run',
        '--github',
        SAMPLE_REPO,
        '--github-api-url',
        gh.baseURL,
        '--state-dir',
        state,
        '--isolation',
        'bwrap',
      ],
      { ...env, GITHUB_TOKEN: TOKEN },
    );
    expect(r.code, `${r.out}\n${r.err}`).toBe(0);

    // The server refuses requests without the token: every answer was a success.
    expect(gh.requests.length).toBeGreaterThan(0);
    expect(gh.requests.filter((q) => q.status >= 400)).toEqual([]);
    expect(gh.requests.some((q) => q.path.startsWith(`/repos/${SAMPLE_REPO}/pulls?`))).toBe(true);

    const run = JSON.parse(readFileSync(join(state, 'run.json'), 'utf8'));
    expect(run.spec.source).toEqual({ github: { repo: SAMPLE_REPO, baseURL: gh.baseURL } });
    expect(run.rejected.map((x: { pullNumber: number; reason: string }) => [x.pullNumber, x.reason])).toEqual(
      SAMPLE_EXPECTED.rejectedAtMining.map((r) => [r.pullNumber, r.reason]),
    );
    // #5 has no tests and no LLM is configured: rejected at mining, no instance.
    expect(readdirSync(join(state, 'instances')).sort()).toEqual(
      ['1', '3', '4'].map((n) => `scaleswe__minicalc-${n}.json`),
    );
    for (const [id, reason] of Object.entries(SAMPLE_EXPECTED.rejectedInPipeline)) {
      const instance = JSON.parse(readFileSync(join(state, 'instances', `${id}.json`), 'utf8'));
      expect(instance.status.phase, id).toBe('Rejected');
      expect(instance.status.lastError?.reason, id).toBe(reason);
    }

    const dataset = readFileSync(join(state, 'export', 'dataset.jsonl'), 'utf8')
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line));
    const byId = Object.fromEntries(dataset.map((x) => [x.instance_id, x]));
    expect(Object.keys(byId).sort()).toEqual(Object.keys(SAMPLE_EXPECTED.verified).sort());
    const issueOf: Record<string, FakeIssue> = {
      'scaleswe__minicalc-1': ISSUES[0]!,
      'scaleswe__minicalc-3': ISSUES[1]!,
    };
    for (const [id, expected] of Object.entries(SAMPLE_EXPECTED.verified)) {
      const pr = pulls.find((p) => `scaleswe__minicalc-${p.number}` === id)!;
      expect(byId[id]).toMatchObject({ repo: SAMPLE_REPO, base_commit: pr.base_sha });
      expect(JSON.parse(byId[id].FAIL_TO_PASS).sort(), id).toEqual([...expected.FAIL_TO_PASS].sort());
      expect(JSON.parse(byId[id].PASS_TO_PASS).sort(), id).toEqual([...expected.PASS_TO_PASS].sort());
      // The linked issue's text, read over the API, is the problem statement.
      expect(byId[id].problem_statement_source, id).toBe('issue');
      expect(byId[id].problem_statement, id).toBe(`${issueOf[id]!.title}\n${issueOf[id]!.body}`);
    }
    expect(readFileSync(join(state, 'export', 'report.md'), 'utf8')).toContain('| verified | 2 |');

    // The token reached the server but no file of the state directory (export included).
    const files = filesUnder(state);
    expect(files.length).toBeGreaterThan(0);
    expect(files.filter((f) => readFileSync(f).includes(TOKEN))).toEqual([]);
  }, 600_000);
});
