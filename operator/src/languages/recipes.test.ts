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
      // biome-ignore lint/suspicious/noTemplateCurlyInString: bash parameter expansion
      'GRADLE_OPTS="-Djava.io.tmpdir=${TMPDIR:-/tmp} ${GRADLE_OPTS:-}" gradle --no-daemon -q testClasses',
    ]);
  });
  it('a per-test limit reaches each runner that has one', () => {
    const limited = (files: string[], manifests: Record<string, string> = {}) =>
      candidateRecipes({ files, manifests, perTestTimeoutSeconds: 42 })[0]!;
    const py = limited(['setup.py']);
    expect(py.testCommand).toMatch(/^PYTEST_TIMEOUT=42 \.venv\/bin\/python -m pytest /);
    expect(py.setupScript).toContain('\npi pytest-timeout || echo');
    expect(limited(['go.mod'], { 'go.mod': 'module m\n' }).testCommand).toBe(
      'GOTOOLCHAIN=local go test -json -count=1 -timeout=42s ./...',
    );
    expect(limited(['pom.xml']).testCommand).toContain(' -Djunit.jupiter.execution.timeout.default=42s;');
    // Without a limit (older stage inputs) the commands are as before.
    const plain = candidateRecipes({ files: ['setup.py'], manifests: {} })[0]!;
    expect(plain.testCommand).not.toContain('PYTEST_TIMEOUT');
    expect(plain.setupScript).not.toContain('pytest-timeout');
  });
});
