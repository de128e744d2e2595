import { mkdir, mkdtemp, readdir, readFile, readlink, rm, stat, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { InstanceRecord, SWEInstanceSpec, SWEInstanceStatus } from '../api/index.ts';
import {
  chooseDonor,
  EnvironmentStore,
  EnvironmentStoreError,
  type SnapshotMeta,
  snapshotsToDelete,
} from './environments.ts';

const key = (c: string) => c.repeat(64);

function meta(over: Partial<SnapshotMeta> & { key: string }): SnapshotMeta {
  return {
    dir: `/state/work/${over.instanceId ?? 'o__r-1'}/env-1/ws/env-1`,
    environment: { key: over.key, sources: 's' },
    recipe: {
      setupScript: 'pip install .',
      testCommand: 'pytest',
      resultFormat: 'pytest',
      source: 'deterministic',
    },
    instanceId: 'o__r-1',
    repo: 'o/r',
    language: 'python',
    mergedAt: '2025-01-01T00:00:00Z',
    ...over,
  };
}

function spec(over: Partial<SWEInstanceSpec> = {}): SWEInstanceSpec {
  return {
    instanceId: 'o__r-9',
    runRef: 'run',
    repo: 'o/r',
    cloneURL: '/repo',
    pullNumber: 9,
    title: '',
    body: '',
    baseCommit: 'a'.repeat(40),
    patch: '',
    testPatch: '',
    issues: [],
    createdAt: '2025-02-01T00:00:00Z',
    language: 'python',
    ...over,
  };
}

function instance(id: string, phase: SWEInstanceStatus['phase'], envKey?: string): InstanceRecord {
  return {
    spec: spec({ instanceId: id }),
    status: { phase, ...(envKey && { environment: { key: envKey } }) },
  };
}

describe('chooseDonor', () => {
  it('offers the newest environment of the same repo and language merged before the PR was opened', () => {
    const older = meta({ key: key('a'), instanceId: 'o__r-1', mergedAt: '2025-01-01T00:00:00Z' });
    const newer = meta({ key: key('b'), instanceId: 'o__r-2', mergedAt: '2025-01-15T00:00:00Z' });
    expect(chooseDonor(spec(), [older, newer])?.key).toBe(key('b'));
  });

  it('never offers one from a PR merged after this one was opened (its checkout may hold the fix)', () => {
    const later = meta({ key: key('c'), instanceId: 'o__r-3', mergedAt: '2025-03-01T00:00:00Z' });
    expect(chooseDonor(spec(), [later])).toBeUndefined();
  });

  it('never offers another repo, another language, an LLM recipe, one without sources or its own', () => {
    const base = { key: key('d') };
    expect(chooseDonor(spec(), [meta({ ...base, repo: 'o/other' })])).toBeUndefined();
    expect(chooseDonor(spec(), [meta({ ...base, language: 'node' })])).toBeUndefined();
    expect(
      chooseDonor(spec(), [
        meta({
          ...base,
          recipe: { setupScript: 'x', testCommand: 'y', resultFormat: 'pytest', source: 'llm' },
        }),
      ]),
    ).toBeUndefined();
    expect(chooseDonor(spec(), [meta({ ...base, environment: { key: key('d') } })])).toBeUndefined();
    expect(chooseDonor(spec(), [meta({ ...base, instanceId: 'o__r-9' })])).toBeUndefined();
    expect(chooseDonor(spec(), [meta({ ...base, mergedAt: undefined })])).toBeUndefined();
  });
});

describe('snapshotsToDelete', () => {
  const shared = meta({ key: key('a'), instanceId: 'o__r-1' });
  const own = meta({ key: key('b'), instanceId: 'o__r-2' });

  it('deletes the environment of a Rejected instance, keeps one a Verified instance uses', () => {
    const instances = [instance('o__r-1', 'Verified', key('a')), instance('o__r-2', 'Rejected', key('b'))];
    expect(snapshotsToDelete([shared, own], instances, 'verified')).toEqual([key('b')]);
  });

  it('keeps a shared environment while any instance using it is unfinished, whatever the builder became', () => {
    const instances = [instance('o__r-1', 'Rejected', key('a')), instance('o__r-3', 'Tests', key('a'))];
    expect(snapshotsToDelete([shared], instances, 'none')).toEqual([]);
    const done = [instance('o__r-1', 'Rejected', key('a')), instance('o__r-3', 'Verified', key('a'))];
    expect(snapshotsToDelete([shared], done, 'verified')).toEqual([]);
    expect(snapshotsToDelete([shared], done, 'none')).toEqual([key('a')]);
  });

  it("keeps a fresh capture whose builder's status does not record the key yet", () => {
    expect(snapshotsToDelete([shared], [instance('o__r-1', 'Env')], 'none')).toEqual([]);
  });

  it('deletes a snapshot no instance knows (an orphan) and those of Failed instances', () => {
    const failed = [instance('o__r-2', 'Failed', key('b'))];
    expect(snapshotsToDelete([shared, own], failed, 'verified').sort()).toEqual([key('a'), key('b')]);
  });
});

describe('EnvironmentStore (real directories)', () => {
  it('keeps a tree once, restores it at the path it was built at, and collects what no instance keeps', async () => {
    const state = await mkdtemp(join(tmpdir(), 'scaleswe-envstore-'));
    try {
      const built = join(state, 'work', 'o__r-1', 'env-1', 'ws', 'env-1');
      await mkdir(join(built, '.venv', 'bin'), { recursive: true });
      await writeFile(join(built, '.venv', 'bin', 'tool'), `#!${built}/.venv/bin/python\n`, { mode: 0o755 });
      await symlink('tool', join(built, '.venv', 'bin', 'alias'));
      const store = new EnvironmentStore(state);
      const m = meta({ key: key('a'), dir: built });
      const where = await store.capture(m);
      expect(where).toBe(join(state, 'environments', key('a')));
      await rm(built, { recursive: true });

      const restored = await store.restore(key('a'));
      expect(restored?.prepared.dir).toBe(built);
      expect(await readFile(join(built, '.venv', 'bin', 'tool'), 'utf8')).toBe(
        `#!${built}/.venv/bin/python\n`,
      );
      expect((await stat(join(built, '.venv', 'bin', 'tool'))).mode & 0o777).toBe(0o755);
      expect(await readlink(join(built, '.venv', 'bin', 'alias'))).toBe('tool');
      await restored?.release();
      await expect(stat(built)).rejects.toThrow();
      expect(await store.restore(key('f'))).toBeUndefined();

      // A snapshot whose tree is gone cannot be restored: an infrastructure error, not "no environment".
      await rm(join(state, 'environments', key('a'), 'tree'), { recursive: true });
      await expect(store.restore(key('a'))).rejects.toBeInstanceOf(EnvironmentStoreError);

      // An interrupted capture (no meta) and a Rejected instance's snapshot are collected.
      await mkdir(join(state, 'environments', key('e'), 'tree.partial'), { recursive: true });
      await store.collect([instance('o__r-1', 'Rejected', key('a'))], 'verified');
      expect(await readdir(join(state, 'environments'))).toEqual([]);
    } finally {
      await rm(state, { recursive: true, force: true });
    }
  });
});
