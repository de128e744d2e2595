import { execFileSync } from 'node:child_process';
import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { buildPythonRepo, type FixtureRepo } from '../../../test/fixtures/repos.ts';
import {
  applyPatch,
  createWorkspace,
  diffPaths,
  patchPaths,
  resetHard,
  resetToSetup,
  snapshotSetup,
} from './workspace.ts';

let root: string;
let fixture: FixtureRepo;
beforeAll(async () => {
  root = await mkdtemp(path.join(os.tmpdir(), 'scaleswe-ws-'));
  fixture = await buildPythonRepo(root);
});

const git = (dir: string, ...a: string[]) => execFileSync('git', a, { cwd: dir, encoding: 'utf8' });

function expectBaseOnly(dir: string) {
  expect(git(dir, 'log', '--all', '--format=%H').trim()).toBe(fixture.baseCommit);
  expect(git(dir, 'for-each-ref').trim()).toBe('');
  expect(git(dir, 'reflog').trim()).toBe('');
  expect(git(dir, 'remote').trim()).toBe('');
  expect(() => git(dir, 'cat-file', '-e', fixture.mergeCommit)).toThrow();
  expect(git(dir, 'rev-parse', 'HEAD').trim()).toBe(fixture.baseCommit);
  expect(git(dir, 'status', '--porcelain').trim()).toBe('');
}

describe('workspace', () => {
  const saved = { ...process.env };
  afterEach(() => {
    process.env = { ...saved };
  });

  it('fetches the base commit alone (no remote, refs, reflog, later commits)', async () => {
    const ws = await createWorkspace(fixture.dir, fixture.baseCommit, path.join(root, 'fast'));
    expectBaseOnly(ws.dir);
  });

  it('falls back to a full fetch when the server refuses want-by-sha, and prunes it', async () => {
    // Protocol v0 only serves advertised tips, and the base is not one.
    Object.assign(process.env, {
      GIT_CONFIG_COUNT: '1',
      GIT_CONFIG_KEY_0: 'protocol.version',
      GIT_CONFIG_VALUE_0: '0',
    });
    const ws = await createWorkspace(fixture.dir, fixture.baseCommit, path.join(root, 'full'));
    expectBaseOnly(ws.dir);
  });

  it('applies patches, keeps setup artifacts across resets, diffs only new edits', async () => {
    const ws = await createWorkspace(fixture.dir, fixture.baseCommit, path.join(root, 'patches'));
    // "setup": an untracked environment dir and a tracked-file rewrite
    await writeFile(path.join(ws.dir, 'env.marker'), 'venv');
    await writeFile(path.join(ws.dir, 'README.md'), '# textutils (set up)\n');
    await snapshotSetup(ws);
    expect(await applyPatch(ws, fixture.testPatch, { index: true })).toBeUndefined();
    expect(await applyPatch(ws, fixture.patch)).toBeUndefined();
    expect(patchPaths(fixture.patch)).toEqual(['textutils/__init__.py']);
    expect(await applyPatch(ws, fixture.patch)).toMatch(/patch does not apply|error/);
    // an agent edits the PR's test file and adds one: only its edits show up
    const t = path.join(ws.dir, 'tests/test_textutils.py');
    await writeFile(t, `${await readFile(t, 'utf8')}\n\ndef test_more():\n    assert True\n`);
    await writeFile(path.join(ws.dir, 'tests/test_new.py'), 'def test_new():\n    pass\n');
    const diff = await diffPaths(ws, ['tests/test_textutils.py', 'tests/test_new.py']);
    expect(diff).toContain('+def test_more():');
    expect(diff).toContain('new file mode');
    expect(diff).not.toContain('test_clamp_above'); // staged PR test change stays out
    expect(git(ws.dir, 'diff', '--cached', '--name-only').trim()).toBe('tests/test_textutils.py');
    await resetToSetup(ws);
    expect(git(ws.dir, 'status', '--porcelain').trim()).toBe('M README.md');
    expect(await readFile(path.join(ws.dir, 'env.marker'), 'utf8')).toBe('venv');
    await resetHard(ws);
    expect(git(ws.dir, 'status', '--porcelain', '--ignored').trim()).toBe('');
  });
});
