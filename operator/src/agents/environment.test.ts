import { describe, expect, it } from 'vitest';
import type { PreparedWorkspace, Recipe } from '../api/index.ts';
import { canAdoptAcrossCommits, environmentKey, sourcesDigest } from './environment.ts';

const recipe: Recipe = {
  setupScript: 'set -e\npip install -e .\n',
  testCommand: 'pytest',
  resultFormat: 'pytest',
  source: 'deterministic',
  toolchain: { python: '3.12.1', uv: '0.5.0' },
};

describe('environmentKey', () => {
  const key = environmentKey({ language: 'python', recipe, lock: 'pytest==8.0.0\n' });

  it('is a sha256 of language, toolchain, setup script and lock', () => {
    expect(key).toMatch(/^[0-9a-f]{64}$/);
    // Toolchain order does not matter; the test command does not enter it.
    const reordered = { ...recipe, testCommand: 'pytest -x', toolchain: { uv: '0.5.0', python: '3.12.1' } };
    expect(environmentKey({ language: 'python', recipe: reordered, lock: 'pytest==8.0.0\n' })).toBe(key);
  });

  it('changes with each of its parts', () => {
    const others = [
      environmentKey({ language: 'node', recipe, lock: 'pytest==8.0.0\n' }),
      environmentKey({
        language: 'python',
        recipe: { ...recipe, toolchain: { python: '3.11.9' } },
        lock: 'pytest==8.0.0\n',
      }),
      environmentKey({
        language: 'python',
        recipe: { ...recipe, setupScript: 'pip install .\n' },
        lock: 'pytest==8.0.0\n',
      }),
      environmentKey({ language: 'python', recipe, lock: 'pytest==8.0.1\n' }),
      environmentKey({ language: 'python', recipe, lock: undefined }),
    ];
    expect(new Set([key, ...others]).size).toBe(6);
  });
});

describe('canAdoptAcrossCommits', () => {
  const sources = sourcesDigest('python', { 'setup.py': 'setup()', 'requirements.txt': 'six' });
  const prepared: PreparedWorkspace = {
    dir: '/w/env-1',
    environment: { key: 'k'.repeat(64), sources },
    recipe,
  };

  it('adopts a deterministic environment built from the same files, in any order', () => {
    expect(sourcesDigest('python', { 'requirements.txt': 'six', 'setup.py': 'setup()' })).toBe(sources);
    expect(canAdoptAcrossCommits(prepared, sources)).toBe(true);
  });

  it('refuses other files, another language, an unknown origin and LLM recipes', () => {
    expect(canAdoptAcrossCommits(prepared, sourcesDigest('python', { 'setup.py': 'setup(name="x")' }))).toBe(
      false,
    );
    expect(
      canAdoptAcrossCommits(
        prepared,
        sourcesDigest('node', { 'setup.py': 'setup()', 'requirements.txt': 'six' }),
      ),
    ).toBe(false);
    expect(canAdoptAcrossCommits({ ...prepared, environment: { key: 'k'.repeat(64) } }, sources)).toBe(false);
    expect(canAdoptAcrossCommits({ ...prepared, recipe: { ...recipe, source: 'llm' } }, sources)).toBe(false);
  });
});
