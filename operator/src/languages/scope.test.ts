import { describe, expect, it } from 'vitest';
import type { Recipe } from '../api/index.ts';
import { scopedTestCommand } from './index.ts';

const pytest: Recipe = {
  setupScript: '',
  testCommand: '.venv/bin/python -m pytest -rA -p no:cacheprovider --tb=short',
  resultFormat: 'pytest',
};
const gotest: Recipe = {
  setupScript: '',
  testCommand: 'go test -json -count=1 ./...',
  resultFormat: 'go-test-json',
};

describe('scopedTestCommand (verification.scope: files)', () => {
  it('pytest runs the touched test files, quoted; helpers and conftest alone do not scope', () => {
    expect(scopedTestCommand(pytest, ['tests/test_a.py', 'pkg/b_test.py', "tests/test_it's.py"])).toBe(
      `${pytest.testCommand} tests/test_a.py pkg/b_test.py 'tests/test_it'\\''s.py'`,
    );
    expect(scopedTestCommand(pytest, ['tests/conftest.py', 'tests/helpers.py'])).toBeUndefined();
    expect(scopedTestCommand(pytest, [])).toBeUndefined();
  });

  it('go test runs the packages of the touched _test.go files', () => {
    expect(scopedTestCommand(gotest, ['b/x_test.go', 'a/y_test.go', 'a/z_test.go', 'root_test.go'])).toBe(
      'go test -json -count=1 . ./a ./b',
    );
    expect(scopedTestCommand(gotest, ['testdata/golden.txt'])).toBeUndefined();
    // A command that does not name ./... cannot be narrowed safely.
    expect(scopedTestCommand({ ...gotest, testCommand: 'make test' }, ['a/y_test.go'])).toBeUndefined();
  });

  it('a recipe of another runner is not touched by the python or go rules', () => {
    const cargo: Recipe = {
      setupScript: '',
      testCommand: 'cargo test --no-fail-fast 2>&1',
      resultFormat: 'cargo',
    };
    expect(scopedTestCommand(cargo, ['tests/test_a.py', 'a/y_test.go'])).toBeUndefined();
  });
});
