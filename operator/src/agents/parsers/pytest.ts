import { type ParseContext, record, type TestResults, type TestStatus } from './types.ts';

/**
 * pytest with `-rA` (short test summary) and/or `-v` lines. Ids are pytest node ids
 * (`tests/test_x.py::TestK::test_y[param]`), as in SWE-bench; a module that fails to
 * collect is reported under its path (`tests/test_x.py`) with status error.
 */
const STATUS: Record<string, TestStatus> = {
  PASSED: 'passed',
  XPASS: 'passed',
  FAILED: 'failed',
  ERROR: 'error',
  SKIPPED: 'skipped',
  XFAIL: 'skipped',
};

export function parsePytest(text: string, _ctx: ParseContext = {}): TestResults {
  const results: TestResults = new Map();
  for (const raw of text.split('\n')) {
    const line = raw.replace(/\x1b\[[0-9;]*m/g, '').trimEnd();
    // Summary form: "PASSED tests/a.py::t", "FAILED tests/a.py::t[x] - msg", "ERROR tests/a.py"
    const summary = /^(PASSED|FAILED|ERROR|XPASS|XFAIL|SKIPPED) (\S.*)$/.exec(line);
    if (summary) {
      const status = STATUS[summary[1]!]!;
      if (summary[2]!.startsWith('[')) continue; // "SKIPPED [1] file:line: reason" has no node id
      const id = nodeId(summary[2]!);
      if (id) record(results, id, status);
      continue;
    }
    // Verbose form: "tests/a.py::t PASSED [ 50%]"
    const verbose = /^(\S+\.py::\S.*?) (PASSED|FAILED|ERROR|XPASS|XFAIL|SKIPPED)(?:\s+\[\s*\d+%\])?$/.exec(
      line,
    );
    if (verbose) record(results, verbose[1]!, STATUS[verbose[2]!]!);
  }
  return results;
}

/** Node id at the start of a summary payload; brackets may contain spaces and " - ". */
function nodeId(payload: string): string | undefined {
  const open = payload.indexOf('[');
  const sep = payload.indexOf(' - ');
  if (open !== -1 && (sep === -1 || open < sep)) {
    let depth = 0;
    for (let i = open; i < payload.length; i++) {
      if (payload[i] === '[') depth++;
      else if (payload[i] === ']' && --depth === 0) return payload.slice(0, i + 1);
    }
  }
  const id = sep === -1 ? payload : payload.slice(0, sep);
  return id.trim() || undefined;
}
