/**
 * Recipe memory on a real Go module: the second PR's env stage reuses the recipe that brought
 * up the first PR's, and a changed manifest sends it back to the search.
 */
import { execFileSync } from 'node:child_process';
import { appendFile, mkdtemp } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { buildGoRepo } from '../../../test/fixtures/repos.ts';
import type { Recipe } from '../api/index.ts';
import { runStage } from './run-stage.ts';

const git = (dir: string, ...args: string[]) =>
  execFileSync('git', ['-c', 'user.name=F', '-c', 'user.email=f@example.com', ...args], {
    cwd: dir,
    encoding: 'utf8',
  }).trim();

describe('env stage recipe memory (go fixture)', () => {
  it('reuses the first PR recipe for the next PR, and searches again after a manifest change', async () => {
    const root = await mkdtemp(path.join(os.tmpdir(), 'scaleswe-memory-'));
    const fixture = await buildGoRepo(root);
    const first = await runStage(
      { stage: 'env', instance: fixture.spec },
      { workDir: path.join(root, 'env-1') },
    );
    expect(first.reason, first.logTail).toBe('EnvReady');
    expect(first.recipe?.manifestDigest).toMatch(/^sha256:[0-9a-f]{64}$/);
    // Marked, so the test sees which recipe the second PR's env stage took.
    const remembered: Recipe = {
      ...first.recipe!,
      setupScript: `${first.recipe!.setupScript}# remembered\n`,
    };
    const memory = [
      { instanceId: fixture.spec.instanceId, createdAt: fixture.spec.createdAt, recipe: remembered },
    ];
    const second = {
      ...fixture.spec,
      instanceId: 'fixtures__mathx-2',
      pullNumber: 2,
      baseCommit: fixture.mergeCommit,
      createdAt: '2026-02-01T00:00:00Z',
    };

    const reused = await runStage(
      { stage: 'env', instance: second, remembered: memory },
      { workDir: path.join(root, 'env-2') },
    );
    expect(reused.reason, reused.logTail).toBe('EnvReady');
    expect(reused.message).toContain('remembered recipe of fixtures__mathx-1');
    expect(reused.recipe).toEqual(remembered);

    await appendFile(path.join(fixture.dir, 'go.mod'), '\n// a manifest change\n');
    git(fixture.dir, 'commit', '-qam', 'go.mod: comment');
    const lines: string[] = [];
    const log = { info: (m: string) => lines.push(m), warn: (m: string) => lines.push(m) };
    const third = {
      ...second,
      instanceId: 'fixtures__mathx-3',
      pullNumber: 3,
      baseCommit: git(fixture.dir, 'rev-parse', 'HEAD'),
    };
    const changed = await runStage(
      { stage: 'env', instance: third, remembered: memory },
      { workDir: path.join(root, 'env-3'), log },
    );
    expect(changed.reason, changed.logTail).toBe('EnvReady');
    expect(changed.message).not.toContain('remembered');
    expect(lines).toContain(
      'env: remembered recipe of fixtures__mathx-1 not reused: manifests or lockfiles changed',
    );
    expect(changed.recipe?.setupScript).toBe(first.recipe!.setupScript);
    expect(changed.recipe?.manifestDigest).not.toBe(first.recipe!.manifestDigest);
  }, 300_000);
});
