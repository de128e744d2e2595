/**
 * The pinned lock, for Python, with real pip against a local package index: the env stage's
 * freeze records the resolved versions, and a replay of the recipe (a rebuild, no prepared
 * environment) installs exactly those, although the index has a newer release by now.
 */
import { execFileSync } from 'node:child_process';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { INDEX_RELEASES } from '../../../test/fixtures/python-env-repos.ts';
import { type PackageIndex, startPackageIndex } from '../../../test/support/package-index.ts';
import { type Recipe, StageInput } from '../api/index.ts';
import { environmentKey, freezeLock, prepareStageWorkspace } from './environment.ts';
import { sh } from './exec.ts';
import { StageContext } from './stage-context.ts';

let root: string;
let index: PackageIndex;
let repo: string;
let baseCommit: string;

beforeAll(async () => {
  root = await mkdtemp(path.join(os.tmpdir(), 'scaleswe-lock-'));
  index = await startPackageIndex(root, INDEX_RELEASES);
  repo = path.join(root, 'repo');
  await mkdir(repo);
  await writeFile(path.join(repo, 'README'), 'lock fixture\n');
  const git = (...args: string[]) =>
    execFileSync('git', ['-c', 'user.name=t', '-c', 'user.email=t@example.com', ...args], {
      cwd: repo,
      encoding: 'utf8',
    }).trim();
  git('init', '-q');
  git('add', '-A');
  git('commit', '-q', '-m', 'base');
  baseCommit = git('rev-parse', 'HEAD');
}, 60_000);

afterAll(async () => {
  await index?.close();
  await rm(root, { recursive: true, force: true });
});

describe('pinned lock (python)', () => {
  // Unpinned: today the index resolves tinydep to 2.0; the environment was built with 1.0.
  const recipe = (): Recipe => ({
    setupScript: `set -euo pipefail\npython3 -m venv .venv\n.venv/bin/python -m pip install -q --index-url ${index.url} tinydep\n`,
    testCommand: '.venv/bin/python -m pytest',
    resultFormat: 'pytest',
    source: 'deterministic',
  });

  async function replay(lock: string | undefined, name: string) {
    const environment = {
      key: environmentKey({ language: 'python', recipe: recipe(), lock }),
      ...(lock && { lock }),
    };
    const input = StageInput.parse({
      stage: 'tests',
      instance: {
        instanceId: 'fixtures__lock-1',
        runRef: 'fixtures',
        repo: 'fixtures/lock',
        cloneURL: repo,
        pullNumber: 1,
        baseCommit,
        patch: '',
        createdAt: '2021-01-01T00:00:00Z',
        language: 'python',
      },
      previous: { recipe: recipe(), environment },
    });
    const ctx = new StageContext(input, path.join(root, name));
    await mkdir(ctx.workDir, { recursive: true });
    const prepared = await prepareStageWorkspace(ctx, 'tests');
    if (!('ws' in prepared)) throw new Error(`${prepared.reason}: ${prepared.message}\n${ctx.logTail}`);
    const version = await sh(
      '.venv/bin/python -c "import importlib.metadata as m; print(m.version(\'tinydep\'))"',
      {
        cwd: prepared.ws.dir,
        timeoutMs: 60_000,
      },
    );
    return { version: version.output.trim(), lock: await freezeLock(ctx, prepared.ws, 'python') };
  }

  it('a replay without a lock resolves anew; with the recorded lock it installs the frozen versions', async () => {
    const fresh = await replay(undefined, 'fresh');
    expect(fresh.version).toBe('2.0');
    // The freeze hook records exact pins (pip and setuptools of the venv are not packages we chose).
    expect(fresh.lock).toBe('tinydep==2.0\n');
    const pinned = await replay('tinydep==1.0\n', 'pinned');
    expect(pinned.version).toBe('1.0');
    expect(pinned.lock).toBe('tinydep==1.0\n');
  }, 300_000);
});
