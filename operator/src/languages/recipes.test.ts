import { describe, expect, it } from 'vitest';
import { candidateRecipes } from './index.ts';
import { java } from './java.ts';
import { pythonTestExtras } from './python.ts';

describe('recipe choice', () => {
  it('python: installs the test extras editable, then a flat-layout fallback', () => {
    const pyproject =
      '[project]\nname="x"\n[project.optional-dependencies]\ntest = ["pytest"]\ndocs = ["sphinx"]\n';
    expect(pythonTestExtras(pyproject, undefined)).toEqual(['test']);
    expect(pythonTestExtras(undefined, '[options.extras_require]\ntesting = pytest\nfast = ujson\n')).toEqual(
      ['testing'],
    );
    const [first, second] = candidateRecipes({
      files: ['pyproject.toml', 'requirements-dev.txt'],
      manifests: { 'pyproject.toml': pyproject },
    });
    expect(first!.setupScript).toContain("\npi -r requirements-dev.txt '.[test]' pytest\npe\n");
    expect(first!.resultFormat).toBe('pytest');
    expect(second!.testCommand).toMatch(/^PYTHONPATH=/);
  });
  it('python: requirements only (no package) gives the flat-layout recipe alone', () => {
    const rs = candidateRecipes({ files: ['requirements.txt', 'requirements/test.txt'], manifests: {} });
    expect(rs).toHaveLength(1);
    expect(rs[0]!.setupScript).toContain('\npi -r requirements.txt -r requirements/test.txt pytest\n');
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
  it('java: the wrapper when present, maven before gradle', () => {
    const rs = java.recipes({ files: ['pom.xml', 'mvnw', 'settings.gradle.kts'], manifests: {} });
    expect(rs.map((r) => r.setupScript.split('\n')[1])).toEqual([
      './mvnw -B -q -DskipTests test-compile',
      'gradle --no-daemon -q testClasses',
    ]);
  });
});
