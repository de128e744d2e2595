import { type ParseContext, record, type TestResults, type TestStatus } from './types.ts';

/** libtest output of `cargo test`. Id: the test path as printed, e.g. `tests::nested::deep`. */
const STATUS: Record<string, TestStatus> = { ok: 'passed', FAILED: 'failed', ignored: 'skipped' };

export function parseCargo(text: string, _ctx: ParseContext = {}): TestResults {
  const results: TestResults = new Map();
  for (const raw of text.split('\n')) {
    const m = /^test (.+?)(?: - should panic)? \.\.\. (ok|FAILED|ignored)\b/.exec(raw.trimEnd());
    if (m) record(results, m[1]!, STATUS[m[2]!]!);
  }
  return results;
}
