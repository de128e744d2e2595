import type { TestResults } from './parsers/index.ts';

/**
 * F2P/P2P from one run before and one after the gold patch (SWE-bench grading).
 * A test missing before (e.g. its file did not import) counts as failing before; skipped
 * tests count neither way.
 */
export interface Classification {
  FAIL_TO_PASS: string[];
  PASS_TO_PASS: string[];
  PASS_TO_FAIL: string[];
  FAIL_TO_FAIL: string[];
}

const notPassed = (s: string | undefined) => s === undefined || s === 'failed' || s === 'error';

export function classify(before: TestResults, after: TestResults): Classification {
  const c: Classification = { FAIL_TO_PASS: [], PASS_TO_PASS: [], PASS_TO_FAIL: [], FAIL_TO_FAIL: [] };
  for (const [id, post] of after) {
    const pre = before.get(id);
    if (post === 'passed') {
      if (pre === 'passed') c.PASS_TO_PASS.push(id);
      else if (notPassed(pre)) c.FAIL_TO_PASS.push(id);
    } else if (post === 'failed' || post === 'error') {
      if (pre === 'passed') c.PASS_TO_FAIL.push(id);
      else if (notPassed(pre)) c.FAIL_TO_FAIL.push(id);
    }
  }
  for (const [id, pre] of before) if (pre === 'passed' && !after.has(id)) c.PASS_TO_FAIL.push(id);
  for (const list of Object.values(c)) list.sort();
  return c;
}

/** Messages of failed name lookups and unreachable networks, across runtimes. */
const NETWORK_SYMPTOMS =
  /^.*(Temporary failure in name resolution|Name or service not known|nodename nor servname|getaddrinfo (ENOTFOUND|EAI_AGAIN)|Could not resolve host|dial tcp: lookup|no such host|Network is unreachable|ENETUNREACH|failed to lookup address information).*$/m;

/** The first output line showing that a test wanted the network (test runs have none). */
export function networkSymptom(output: string): string | undefined {
  return NETWORK_SYMPTOMS.exec(output)?.[0]?.trim().slice(0, 300);
}

export interface Verdict {
  outcome: 'succeeded' | 'rejected';
  reason: string;
  message: string;
  FAIL_TO_PASS: string[];
  PASS_TO_PASS: string[];
  /** Candidates dropped because reruns disagreed. */
  flaky: string[];
  passToFail: string[];
}

/**
 * The verifier's decision over repeated runs: a test keeps its F2P/P2P label only if every
 * run agrees; PASS→FAIL must be consistent to reject (a flaky one is merely dropped).
 * `expected` are the labels the tests stage found; absent, they are derived from the runs.
 */
export function verifyRuns(
  pre: TestResults[],
  post: TestResults[],
  expected?: { FAIL_TO_PASS?: string[] | undefined; PASS_TO_PASS?: string[] | undefined },
): Verdict {
  const empty = (r: TestResults[]) => r.length === 0 || r.every((x) => x.size === 0);
  const base = { FAIL_TO_PASS: [], PASS_TO_PASS: [], flaky: [], passToFail: [] };
  if (empty(post)) {
    return {
      ...base,
      outcome: 'rejected',
      reason: 'NoTestsRan',
      message: 'no test results after the gold patch',
    };
  }
  const ids = new Set<string>();
  for (const r of [...pre, ...post]) for (const id of r.keys()) ids.add(id);
  const allPost = (id: string, ok: (s: string | undefined) => boolean) => post.every((r) => ok(r.get(id)));
  const allPre = (id: string, ok: (s: string | undefined) => boolean) => pre.every((r) => ok(r.get(id)));
  const passed = (s: string | undefined) => s === 'passed';

  const stableF2P = new Set([...ids].filter((id) => allPost(id, passed) && allPre(id, notPassed)));
  const stableP2P = new Set([...ids].filter((id) => allPost(id, passed) && allPre(id, passed)));
  const passToFail = [...ids].filter((id) => allPre(id, passed) && allPost(id, notPassed)).sort();

  const f2pCandidates =
    expected?.FAIL_TO_PASS ?? [...stableF2P].concat(flakyCandidates(ids, pre, post, 'f2p'));
  const p2pCandidates =
    expected?.PASS_TO_PASS ?? [...stableP2P].concat(flakyCandidates(ids, pre, post, 'p2p'));
  const F2P = f2pCandidates.filter((id) => stableF2P.has(id)).sort();
  const P2P = p2pCandidates.filter((id) => stableP2P.has(id)).sort();
  const flaky = [
    ...new Set([
      ...f2pCandidates.filter((id) => !stableF2P.has(id)),
      ...p2pCandidates.filter((id) => !stableP2P.has(id)),
    ]),
  ].sort();

  const summary = `F2P ${F2P.length}, P2P ${P2P.length}, flaky dropped ${flaky.length}`;
  if (passToFail.length > 0) {
    return {
      outcome: 'rejected',
      reason: 'PassToFail',
      message: `${passToFail.length} test(s) pass before and fail after the gold patch: ${passToFail.slice(0, 5).join(', ')}`,
      FAIL_TO_PASS: F2P,
      PASS_TO_PASS: P2P,
      flaky,
      passToFail,
    };
  }
  if (F2P.length === 0) {
    return {
      outcome: 'rejected',
      reason: 'NoFailToPass',
      message: `no test fails before and passes after the gold patch in every run (${summary})`,
      FAIL_TO_PASS: F2P,
      PASS_TO_PASS: P2P,
      flaky,
      passToFail,
    };
  }
  return {
    outcome: 'succeeded',
    reason: 'Verified',
    message: summary,
    FAIL_TO_PASS: F2P,
    PASS_TO_PASS: P2P,
    flaky,
    passToFail,
  };
}

/** Without expected labels: tests that looked F2P/P2P in some run pair but not in all. */
function flakyCandidates(
  ids: Set<string>,
  pre: TestResults[],
  post: TestResults[],
  kind: 'f2p' | 'p2p',
): string[] {
  return [...ids].filter(
    (id) =>
      post.some((r) => r.get(id) === 'passed') &&
      (kind === 'f2p' ? pre.some((r) => notPassed(r.get(id))) : pre.some((r) => r.get(id) === 'passed')) &&
      !(
        post.every((r) => r.get(id) === 'passed') &&
        (kind === 'f2p' ? pre.every((r) => notPassed(r.get(id))) : pre.every((r) => r.get(id) === 'passed'))
      ),
  );
}
