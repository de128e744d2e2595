import { mkdir, mkdtemp, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sh } from './exec.ts';
import { boundCommand, cpuQuota, detectBindTool, workspaceCopies } from './workspace-copies.ts';

let root = '';
beforeAll(async () => {
  root = await mkdtemp(path.join(tmpdir(), 'scaleswe-copies-'));
});
afterAll(() => rm(root, { recursive: true, force: true }));

describe('workspace copies', () => {
  it('a copy mounted over the original path is what a command naming that path reads', async () => {
    const tool = await detectBindTool();
    expect(tool).not.toBe('none');
    const ws = path.join(root, 'ws');
    await mkdir(path.join(ws, 'pkg'), { recursive: true });
    await writeFile(path.join(ws, 'pkg', 'mod.txt'), 'original');
    // As an editable install does: something names the workspace by its absolute path.
    await writeFile(path.join(ws, 'paths.pth'), `${ws}/pkg\n`);
    await symlink(path.join(ws, 'pkg', 'mod.txt'), path.join(ws, 'link'));
    const { places, release } = await workspaceCopies(ws, 3);
    expect(places.map((p) => p.dir)).toEqual([ws, `${ws}.copy-1`, `${ws}.copy-2`]);
    expect(places.slice(1).every((p) => p.seenAt === ws)).toBe(true);
    await writeFile(path.join(`${ws}.copy-2`, 'pkg', 'mod.txt'), 'mutant');
    const read = 'cat "$(head -1 paths.pth)/mod.txt" link; pwd';
    for (const offline of [false, true]) {
      const r = await sh(boundCommand(read, tool as 'bwrap', { from: `${ws}.copy-2`, to: ws }, offline), {
        cwd: `${ws}.copy-2`,
        timeoutMs: 20_000,
      });
      expect(r.output).toBe(`mutantmutant${ws}\n`);
    }
    // The original is untouched, and the copies go with release.
    expect(await readFile(path.join(ws, 'pkg', 'mod.txt'), 'utf8')).toBe('original');
    await release();
    expect((await sh(`ls ${root}`, { cwd: root, timeoutMs: 5_000 })).output.trim()).toBe('ws');
  });

  it('no tool to mount: copies at their own path only when nothing names the workspace path', async () => {
    const clean = path.join(root, 'clean');
    await mkdir(clean);
    await writeFile(path.join(clean, 'mod.txt'), 'relative only');
    const c = await workspaceCopies(clean, 2, 'none');
    expect(c.places).toEqual([{ dir: clean }, { dir: `${clean}.copy-1` }]);
    await c.release();
    const named = path.join(root, 'named');
    await mkdir(named);
    await writeFile(path.join(named, 'editable.pth'), `${named}/src\n`);
    const n = await workspaceCopies(named, 2, 'none');
    expect(n.places).toEqual([{ dir: named }]);
    expect(n.note).toContain('one at a time');
    const linked = path.join(root, 'linked');
    await mkdir(linked);
    await writeFile(path.join(linked, 'a'), '');
    await symlink(path.join(linked, 'a'), path.join(linked, 'b'));
    expect((await workspaceCopies(linked, 2, 'none')).places).toEqual([{ dir: linked }]);
  });

  it('one place asked for: no copy', async () => {
    const { places } = await workspaceCopies(path.join(root, 'ws'), 1);
    expect(places).toEqual([{ dir: path.join(root, 'ws') }]);
  });

  it('quoting survives both tools', async () => {
    for (const tool of ['bwrap', 'unshare'] as const) {
      const r = await sh(
        boundCommand(`echo "it's $((1 + 1))" && exit 3`, tool, { from: root, to: root }, true),
        {
          cwd: root,
          timeoutMs: 20_000,
        },
      );
      expect(r).toMatchObject({ code: 3, output: "it's 2\n" });
    }
  });

  it('a cgroup v2 quota caps the CPUs', () => {
    expect(cpuQuota('max 100000')).toBe(Number.POSITIVE_INFINITY);
    expect(cpuQuota('200000 100000\n')).toBe(2);
    expect(cpuQuota('50000 100000')).toBe(1);
    expect(cpuQuota('350000 100000')).toBe(3);
  });
});
