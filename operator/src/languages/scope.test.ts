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

  it('vitest, jest, mocha and node --test get the touched test files; fixtures are left out', () => {
    const vitest: Recipe = {
      setupScript: '',
      testCommand: 'npx vitest run --reporter=json',
      resultFormat: 'vitest-json',
    };
    expect(scopedTestCommand(vitest, ['test/range.test.ts', 'test/fixtures/data.js', 'README.md'])).toBe(
      'npx vitest run --reporter=json test/range.test.ts',
    );
    const mocha: Recipe = {
      setupScript: '',
      testCommand: 'npx mocha --reporter xunit',
      resultFormat: 'junit-xml',
    };
    expect(scopedTestCommand(mocha, ['test/index.js'])).toBe('npx mocha --reporter xunit test/index.js');
  });

  it('cargo runs touched integration-test targets; a touched unit test inside src runs the suite', () => {
    const cargo: Recipe = {
      setupScript: '',
      testCommand: 'cargo test --no-fail-fast 2>&1',
      resultFormat: 'cargo',
    };
    expect(scopedTestCommand(cargo, ['tests/parse.rs', 'tests/fmt.rs'])).toBe(
      'cargo test --test parse --test fmt --no-fail-fast 2>&1',
    );
    expect(scopedTestCommand(cargo, ['tests/parse.rs', 'src/lib.rs'])).toBeUndefined();
  });

  it('maven selects the touched test classes; gradle commands are not narrowed', () => {
    const mvn: Recipe = {
      setupScript: '',
      testCommand: 'rm -rf x; mvn -B test -Dmaven.test.failure.ignore=true; cat y',
      resultFormat: 'junit-xml',
    };
    expect(
      scopedTestCommand(mvn, ['core/src/test/java/org/a/FooTest.java', 'src/test/java/org/b/BarIT.java']),
    ).toBe(
      'rm -rf x; mvn -B test -Dtest=FooTest,BarIT -Dsurefire.failIfNoSpecifiedTests=false -Dmaven.test.failure.ignore=true; cat y',
    );
    expect(scopedTestCommand(mvn, ['src/test/resources/data.json'])).toBeUndefined();
    const gradle: Recipe = {
      setupScript: '',
      testCommand: 'gradle --no-daemon test --continue',
      resultFormat: 'junit-xml',
    };
    expect(scopedTestCommand(gradle, ['src/test/java/org/a/FooTest.java'])).toBeUndefined();
  });
});
