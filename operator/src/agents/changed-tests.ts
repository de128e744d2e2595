/**
 * Which test ids a test patch adds or changes (SWE-bench-Java / Multi-SWE-bench practice:
 * the tests the PR's changed test files and functions define). Pure and language-neutral:
 * names come from definitions on added lines and from hunk headers (git's function
 * context), and are matched against the segments of a parser's test id.
 */

export interface ChangedTests {
  /** Paths (after the change) of every file the patches touch. */
  files: Set<string>;
  /** Files the patches create: every test they hold is new. */
  newFiles: Set<string>;
  /** Functions, classes and test titles defined or changed by the patches. */
  names: Set<string>;
}

// Definitions across the languages we grade: python def/class, go func, rust fn,
// java/kotlin methods and classes, js/ts test titles and functions.
const DEFINITIONS = [
  /^\s*(?:async\s+)?def\s+([A-Za-z_]\w*)/,
  /^\s*(?:(?:public|protected|private|abstract|final|static|data|open|internal)\s+)*(?:class|object|interface)\s+([A-Za-z_]\w*)/,
  /^func\s+(?:\([^)]*\)\s*)?([A-Za-z_]\w*)/,
  /^\s*(?:pub(?:\([^)]*\))?\s+)?(?:async\s+)?(?:unsafe\s+)?fn\s+([A-Za-z_]\w*)/,
  /^\s*(?:(?:public|protected|private|static|final|synchronized|override|suspend)\s+)*(?:void|fun)\s+([A-Za-z_]\w*)\s*\(/,
  /^\s*(?:export\s+)?(?:async\s+)?function\s*\*?\s*([A-Za-z_$][\w$]*)/,
];
const TITLE =
  /\b(?:it|test|describe|context|suite)(?:\.(?:only|each\([^)]*\)|concurrent))?\(\s*(['"`])(.+?)\1/;

function definedNames(line: string): string[] {
  const out: string[] = [];
  for (const re of DEFINITIONS) {
    const m = re.exec(line);
    if (m?.[1]) out.push(m[1]);
  }
  const t = TITLE.exec(line);
  if (t?.[2]) out.push(t[2]);
  return out;
}

export function changedTests(patches: readonly string[]): ChangedTests {
  const files = new Set<string>();
  const newFiles = new Set<string>();
  const names = new Set<string>();
  for (const patch of patches) {
    let current = '';
    let created = false;
    let inHunk = false;
    // The definition the next changed line belongs to: the hunk header's function first,
    // then each definition the hunk passes (context or changed).
    let owner: string[] = [];
    // Added decorators and annotations belong to the definition that follows them.
    let pending = false;
    for (const line of patch.split('\n')) {
      if (line.startsWith('diff --git ')) {
        current = /^diff --git a\/\S+ b\/(\S+)$/.exec(line)?.[1] ?? '';
        if (current) files.add(current);
        created = false;
        inHunk = false;
      } else if (!inHunk && line.startsWith('--- /dev/null')) created = true;
      else if (!inHunk && line.startsWith('+++ ')) {
        if (created && current) newFiles.add(current);
      } else if (line.startsWith('@@')) {
        inHunk = true;
        owner = definedNames(line.replace(/^@@[^@]*@@\s?/, ''));
        pending = false;
      } else if (inHunk && /^[ +-]/.test(line)) {
        const text = line.slice(1);
        const changedLine = line[0] !== ' ';
        const defs = definedNames(text);
        if (defs.length > 0) {
          owner = defs;
          if (changedLine || pending) for (const n of defs) names.add(n);
          pending = false;
        } else if (!text.trim()) {
          // Blank lines separate definitions: they change none.
        } else if (!changedLine) {
          pending = false;
        } else if (/^\s*(@|#\[)/.test(text)) pending = true;
        else for (const n of owner) names.add(n);
      }
    }
  }
  return { files, newFiles, names };
}

/** `a/b.py::K::t[x]`, `file > describe > title`, `pkg/TestX/sub`, `mod::t`, `com.x.KTest::t`. */
function segments(id: string): string[] {
  return id.split(/::| > |\//).flatMap((s) => [s, ...(s.includes('.') ? s.split('.') : [])]);
}

const FILE_LIKE = /\.[A-Za-z]{1,5}$/;

/** Does this test id belong to the tests the patches add or change? */
export function isChangedTest(id: string, changed: ChangedTests): boolean {
  // Ids that lead with a file (pytest, jest, vitest) must name one of the patched files.
  const head = id.split(/::| > /)[0] ?? '';
  const leadsWithFile = (id.includes('::') || id.includes(' > ')) && FILE_LIKE.test(head);
  if (leadsWithFile && !changed.files.has(head)) return false;
  if (leadsWithFile && changed.newFiles.has(head)) return true;
  const segs = segments(id);
  for (const f of changed.newFiles) {
    // A new JUnit class file: its class name is a segment of the id (`com.x.KTest::t`).
    const base = f
      .split('/')
      .pop()!
      .replace(/\.[^.]+$/, '');
    if (segs.includes(base)) return true;
  }
  return segs.some((s) => {
    const bare = s.replace(/[[(].*$/, ''); // parametrized: `test_x[1]`, `testX(int)[2]`
    return changed.names.has(s) || changed.names.has(bare);
  });
}
