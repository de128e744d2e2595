import { describe, expect, it } from 'vitest';
import { dependencyChange, isDependencyFile } from './dependency-change.ts';

const section = (file: string, body = '+x\n') =>
  `diff --git a/${file} b/${file}\nindex 1111111..2222222 100644\n--- a/${file}\n+++ b/${file}\n@@ -1 +1,2 @@\n ${file}\n${body}`;

describe('dependencyChange', () => {
  it('names manifests and lockfiles of every language, wherever they sit', () => {
    for (const f of [
      'package.json',
      'packages/web/package-lock.json',
      'pyproject.toml',
      'setup.py',
      'requirements-dev.txt',
      'go.mod',
      'go.sum',
      'Cargo.toml',
      'Cargo.lock',
      'pom.xml',
    ])
      expect(isDependencyFile(f), f).toBe(true);
    for (const f of ['src/index.ts', 'noxfile.py', 'tox.ini', 'README.md', 'tests/test_a.py'])
      expect(isDependencyFile(f), f).toBe(false);
  });

  it('keeps only the dependency files of a gold patch, byte-exact', () => {
    const gold =
      section('src/index.ts') +
      section('package.json', '+  "semver": "^7.3.2",\n') +
      section('package-lock.json');
    expect(dependencyChange(gold)).toEqual({
      patch: section('package.json', '+  "semver": "^7.3.2",\n') + section('package-lock.json'),
      paths: ['package.json', 'package-lock.json'],
    });
    expect(dependencyChange(section('src/index.ts'))).toBeUndefined();
    expect(dependencyChange('')).toBeUndefined();
  });
});
