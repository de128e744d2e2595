/**
 * Does a problem statement leak the gold patch? Pure: the caller supplies whether an
 * identifier already exists at the base commit (a fix may reuse existing names freely).
 * Checks (1) any non-trivial added line of the gold patch appearing verbatim (whitespace-
 * insensitive) and (2) identifiers the fix introduces that nothing else in the repo has.
 */
export interface LeakFinding {
  kind: 'addedLine' | 'newIdentifier';
  text: string;
}

export interface LeakOptions {
  /** Check new identifiers too (not for issue text, which may legitimately name a missing API). */
  identifiers?: boolean;
  /**
   * The interface the tests use (names on the test patch's added lines): a statement may name
   * what the FAIL_TO_PASS tests import or call — a feature cannot be solved without it — as
   * long as it does not state the fix.
   */
  interfaceNames?: ReadonlySet<string>;
  existsAtBase?: (identifier: string) => boolean;
}

const KEYWORDS = new Set(
  'return function const while break continue import export default class static public private protected async await yield lambda raise throw except finally assert nonlocal global interface struct package extends implements typeof instanceof'.split(
    ' ',
  ),
);

export function addedAndOtherLines(patch: string): { added: string[]; other: string[] } {
  const added: string[] = [];
  const other: string[] = [];
  for (const line of patch.split('\n')) {
    if (
      line.startsWith('+++') ||
      line.startsWith('---') ||
      line.startsWith('diff --git') ||
      line.startsWith('@@')
    ) {
      other.push(line.replace(/^@@.*?@@/, ''));
      continue;
    }
    if (line.startsWith('+')) added.push(line.slice(1));
    else if (line.startsWith('-') || line.startsWith(' ')) other.push(line.slice(1));
  }
  return { added, other };
}

const norm = (s: string) => s.replace(/\s+/g, ' ').trim();
const identifiers = (s: string) => s.match(/[A-Za-z_][A-Za-z0-9_]*/g) ?? [];

/** An added line worth checking: long enough and more than one keyword or brace. */
export function isNonTrivialLine(line: string): boolean {
  const n = norm(line);
  if (n.length < 12) return false;
  if (/^(#|\/\/|\/\*|\*)/.test(n)) return false; // comments may well restate the issue
  const words = identifiers(n).filter((w) => !KEYWORDS.has(w));
  return words.length >= 2;
}

/** Names that look like code rather than English: snake_case, camelCase, digits, or long. */
function distinctive(id: string): boolean {
  return (
    id.length >= 4 &&
    !KEYWORDS.has(id) &&
    (/_/.test(id.slice(1)) || /[a-z][A-Z]/.test(id) || /\d/.test(id) || id.length >= 12)
  );
}

/** Identifiers on the added lines of a test patch: what the tests import, call and construct. */
export function testInterfaceNames(testPatch: string): Set<string> {
  return new Set(addedAndOtherLines(testPatch).added.flatMap(identifiers));
}

export function findLeaks(statement: string, goldPatch: string, opts: LeakOptions = {}): LeakFinding[] {
  const findings: LeakFinding[] = [];
  const { added, other } = addedAndOtherLines(goldPatch);
  const haystack = norm(statement);
  const seen = new Set<string>();
  for (const line of added) {
    const n = norm(line);
    if (!isNonTrivialLine(n) || seen.has(n)) continue;
    seen.add(n);
    if (haystack.includes(n)) findings.push({ kind: 'addedLine', text: n });
  }
  if (opts.identifiers !== false) {
    const known = new Set(other.flatMap(identifiers));
    const fresh = new Set(added.flatMap(identifiers).filter((id) => !known.has(id) && distinctive(id)));
    const words = new Set(identifiers(statement));
    for (const id of [...fresh].sort()) {
      if (words.has(id) && !(opts.existsAtBase?.(id) ?? false) && !opts.interfaceNames?.has(id))
        findings.push({ kind: 'newIdentifier', text: id });
    }
  }
  return findings;
}
