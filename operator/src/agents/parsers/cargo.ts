import { type ParseContext, record, type TestResults, type TestStatus } from './types.ts';

/**
 * libtest output of `cargo test`. Id: the test path as printed, e.g. `tests::nested::deep`.
 * Doctests print `src/lib.rs - Item::name (line 12)`: the line number moves whenever code
 * above moves, which would turn one doctest into a PASS→FAIL plus a FAIL→PASS pair. Their
 * id drops it (`src/lib.rs - Item::name`); an item with several doctests numbers them in
 * source order (`src/lib.rs - add #2`), stable unless that item's own examples change.
 */
const STATUS: Record<string, TestStatus> = { ok: 'passed', FAILED: 'failed', ignored: 'skipped' };

export function parseCargo(text: string, _ctx: ParseContext = {}): TestResults {
  const results: TestResults = new Map();
  const doctests = new Map<string, { line: number; status: TestStatus }[]>();
  for (const raw of text.split('\n')) {
    const m = /^test (.+?)(?: - should panic)? \.\.\. (ok|FAILED|ignored)\b/.exec(raw.trimEnd());
    if (!m) continue;
    const status = STATUS[m[2]!]!;
    const doc = /^(.+? - .+?) \(line (\d+)\)(.*)$/.exec(m[1]!);
    if (!doc) {
      record(results, m[1]!, status);
      continue;
    }
    const key = `${doc[1]}${doc[3]}`;
    const list = doctests.get(key) ?? [];
    list.push({ line: Number(doc[2]), status });
    doctests.set(key, list);
  }
  for (const [key, list] of doctests) {
    list.sort((a, b) => a.line - b.line);
    list.forEach((d, i) => {
      record(results, list.length === 1 ? key : `${key} #${i + 1}`, d.status);
    });
  }
  return results;
}
