import { describe, expect, it } from 'vitest';
import { candidateRecipes, detectLanguages, pythonTestExtras } from './recipes.ts';

describe('recipe choice', () => {
  it('detects every ecosystem present', () => {
    const files = ['pyproject.toml', 'package.json', 'go.mod', 'Cargo.toml', 'pom.xml', 'src/x.py'];
    expect(detectLanguages({ files, manifests: {} })).toEqual(['python', 'node', 'go', 'rust', 'java']);
    expect(detectLanguages({ files: ['README.md', 'build.gradle.kts'], manifests: {} })).toEqual(['java']);
  });
  it('python: installs the test extras editable, then a flat-layout fallback', () => {
    const pyproject =
      '[project]\nname="x"\n[project.optional-dependencies]\ntest = ["pytest"]\ndocs = ["sphinx"]\n';
    expect(pythonTestExtras(pyproject, undefined)).toEqual(['test']);
    const [first, second] = candidateRecipes({
      files: ['pyproject.toml', 'requirements-dev.txt'],
      manifests: { 'pyproject.toml': pyproject },
    });
    expect(first!.setupScript).toContain('pip install -q -e ".[test]" -r requirements-dev.txt pytest\n');
    expect(first!.resultFormat).toBe('pytest');
    expect(second!.testCommand).toMatch(/^PYTHONPATH=/);
  });
  it('node: lockfile picks the installer, dependencies pick the runner', () => {
    const pkg = JSON.stringify({ devDependencies: { jest: '30' } });
    const rs = candidateRecipes({ files: ['package.json', 'yarn.lock'], manifests: { 'package.json': pkg } });
    expect(rs[0]!.setupScript).toContain('yarn@1 install --frozen-lockfile');
    expect(rs.map((r) => r.resultFormat)).toEqual(['jest-json', 'junit-xml']);
    const ci = candidateRecipes({
      files: ['package.json', 'package-lock.json'],
      manifests: { 'package.json': '{}' },
    });
    expect(ci[0]!.setupScript).toContain('npm ci');
  });
  it('the PR language comes first in polyglot repositories', () => {
    const rs = candidateRecipes({ files: ['package.json', 'go.mod'], manifests: {} }, 'go');
    expect(rs[0]!.resultFormat).toBe('go-test-json');
    expect(rs[0]!.testCommand).toContain('-count=1');
  });
});
