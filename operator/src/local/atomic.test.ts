import { existsSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { readdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ensureWritableDirectory, makeDirectories, NotWritableError, writeFileAtomic } from './atomic.ts';
import { lockStateDir } from './state-lock.ts';

const scratch = mkdtempSync(join(tmpdir(), 'scaleswe-atomic-'));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

// Under /proc a new name gets ENOENT although /proc exists: Node's recursive mkdir retries that
// forever (the `scaleswe export --out /proc/x` hang). Each call must settle, with the cause.
const PROC = `/proc/scaleswe-no-such-${process.pid}`;

describe('makeDirectories (mkdir -p that ends)', () => {
  it('makes nested directories and accepts existing ones', async () => {
    const dir = join(scratch, 'a', 'b', 'c');
    await makeDirectories(dir);
    await makeDirectories(dir);
    expect(existsSync(dir)).toBe(true);
  });

  it('fails at once where a parent exists but refuses the child (/proc, a dangling symlink)', async () => {
    await expect(makeDirectories(`${PROC}/y`)).rejects.toMatchObject({ code: 'ENOENT' });
    symlinkSync(join(scratch, 'gone'), join(scratch, 'dangling'));
    await expect(makeDirectories(join(scratch, 'dangling', 'out'))).rejects.toMatchObject({ code: 'ENOENT' });
  });

  it('fails on a file in the way', async () => {
    writeFileSync(join(scratch, 'file'), '');
    await expect(makeDirectories(join(scratch, 'file'))).rejects.toMatchObject({ code: 'EEXIST' });
    await expect(makeDirectories(join(scratch, 'file', 'x'))).rejects.toMatchObject({ code: 'ENOTDIR' });
  });
});

describe('a directory that cannot be written is one line naming it and the cause', () => {
  it('ensureWritableDirectory: the output directory, checked by writing (probe removed)', async () => {
    const refused = ensureWritableDirectory(PROC, 'output directory');
    await expect(refused).rejects.toBeInstanceOf(NotWritableError);
    await expect(refused).rejects.toThrow(
      `cannot write output directory ${PROC}: no such directory, and it cannot be created there (ENOENT)`,
    );
    const ok = join(scratch, 'out');
    await ensureWritableDirectory(ok, 'output directory');
    expect(await readdir(ok)).toEqual([]);
  });

  it('writeFileAtomic names the directory it could not make', async () => {
    await expect(writeFileAtomic(`${PROC}/dataset.jsonl`, 'x')).rejects.toThrow(
      `cannot write directory ${PROC}: no such directory, and it cannot be created there (ENOENT)`,
    );
  });

  it('lockStateDir names the state directory', async () => {
    await expect(lockStateDir(PROC)).rejects.toThrow(
      `cannot write state directory ${PROC}: no such directory, and it cannot be created there (ENOENT)`,
    );
    await expect(lockStateDir(join(scratch, 'file', 'state'))).rejects.toThrow(
      /^cannot write state directory .*file\/state: a component of the path is not a directory \(ENOTDIR\)$/,
    );
  });
});
