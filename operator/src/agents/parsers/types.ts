export type TestStatus = 'passed' | 'failed' | 'error' | 'skipped';
/** Test id → status. Ids are SWE-bench style; see each parser for its id scheme. */
export type TestResults = Map<string, TestStatus>;

export interface ParseContext {
  /** Workspace root: absolute file paths in reports are made relative to it. */
  rootDir?: string;
}

// When an id is reported twice (retries, same name in two binaries), the worst outcome wins,
// so a test is only "passed" when every report of it passed.
const RANK: Record<TestStatus, number> = { skipped: 0, passed: 1, failed: 2, error: 3 };

export function record(results: TestResults, id: string, status: TestStatus): void {
  const prev = results.get(id);
  if (prev === undefined || RANK[status] > RANK[prev]) results.set(id, status);
}

export function relativize(file: string, ctx: ParseContext): string {
  let f = file.replace(/^file:\/\//, '');
  if (ctx.rootDir) {
    const root = ctx.rootDir.endsWith('/') ? ctx.rootDir : `${ctx.rootDir}/`;
    if (f.startsWith(root)) f = f.slice(root.length);
  }
  return f;
}
