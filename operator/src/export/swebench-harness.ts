import type { ResultFormat } from '../api/index.ts';

/**
 * How an instance is graded by the SWE-bench 5.x harness (swebench on PyPI): the harness runs
 * `eval_script` in a container of `image` (the checkout at /testbed, the environment installed,
 * the candidate patch already applied), cuts the output between its start/end markers, parses
 * it with `PARSER_REGISTRY[log_parser]` and compares the test ids it finds with
 * FAIL_TO_PASS / PASS_TO_PASS. So per result format of ours: the upstream parser that reads the
 * same runner's console output, the test command that prints that output, and the map from our
 * test ids to the keys that parser produces. One row per format.
 */
export interface HarnessFormat {
  /** Key of `swebench.harness.log_parsers.PARSER_REGISTRY`; undefined: no upstream parser reads this runner. */
  logParser: string | undefined;
  /** `swebench.harness.constants.EvalType` value. */
  evalType: 'pass_and_fail' | 'fail_only';
  /** Our recipe's test command → one whose output the parser reads (stdout, no report file). */
  evalCommand(testCommand: string): string;
  /** Our test id → the parser's key for the same test; undefined: the parser cannot name it. */
  toId(id: string): string | undefined;
}

const same = (s: string) => s;

export const HARNESS_FORMATS: Record<ResultFormat, HarnessFormat> = {
  // `-rA` summary lines "PASSED <id>"; the parser keeps the first whitespace-separated word.
  pytest: { logParser: 'parse_log_pytest', evalType: 'pass_and_fail', evalCommand: same, toId: pytestId },
  // Reads `go test -v` lines "--- PASS: TestX/sub (0.00s)": no package in the key.
  'go-test-json': {
    logParser: 'parse_log_gotest',
    evalType: 'pass_and_fail',
    evalCommand: goVerboseCommand,
    toId: goTestId,
  },
  // `vitest --reporter=verbose` prints "✓ file > describe > title 2ms": our id, as is.
  'vitest-json': {
    logParser: 'parse_log_vitest',
    evalType: 'pass_and_fail',
    evalCommand: (c) => reportToConsole(c, /--reporter[= ](?:json|"json"|'json')/, '--reporter=verbose'),
    toId: same,
  },
  // `jest --verbose` prints "✓ title (3 ms)": the title alone, no file or describe blocks.
  'jest-json': {
    logParser: 'parse_log_jest',
    evalType: 'pass_and_fail',
    evalCommand: (c) => reportToConsole(c, /--json\b/, '--verbose'),
    toId: jestId,
  },
  // libtest lines "test a::b ... ok": our id, as is (the parser's \S+ drops names with spaces).
  cargo: { logParser: 'parse_log_cargo', evalType: 'pass_and_fail', evalCommand: same, toId: cargoId },
  // No upstream parser reads JUnit XML reports (parse_log_maven needs one mvn run per test).
  'junit-xml': { logParser: undefined, evalType: 'pass_and_fail', evalCommand: same, toId: same },
  // parse_log_tap keys "ok 1 - name" by everything after the number, top-level tests only.
  tap: { logParser: 'parse_log_tap', evalType: 'pass_and_fail', evalCommand: same, toId: tapId },
};

/**
 * parse_log_pytest takes `line.split()[1]`: a node id whose parameters hold whitespace is cut
 * at the first blank (`t[a b]` → `t[a`); the harness then prefix-matches such cut ids.
 */
export function pytestId(id: string): string {
  return id.split(/\s/)[0]!;
}

/**
 * Our go ids are `<import path>/<TestName>[/<subtest>]`; `go test -v` prints the test name
 * without the package. The name starts at the first segment that is a Go test function.
 * A package-level id (build failure) names no test: undefined.
 */
export function goTestId(id: string): string | undefined {
  const segments = id.split('/');
  const start = segments.findIndex((s) => /^(Test|Example|Fuzz)([^a-z]|$)/.test(s));
  return start === -1 ? undefined : segments.slice(start).join('/');
}

/** `file > describe… > title` → `title` (jest --verbose prints the title alone). */
export function jestId(id: string): string | undefined {
  const parts = id.split(' > ');
  return parts.length < 2 ? undefined : parts.at(-1);
}

/** libtest names have no blanks; the parser's `\S+` could not read one that had. */
export function cargoId(id: string): string | undefined {
  return /\s/.test(id) ? undefined : id;
}

/** Our tap ids nest subtests with ` > `; the parser sees only top-level `ok N - name` lines. */
export function tapId(id: string): string | undefined {
  return id.includes(' > ') ? undefined : `- ${id}`;
}

/** `go test -json …` → `go test -v …` (the same run, printed as the parser reads it). */
export function goVerboseCommand(command: string): string {
  return command.replace(/(\bgo\s+test\b[^;&|]*?)\s-json\b/g, '$1 -v');
}

/** Swaps a report-file reporter for a console one and drops the `--outputFile` it wrote to. */
function reportToConsole(command: string, reporter: RegExp, consoleFlag: string): string {
  return command
    .replace(reporter, consoleFlag)
    .replace(/\s--outputFile(?:=|\s+)("[^"]*"|'[^']*'|\S+)/g, '')
    .trimEnd();
}

export const START_TEST_OUTPUT = '>>>>> Start Test Output';
export const END_TEST_OUTPUT = '>>>>> End Test Output';
/** Where the harness mounts the checkout (swebench.image_builder.constants.CONTAINER_WORKDIR). */
export const CONTAINER_WORKDIR = '/testbed';

/**
 * Paths a git diff touches, split by whether they exist at base: `existing` can be reset with
 * `git checkout <base> --` (one missing path would make git refuse them all), `created` are
 * removed instead before the patch re-creates them.
 */
export function diffPaths(patch: string): { existing: string[]; created: string[] } {
  const existing = new Set<string>();
  const created = new Set<string>();
  for (const section of patch.split(/^(?=diff --git )/m)) {
    const m = /^diff --git a\/(\S+) b\/(\S+)$/m.exec(section);
    if (!m) continue;
    const [, from, to] = m as unknown as [string, string, string];
    if (/^new file mode /m.test(section)) created.add(to);
    else {
      existing.add(from);
      if (to !== from) created.add(to);
    }
  }
  return { existing: [...existing], created: [...created] };
}

function shellQuote(word: string): string {
  return /^[A-Za-z0-9_./@%+=:,-]+$/.test(word) ? word : `'${word.replace(/'/g, `'\\''`)}'`;
}

/**
 * The eval script in SWE-bench's shape: reset the test files to base, apply the test patch,
 * run the test command between the markers, reset the test files again. The harness strips
 * the shebang and `set -uxo pipefail` lines and records the exit code of the line before the
 * end marker, so the test command is that one line. The setup script is not repeated here:
 * the harness applies the candidate patch in /testbed before this script runs, so the checkout
 * and the environment must already be in the image.
 */
export function evalScript(args: { baseCommit: string; testPatch: string; testCommand: string }): string {
  const paths = diffPaths(args.testPatch);
  const existing = paths.existing.map(shellQuote).join(' ');
  const created = paths.created.map(shellQuote).join(' ');
  let delimiter = 'EOF_SCALESWE_TEST_PATCH';
  while (args.testPatch.includes(delimiter)) delimiter += '_';
  const reset = [
    ...(existing ? [`git checkout ${args.baseCommit} -- ${existing}`] : []),
    ...(created ? [`rm -f ${created}`] : []),
  ];
  const apply = args.testPatch.trim()
    ? [`git apply --verbose - <<'${delimiter}'`, args.testPatch.replace(/\n?$/, ''), delimiter]
    : [];
  return `${[
    '#!/bin/bash',
    'set -uxo pipefail',
    `cd ${CONTAINER_WORKDIR}`,
    // The recipe's run environment; report-writing runners (junit) still get a file to write.
    'export CI=1 NO_COLOR=1 FORCE_COLOR=0 PYTHONDONTWRITEBYTECODE=1 SCALESWE_RESULTS=/tmp/scaleswe-results',
    ...reset,
    ...apply,
    `: '${START_TEST_OUTPUT}'`,
    args.testCommand.replace(/\n+/g, '; '),
    `: '${END_TEST_OUTPUT}'`,
    ...reset,
  ].join('\n')}\n`;
}
