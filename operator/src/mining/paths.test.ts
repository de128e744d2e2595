import { describe, expect, it } from 'vitest';
import { classifyPath, languageOfChange } from './paths.ts';

describe('classifyPath', () => {
  it.each([
    ['tests/test_api.py', 'test'],
    ['pkg/test_util.py', 'test'],
    ['pkg/util_test.py', 'test'],
    ['conftest.py', 'test'],
    ['server/handler_test.go', 'test'],
    ['internal/testdata/golden.json', 'test'],
    ['src/app.test.ts', 'test'],
    ['src/app.spec.ts', 'test'],
    ['lib/widget.test.jsx', 'test'],
    ['src/__tests__/widget.js', 'test'],
    ['src/test/java/org/x/FooTest.java', 'test'],
    ['core/src/main/java/org/x/FooTest.java', 'test'],
    ['tests/integration.rs', 'test'],
    ['src/__snapshots__/app.test.ts.snap', 'test'],
    ['src/ui/button.snap', 'test'],
    ['src/lib.rs', 'code'],
    ['src/main/java/org/x/Foo.java', 'code'],
    ['requests/sessions.py', 'code'],
    ['src/attest.ts', 'code'],
    ['contest/main.go', 'code'],
    ['package.json', 'code'],
    ['package-lock.json', 'lockfile'],
    ['Cargo.lock', 'lockfile'],
    ['go.sum', 'lockfile'],
    ['poetry.lock', 'lockfile'],
    ['Pipfile.lock', 'lockfile'],
    ['web/yarn.lock', 'lockfile'],
    ['gradle.lockfile', 'lockfile'],
    ['Pipfile', 'code'],
    ['README.md', 'docs'],
    ['docs/api.html', 'docs'],
    ['CHANGELOG', 'docs'],
    ['LICENSE', 'docs'],
    ['.github/workflows/ci.yml', 'ci'],
    ['.travis.yml', 'ci'],
    ['.circleci/config.yml', 'ci'],
    // Repository configuration: generic, then per ecosystem (languages/*.ts configFiles).
    ['.pre-commit-config.yaml', 'config'],
    ['.editorconfig', 'config'],
    ['.gitignore', 'config'],
    ['sub/dir/.gitattributes', 'config'],
    ['codecov.yml', 'config'],
    ['.codecov.yml', 'config'],
    ['renovate.json', 'config'],
    ['.github/dependabot.yml', 'config'],
    ['.github/CODEOWNERS', 'config'],
    ['.readthedocs.yaml', 'config'],
    ['tox.ini', 'config'],
    ['noxfile.py', 'config'],
    ['mypy.ini', 'config'],
    ['.flake8', 'config'],
    ['.pylintrc', 'config'],
    ['.coveragerc', 'config'],
    ['ruff.toml', 'config'],
    ['.python-version', 'config'],
    ['.eslintrc.json', 'config'],
    ['eslint.config.mjs', 'config'],
    ['.prettierrc', 'config'],
    ['.nvmrc', 'config'],
    ['.golangci.yml', 'config'],
    ['rustfmt.toml', 'config'],
    ['rust-toolchain.toml', 'config'],
    ['checkstyle.xml', 'config'],
    // Manifests declare dependencies or the build: code.
    ['pyproject.toml', 'code'],
    ['setup.py', 'code'],
    ['setup.cfg', 'code'],
    ['go.mod', 'code'],
    ['Cargo.toml', 'code'],
    ['pom.xml', 'code'],
    ['build.gradle.kts', 'code'],
    ['Makefile', 'code'],
    ['tsconfig.json', 'code'],
    // Tests win: a tox.ini under tests/ is part of the test patch.
    ['tests/tox.ini', 'test'],
  ])('%s is %s', (path, kind) => {
    expect(classifyPath(path)).toBe(kind);
  });
});

describe('languageOfChange', () => {
  const f = (path: string, kind: 'test' | 'code' | 'docs' | 'lockfile' | 'config', added: number) => ({
    path,
    kind,
    added,
    deleted: 0,
  });
  it('weighs code and test lines only', () => {
    expect(
      languageOfChange([f('a.go', 'code', 1), f('b_test.go', 'test', 1), f('web/app.ts', 'code', 2)]),
    ).toBe('go');
    // A lockfile or docs churn in another ecosystem does not decide the language.
    expect(languageOfChange([f('src/lib.rs', 'code', 1), f('docs/conf.py', 'docs', 500)])).toBe('rust');
    expect(languageOfChange([f('README.md', 'docs', 3), f('Cargo.lock', 'lockfile', 9)])).toBeUndefined();
    // noxfile.py is Python but configuration: it does not make a Go change a Python one.
    expect(languageOfChange([f('a.go', 'code', 1), f('noxfile.py', 'config', 50)])).toBe('go');
  });
  it('breaks ties by first appearance', () => {
    expect(languageOfChange([f('a.py', 'code', 2), f('b.js', 'code', 2)])).toBe('python');
    expect(languageOfChange([f('b.js', 'code', 2), f('a.py', 'code', 2)])).toBe('node');
  });
});
