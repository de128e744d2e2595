import { type ParseContext, record, type TestResults } from './types.ts';

/** TAP 13/14 (`ok 1 - name`, `not ok 2 - name # SKIP`). Id: the description, nested by indentation. */
export function parseTap(text: string, _ctx: ParseContext = {}): TestResults {
  const results: TestResults = new Map();
  const stack: string[] = [];
  for (const line of text.split('\n')) {
    const sub = /^(\s*)# Subtest: (.+)$/.exec(line);
    if (sub) {
      const depth = sub[1]!.length / 4;
      stack.length = depth;
      stack[depth] = sub[2]!.trim();
      continue;
    }
    const m = /^(\s*)(not ok|ok) \d+(?: - )?([^#]*)(#\s*(\w+))?/.exec(line);
    if (!m) continue;
    const depth = m[1]!.length / 4;
    const name = m[3]!.trim();
    const directive = (m[5] ?? '').toUpperCase();
    const id = [...stack.slice(0, depth), name].join(' > ');
    stack.length = depth;
    if (!name) continue;
    record(
      results,
      id,
      directive === 'SKIP' || directive === 'TODO' ? 'skipped' : m[2] === 'ok' ? 'passed' : 'failed',
    );
  }
  return results;
}
