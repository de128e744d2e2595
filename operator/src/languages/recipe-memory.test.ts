import { describe, expect, it } from 'vitest';
import type { Recipe, RememberedRecipe, SWEInstanceSpec } from '../api/index.ts';
import {
  chooseRemembered,
  MAX_REMEMBERED,
  manifestDigest,
  memoryManifestFiles,
  rememberedFor,
} from './recipe-memory.ts';

const recipe = (setup: string, digest = 'd1'): Recipe => ({
  setupScript: setup,
  testCommand: 'go test -json ./...',
  resultFormat: 'go-test-json',
  manifestDigest: digest,
});
const entry = (id: string, createdAt: string, r: Recipe): RememberedRecipe => ({
  instanceId: id,
  createdAt,
  recipe: r,
});

describe('chooseRemembered', () => {
  const current = { createdAt: '2024-06-01T00:00:00Z', manifestDigest: 'd1' };

  it('tries the nearest earlier PR first, then later ones nearest first, one try per recipe', () => {
    const choice = chooseRemembered(
      [
        entry('o__r-1', '2024-01-01T00:00:00Z', recipe('a')),
        entry('o__r-9', '2024-09-01T00:00:00Z', recipe('c')),
        entry('o__r-5', '2024-05-01T00:00:00Z', recipe('b')),
        entry('o__r-7', '2024-07-01T00:00:00Z', recipe('d')),
        entry('o__r-4', '2024-04-01T00:00:00Z', recipe('b')),
      ],
      current,
    );
    expect(choice.tryFirst.map((t) => [t.from, t.recipe.setupScript])).toEqual([
      ['o__r-5', 'b'],
      ['o__r-1', 'a'],
      ['o__r-7', 'd'],
      ['o__r-9', 'c'],
    ]);
    expect(choice.skipped).toEqual([]);
  });

  it('falls back to the search when the manifests or lockfiles changed', () => {
    const changed = chooseRemembered(
      [
        entry('o__r-5', '2024-05-01T00:00:00Z', recipe('b', 'd0')),
        entry('o__r-6', '2024-05-02T00:00:00Z', { ...recipe('c'), manifestDigest: undefined }),
      ],
      current,
    );
    expect(changed.tryFirst).toEqual([]);
    expect(changed.skipped).toEqual([
      { from: 'o__r-5', why: 'manifests or lockfiles changed' },
      { from: 'o__r-6', why: 'no manifest digest recorded' },
    ]);
  });
});

describe('manifest digest', () => {
  it('covers root manifests and lockfiles of every ecosystem, nothing else', () => {
    expect(
      memoryManifestFiles([
        'go.mod',
        'go.sum',
        'package.json',
        'sub/package.json',
        'README.md',
        'src/a.go',
        'uv.lock',
      ]),
    ).toEqual(['go.mod', 'go.sum', 'package.json', 'uv.lock']);
  });

  it('changes with any content or name, not with the order given', () => {
    const d = manifestDigest({ 'go.mod': 'module a\n', 'go.sum': '' });
    expect(manifestDigest({ 'go.sum': '', 'go.mod': 'module a\n' })).toBe(d);
    expect(manifestDigest({ 'go.mod': 'module a\n\ngo 1.22\n', 'go.sum': '' })).not.toBe(d);
    expect(manifestDigest({ 'go.mod': 'module a\n' })).not.toBe(d);
  });
});

describe('rememberedFor', () => {
  const spec = (id: number, createdAt: string, repo = 'o/r') =>
    ({ instanceId: `o__r-${id}`, repo, createdAt }) as SWEInstanceSpec;

  it("takes other instances' recorded recipes of the same repository, nearest PRs first, capped", () => {
    const me = spec(50, '2024-06-01T00:00:00Z');
    const records = [
      { spec: me, status: { recipe: recipe('self') } },
      { spec: spec(1, '2024-01-01T00:00:00Z', 'o/other'), status: { recipe: recipe('x') } },
      { spec: spec(2, '2024-01-01T00:00:00Z'), status: {} },
      {
        spec: spec(3, '2024-01-01T00:00:00Z'),
        status: { recipe: { ...recipe('y'), manifestDigest: undefined } },
      },
      ...Array.from({ length: 8 }, (_, i) => ({
        spec: spec(10 + i, `2024-05-0${i + 1}T00:00:00Z`),
        status: { recipe: recipe(`r${i}`) },
      })),
    ];
    const remembered = rememberedFor(me, records);
    expect(remembered).toHaveLength(MAX_REMEMBERED);
    expect(remembered.map((r) => r.instanceId)).toEqual([
      'o__r-17',
      'o__r-16',
      'o__r-15',
      'o__r-14',
      'o__r-13',
    ]);
    // A shared memory file's entries count too (another run of the repository), deduplicated by instance.
    const fromFile = entry('o__r-99', '2024-05-31T00:00:00Z', recipe('f'));
    expect(rememberedFor(me, [...records, fromFile])[0]).toEqual(fromFile);
  });
});
