/**
 * Diff coverage of a gold patch: which lines it adds the FAIL_TO_PASS tests execute. Each
 * language module names its coverage engine (LanguageModule.coverage: coverage.py, V8 through
 * vitest/jest/c8, `go test -coverprofile`); this module holds the pure parts: the engines'
 * reports read into executed / executable lines per file, and the patch's lines graded
 * against them.
 */
import { addedLines } from './mutation.ts';

/** The report formats the engines leave behind. */
export type CoverageFormat = 'coverage-py-json' | 'istanbul-json' | 'go-coverprofile';

/** How a language measures line coverage of some tests (LanguageModule.coverage). */
export interface CoverageEngine {
  /** Named in status, e.g. `coverage.py`. */
  readonly name: string;
  readonly format: CoverageFormat;
  /**
   * The commands, or undefined when this test command is not one the engine can wrap.
   * `testCommand` is the recipe's command limited to the instance's test files, `tests` the
   * FAIL_TO_PASS ids, `out` the absolute path the report must end up at. `prepare` runs first
   * with the stage's network (installs the engine when missing), `run` like a test run.
   */
  plan(
    testCommand: string,
    tests: readonly string[],
    out: string,
  ): { prepare?: string; run: string } | undefined;
}

/** Lines of one file a coverage report knows about (1-based). */
export interface FileLines {
  executable: Set<number>;
  executed: Set<number>;
}
/** By path relative to the repository root. */
export type CoverageLines = Map<string, FileLines>;

function entry(map: CoverageLines, file: string): FileLines {
  const known = map.get(file);
  if (known) return known;
  const e: FileLines = { executable: new Set(), executed: new Set() };
  map.set(file, e);
  return e;
}

function relative(file: string, rootDir: string): string {
  const root = rootDir.replace(/\/+$/, '');
  return file.startsWith(`${root}/`) ? file.slice(root.length + 1) : file.replace(/^\.\//, '');
}

/** `coverage json` output: executed and missing statements per file. */
export function coveragePyLines(json: string, rootDir: string): CoverageLines {
  const data = JSON.parse(json) as {
    files?: Record<string, { executed_lines?: number[]; missing_lines?: number[] }>;
  };
  const out: CoverageLines = new Map();
  for (const [file, f] of Object.entries(data.files ?? {})) {
    const e = entry(out, relative(file, rootDir));
    for (const l of f.executed_lines ?? []) {
      e.executable.add(l);
      e.executed.add(l);
    }
    for (const l of f.missing_lines ?? []) e.executable.add(l);
  }
  return out;
}

/**
 * Istanbul's coverage-final.json (vitest and jest with the V8 provider, c8): a statement makes
 * its first line executable, and executed when its count is above zero (istanbul's own line
 * coverage does the same).
 */
export function istanbulLines(json: string, rootDir: string): CoverageLines {
  const data = JSON.parse(json) as Record<
    string,
    { path?: string; statementMap?: Record<string, { start: { line: number } }>; s?: Record<string, number> }
  >;
  const out: CoverageLines = new Map();
  for (const [key, f] of Object.entries(data)) {
    const e = entry(out, relative(f.path ?? key, rootDir));
    for (const [id, st] of Object.entries(f.statementMap ?? {})) {
      e.executable.add(st.start.line);
      if ((f.s?.[id] ?? 0) > 0) e.executed.add(st.start.line);
    }
  }
  return out;
}

/** The `module` path of a go.mod. */
export function goModulePath(goMod: string): string | undefined {
  return /^module\s+"?([^\s"]+)"?/m.exec(goMod)?.[1];
}

/**
 * A `go test -coverprofile` profile: blocks `importpath/file.go:l1.c1,l2.c2 stmts count`; every
 * line of a block is executable, executed when some block over it ran. Files of other modules
 * (outside `modulePath`) are left out.
 */
export function goProfileLines(profile: string, modulePath: string): CoverageLines {
  const out: CoverageLines = new Map();
  for (const line of profile.split('\n')) {
    const m = /^(.+\.go):(\d+)\.\d+,(\d+)\.\d+ \d+ (\d+)$/.exec(line.trim());
    if (!m) continue;
    const [, importPath, from, to, count] = m;
    if (importPath !== modulePath && !importPath!.startsWith(`${modulePath}/`)) continue;
    const e = entry(out, importPath!.slice(modulePath.length + 1));
    for (let l = Number(from); l <= Number(to); l++) {
      e.executable.add(l);
      if (Number(count) > 0) e.executed.add(l);
    }
  }
  return out;
}

/** Reads an engine's report. */
export function coverageLinesOf(
  format: CoverageFormat,
  report: string,
  opts: { rootDir: string; goModule?: string },
): CoverageLines {
  switch (format) {
    case 'coverage-py-json':
      return coveragePyLines(report, opts.rootDir);
    case 'istanbul-json':
      return istanbulLines(report, opts.rootDir);
    case 'go-coverprofile':
      return goProfileLines(report, opts.goModule ?? '');
  }
}

/** At most this many uncovered lines are named. */
export const UNCOVERED_KEPT = 20;

export interface DiffCoverageResult {
  covered: number;
  total: number;
  /** covered / total, 3 decimals; absent when no added line is executable. */
  ratio?: number;
  /** `file:line` of the executable added lines no test ran, in diff order, at most UNCOVERED_KEPT. */
  uncovered: string[];
}

/**
 * Grades the lines a patch adds against a coverage report. Only files `measured` says the
 * engine covers count (the instance's language; test files excluded by the caller). A line is
 * counted when it has code (`hasCode`) and the report calls it executable; a file the report
 * never saw (never loaded by the tests) counts every added line with code, none executed.
 */
export function diffCoverage(
  patch: string,
  lines: CoverageLines,
  measured: (file: string) => boolean,
  hasCode: (file: string, text: string) => boolean,
): DiffCoverageResult {
  let covered = 0;
  let total = 0;
  const uncovered: string[] = [];
  for (const a of addedLines(patch)) {
    if (!measured(a.file)) continue;
    const f = lines.get(a.file);
    // Go's blocks span closing braces: a line counts only with code on it as well.
    const executable = hasCode(a.file, a.text) && (f === undefined || f.executable.has(a.line));
    if (!executable) continue;
    total++;
    if (f?.executed.has(a.line)) covered++;
    else if (uncovered.length < UNCOVERED_KEPT) uncovered.push(`${a.file}:${a.line}`);
  }
  return {
    covered,
    total,
    ...(total > 0 && { ratio: Math.round((covered / total) * 1000) / 1000 }),
    uncovered,
  };
}

/** A path as one shell word. */
function word(s: string): string {
  return /^[A-Za-z0-9_./@%+=:,-]+$/.test(s) ? s : `'${s.replace(/'/g, `'\\''`)}'`;
}

/**
 * coverage.py around pytest: the interpreter that runs `-m pytest` runs it under
 * `-m coverage run` instead, limited to the FAIL_TO_PASS node ids; coverage is installed into
 * that interpreter's environment when missing.
 */
export const coveragePy: CoverageEngine = {
  name: 'coverage.py',
  format: 'coverage-py-json',
  plan(testCommand, tests, out) {
    const m = /(^|\s)(\S*python[\d.]*)\s+-m\s+pytest\b/.exec(testCommand);
    if (!m) return undefined;
    const py = m[2]!;
    const data = word(`${out}.data`);
    // The node ids replace the test files the scoped command ends with.
    const ids = tests.filter((t) => t.includes('::'));
    const base = ids.length ? testCommand.replace(/(\s+[^\s-][^\s]*\.py)+\s*$/, '') : testCommand;
    const run = `${base.replace(m[0], () => `${m[1]}${py} -m coverage run --data-file=${data} -m pytest`)}${ids.map((t) => ` ${word(t)}`).join('')}`;
    return {
      prepare: `${py} -c 'import coverage' 2>/dev/null || ${py} -m pip install -q coverage || { command -v uv >/dev/null && uv pip install -q --python ${py} coverage; }`,
      // `combine`: a project's `run.parallel = true` (filelock) suffixes the data file, which
      // coverage.py before 7.6 does not report on; with nothing to combine it only complains.
      run: `${run}\n${py} -m coverage combine -q --data-file=${data} >/dev/null 2>&1 || true\n${py} -m coverage json -q --data-file=${data} -o ${word(out)}`,
    };
  },
};

/**
 * V8 coverage for JavaScript/TypeScript through the runner's own provider: vitest with
 * @vitest/coverage-v8 (installed at vitest's version when missing), jest's built-in V8
 * provider, c8 around any other node command. All write istanbul's coverage-final.json.
 */
export const v8Coverage: CoverageEngine = {
  name: 'v8',
  format: 'istanbul-json',
  plan(testCommand, tests, out) {
    const dir = word(`${out}.d`);
    const copy = `\ncp ${dir}/coverage-final.json ${word(out)}`;
    const pattern = jsTestNamePattern(tests);
    const only = pattern === undefined ? '' : ` -t ${word(pattern)}`;
    if (/\bvitest\b/.test(testCommand))
      return {
        prepare:
          '[ -d node_modules/@vitest/coverage-v8 ] || npm install --no-save --no-package-lock --ignore-scripts "@vitest/coverage-v8@$(node -p \'require("./node_modules/vitest/package.json").version\')"',
        run: `${testCommand.replace(/\bvitest(\s+run)?/, (v) => `${v} --coverage.enabled --coverage.provider=v8 --coverage.reporter=json --coverage.reportsDirectory=${dir}${only}`)}${copy}`,
      };
    if (/\bjest\b/.test(testCommand))
      return {
        run: `${testCommand.replace(/\bjest\b/, () => `jest --coverage --coverageProvider=v8 --coverageReporters=json --coverageDirectory=${dir}${only}`)}${copy}`,
      };
    return {
      prepare:
        '[ -x node_modules/.bin/c8 ] || npm install --no-save --no-package-lock --ignore-scripts c8@10',
      run: `npx c8 --reporter=json --reports-dir=${dir} -- bash -c ${word(testCommand)}${copy}`,
    };
  },
};

function escapeRegExp(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/**
 * A `-t` pattern (vitest, jest) for the tests of these ids (`file > describe… > title`,
 * parsers/jest.ts): the runner matches the describe chain and title, joined by ` > ` (vitest)
 * or a blank (jest), sometimes after the file. The start is not anchored, so a test with the
 * same chain nested in a further describe runs too (a superset, never fewer). Undefined: no id.
 */
export function jsTestNamePattern(tests: readonly string[]): string | undefined {
  const names = tests
    .map((t) => t.split(' > ').slice(1))
    .filter((n) => n.length > 0)
    .map((n) => n.map(escapeRegExp).join('(?: > | )'));
  return names.length ? `(?:^|[ >])(?:${[...new Set(names)].join('|')})$` : undefined;
}

/** The top-level Go test a label names (`example.com/m/pkg/TestX/sub` → TestX). */
export function goTestName(label: string): string | undefined {
  return /(?:^|\/)((?:Test|Example|Fuzz)[^/]*)/.exec(label)?.[1];
}

/** `go test -coverprofile` over every package of the module, limited to the FAIL_TO_PASS tests. */
export const goCover: CoverageEngine = {
  name: 'go test -coverprofile',
  format: 'go-coverprofile',
  plan(testCommand, tests, out) {
    if (!/\bgo test\b/.test(testCommand)) return undefined;
    const names = [...new Set(tests.map(goTestName).filter((n): n is string => n !== undefined))];
    const run = names.length ? ` -run ${word(`^(${names.join('|')})$`)}` : '';
    return {
      // A function: `$'` in a replacement string would splice in the rest of the command.
      run: testCommand.replace(
        /\bgo test\b/,
        () => `go test -coverprofile=${word(out)} -coverpkg=./...${run}`,
      ),
    };
  },
};
