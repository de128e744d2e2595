import { mkdtemp, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadRecipeMemory, recordRecipe } from './recipe-memory.ts';

const entry = (id: string, setup: string) => ({
  instanceId: id,
  createdAt: '2024-01-01T00:00:00Z',
  recipe: {
    setupScript: setup,
    testCommand: 't',
    resultFormat: 'pytest' as const,
    manifestDigest: 'sha256:x',
  },
});

describe('local recipe memory file', () => {
  it('keeps one entry per instance per repository across writers', async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'scaleswe-recipes-'));
    await Promise.all([
      recordRecipe(dir, 'o/r', entry('o__r-1', 'a')),
      recordRecipe(dir, 'o/r', entry('o__r-2', 'b')),
      recordRecipe(dir, 'o/other', entry('o__other-1', 'c')),
    ]);
    await recordRecipe(dir, 'o/r', entry('o__r-1', 'a2'));
    const r = await loadRecipeMemory(dir, 'o/r');
    expect(r.map((e) => [e.instanceId, e.recipe.setupScript])).toEqual([
      ['o__r-2', 'b'],
      ['o__r-1', 'a2'],
    ]);
    expect(await loadRecipeMemory(dir, 'x/none')).toEqual([]);
    // A damaged file is an empty memory, not a failed run.
    await writeFile(path.join(dir, 'o__r.json'), '{not json');
    expect(await loadRecipeMemory(dir, 'o/r')).toEqual([]);
  });
});
