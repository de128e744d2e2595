import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, readdirSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { openRepository } from './git.ts';

/** A loopback port nothing listens on (bound, then closed). */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}

describe('openRepository', () => {
  it('an unreachable remote fails with the same message every time, without the temp path, credentials or leftovers', async () => {
    const cacheDir = mkdtempSync(join(tmpdir(), 'git-open-'));
    const url = `http://user:s3cret-token@127.0.0.1:${await closedPort()}/acme/widgets.git`;
    const messages: string[] = [];
    for (let i = 0; i < 3; i++) {
      const err = await openRepository(url, cacheDir).then(
        () => undefined,
        (e: Error) => e,
      );
      expect(err).toBeInstanceOf(Error);
      messages.push(err!.message);
    }
    expect(new Set(messages).size).toBe(1);
    expect(messages[0]).toMatch(/^git clone http:\/\/127\.0\.0\.1:\d+\/acme\/widgets\.git failed: fatal: /);
    expect(messages[0]).not.toContain(cacheDir);
    expect(messages[0]).not.toContain('s3cret-token');
    expect(messages[0]).not.toMatch(/\.tmp/);
    expect(readdirSync(cacheDir)).toEqual([]);
  });

  it('removes the temporary clone a killed process left behind', async () => {
    const cacheDir = mkdtempSync(join(tmpdir(), 'git-open-'));
    const url = `http://127.0.0.1:${await closedPort()}/acme/widgets.git`;
    const hash = createHash('sha256').update(url).digest('hex').slice(0, 16);
    mkdirSync(join(cacheDir, `${hash}.git.0badc0de.tmp`, 'objects'), { recursive: true });
    mkdirSync(join(cacheDir, 'other.git.0badc0de.tmp')); // another URL's: not ours to judge
    await expect(openRepository(url, cacheDir)).rejects.toThrow(/^git clone /);
    expect(readdirSync(cacheDir)).toEqual(['other.git.0badc0de.tmp']);
  });
});
