import { describe, expect, it } from 'vitest';
import { candidateRecipes } from './index.ts';
import { java } from './java.ts';
import { failedDependencyScript, node } from './node.ts';
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
      'GOTOOLCHAIN=local go test -json -count=1 -vet=off -timeout=42s ./...',
    );
    expect(limited(['pom.xml']).testCommand).toContain(' -Djunit.jupiter.execution.timeout.default=42s;');
    // Without a limit (older stage inputs) the commands are as before.
    const plain = candidateRecipes({ files: ['setup.py'], manifests: {} })[0]!;
    expect(plain.testCommand).not.toContain('PYTEST_TIMEOUT');
    expect(plain.setupScript).not.toContain('pytest-timeout');
  });
});

describe('node: a dependency whose install script failed', () => {
  // jshttp/cookie in the trial (npm 11), trimmed: top-sites' postinstall fetches from the web.
  const cookie = `npm warn deprecated glob@10.5.0: Old versions of glob are not supported
npm error code 1
npm error path /s/ws/env-1/node_modules/top-sites
npm error command failed
npm error command sh -c node scripts/postinstall
npm error AggregateError:
npm error     Error [ERR_SOCKET_CLOSED_BEFORE_CONNECTION]: Socket closed before the connection was established`;

  it('names the package (scoped too), never the project itself', () => {
    expect(failedDependencyScript(cookie)).toBe('top-sites');
    expect(
      failedDependencyScript('npm ERR! path /w/node_modules/@scope/pkg\nnpm ERR! command failed\n'),
    ).toBe('@scope/pkg');
    // The project's own prepare script: installing without scripts would skip what it builds.
    expect(failedDependencyScript('npm error path /s/ws/env-1\nnpm error command failed\n')).toBeUndefined();
  });

  it('repairs npm recipes once, with --ignore-scripts', () => {
    const [recipe] = candidateRecipes({ files: ['package.json', 'package-lock.json'], manifests: {} });
    const repaired = node.repair!(recipe!, cookie, { files: [], manifests: {} });
    expect(repaired!.setupScript).toContain(
      '\nnpm ci --no-audit --no-fund --prefer-offline --ignore-scripts\n',
    );
    expect(node.repair!(repaired!, cookie, { files: [], manifests: {} })).toBeUndefined();
    expect(node.repair!(recipe!, 'npm error code E404', { files: [], manifests: {} })).toBeUndefined();
  });
});
