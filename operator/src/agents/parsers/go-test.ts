import { type ParseContext, record, type TestResults } from './types.ts';

/**
 * `go test -json`. Id: `<import path>/<TestName>[/<subtest>]`, e.g. `example.com/m/TestMax/case`.
 * A package that fails to build (or fails without reporting a test) is recorded under its
 * import path with status error; a test that started but never ended (panic, timeout) failed.
 */
interface Event {
  Action?: string;
  Package?: string;
  Test?: string;
}

export function parseGoTestJson(text: string, _ctx: ParseContext = {}): TestResults {
  const results: TestResults = new Map();
  const running = new Set<string>();
  const packagesWithTests = new Set<string>();
  for (const line of text.split('\n')) {
    if (!line.startsWith('{')) continue;
    let ev: Event;
    try {
      ev = JSON.parse(line) as Event;
    } catch {
      continue;
    }
    if (!ev.Package) continue;
    if (ev.Test) {
      const id = `${ev.Package}/${ev.Test}`;
      packagesWithTests.add(ev.Package);
      if (ev.Action === 'run') running.add(id);
      else if (ev.Action === 'pass' || ev.Action === 'fail' || ev.Action === 'skip') {
        running.delete(id);
        record(results, id, ev.Action === 'pass' ? 'passed' : ev.Action === 'fail' ? 'failed' : 'skipped');
      }
    } else if (ev.Action === 'fail' && !packagesWithTests.has(ev.Package)) {
      record(results, ev.Package, 'error');
    }
  }
  for (const id of running) record(results, id, 'failed');
  return results;
}
