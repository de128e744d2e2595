import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { seedCaches } from './cache-seed.ts';

let root = '';
beforeAll(async () => {
  root = await mkdtemp(path.join(tmpdir(), 'scaleswe-seed-'));
});
afterAll(() => rm(root, { recursive: true, force: true }));

describe('cache seeds from the sandbox image', () => {
  it('copies the entries the cache lacks and keeps the ones it has', async () => {
    const seed = path.join(root, 'seed');
    const cache = path.join(root, 'cache');
    await mkdir(path.join(seed, 'go-build', '0a'), { recursive: true });
    await writeFile(path.join(seed, 'go-build', '0a', 'entry-d'), 'compiled fmt');
    await mkdir(path.join(seed, 'pip'), { recursive: true });
    await writeFile(path.join(seed, 'pip', 'wheel'), 'from the image');
    await mkdir(path.join(cache, 'pip'), { recursive: true });
    await writeFile(path.join(cache, 'pip', 'wheel'), 'the stage its own');

    expect(await seedCaches(seed, cache)).toEqual(['go-build']);
    expect(await readFile(path.join(cache, 'go-build', '0a', 'entry-d'), 'utf8')).toBe('compiled fmt');
    expect(await readFile(path.join(cache, 'pip', 'wheel'), 'utf8')).toBe('the stage its own');
    // No partial copies left beside, and a second call has nothing to do.
    expect((await readdir(cache)).sort()).toEqual(['go-build', 'pip']);
    expect(await seedCaches(seed, cache)).toEqual([]);
  });

  it('does nothing without a seed (an image without one, local mode) or a cache directory', async () => {
    const cache = path.join(root, 'empty-cache');
    await mkdir(cache);
    expect(await seedCaches(undefined, cache)).toEqual([]);
    expect(await seedCaches(path.join(root, 'no-such-seed'), cache)).toEqual([]);
    expect(await seedCaches(path.join(root, 'seed'), undefined)).toEqual([]);
    expect(await readdir(cache)).toEqual([]);
  });
});
