import { type ParseContext, record, relativize, type TestResults, type TestStatus } from './types.ts';

/**
 * Jest `--json` and vitest `--reporter=json` (same shape). Id: `file > describe… > title`
 * with the file relative to the workspace, e.g. `test/range.test.js > inRange > accepts x`.
 * A file that fails before running any test is reported under its path with status error.
 */
interface Assertion {
  ancestorTitles?: string[];
  title?: string;
  status?: string;
}
interface FileResult {
  name?: string;
  status?: string;
  message?: string;
  assertionResults?: Assertion[];
}

const STATUS: Record<string, TestStatus> = {
  passed: 'passed',
  failed: 'failed',
  pending: 'skipped',
  skipped: 'skipped',
  todo: 'skipped',
  disabled: 'skipped',
};

export function parseJestJson(text: string, ctx: ParseContext = {}): TestResults {
  const results: TestResults = new Map();
  const json = extractJson(text) as { testResults?: FileResult[] } | undefined;
  for (const file of json?.testResults ?? []) {
    const rel = relativize(file.name ?? '', ctx);
    const assertions = file.assertionResults ?? [];
    if (assertions.length === 0 && file.status === 'failed') record(results, rel, 'error');
    for (const a of assertions) {
      const id = [rel, ...(a.ancestorTitles ?? []), a.title ?? ''].join(' > ');
      record(results, id, STATUS[a.status ?? ''] ?? 'failed');
    }
  }
  return results;
}

/** The report object, also when a runner printed it to stdout among other lines. */
function extractJson(text: string): unknown {
  const trimmed = text.trim();
  try {
    return JSON.parse(trimmed);
  } catch {
    const start = trimmed.indexOf('{"num');
    const end = trimmed.lastIndexOf('}');
    if (start === -1 || end <= start) return undefined;
    try {
      return JSON.parse(trimmed.slice(start, end + 1));
    } catch {
      return undefined;
    }
  }
}
