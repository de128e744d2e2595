import type { Language } from '../api/index.ts';
import { classifyPath, languageOfChange, type PathKind } from './paths.ts';

/** One file section of a unified git diff, verbatim, with what we know about it. */
export interface FileDiff {
  /** Path after the change (the old path for deletions). */
  path: string;
  oldPath: string | undefined;
  kind: PathKind;
  binary: boolean;
  added: number;
  deleted: number;
  /** The section as it appeared in the diff, from `diff --git` through its last hunk line. */
  text: string;
}

export interface SplitDiff {
  /** Gold patch: every non-test file (docs and lockfiles included, as SWE-bench does). */
  patch: string;
  testPatch: string;
  files: FileDiff[];
  /** Changed lines (added + deleted) over all files. */
  lines: number;
  language: Language | undefined;
}

/** Split a unified git diff into file sections (`diff --git` headers), keeping their text byte-exact. */
export function parseDiff(diff: string): FileDiff[] {
  const sections: string[] = [];
  let start = -1;
  let at = 0;
  while (at < diff.length) {
    const lineEnd = diff.indexOf('\n', at);
    const next = lineEnd === -1 ? diff.length : lineEnd + 1;
    if (diff.startsWith('diff --git ', at)) {
      if (start !== -1) sections.push(diff.slice(start, at));
      start = at;
    }
    at = next;
  }
  if (start !== -1) sections.push(diff.slice(start));
  return sections.map(parseSection);
}

function parseSection(text: string): FileDiff {
  const lines = text.split('\n');
  let oldPath: string | undefined;
  let newPath: string | undefined;
  let binary = false;
  let added = 0;
  let deleted = 0;
  let inHunks = false;
  for (const line of lines.slice(1)) {
    if (inHunks) {
      // Inside hunks every line is context/added/removed; "+++"/"---" here are content, not headers.
      if (line.startsWith('+')) added++;
      else if (line.startsWith('-')) deleted++;
      continue;
    }
    if (line.startsWith('@@')) inHunks = true;
    else if (line.startsWith('--- ')) oldPath = stripPrefix(line.slice(4), 'a/');
    else if (line.startsWith('+++ ')) newPath = stripPrefix(line.slice(4), 'b/');
    else if (line.startsWith('rename from ')) oldPath = unquote(line.slice(12));
    else if (line.startsWith('rename to ')) newPath = unquote(line.slice(10));
    else if (line.startsWith('copy from ')) oldPath = unquote(line.slice(10));
    else if (line.startsWith('copy to ')) newPath = unquote(line.slice(8));
    else if (line.startsWith('Binary files ') || line === 'GIT binary patch') binary = true;
  }
  const header = pathsFromHeader(lines[0] ?? '');
  oldPath ??= header.old;
  newPath ??= header.new;
  const path = newPath ?? oldPath ?? '';
  return {
    path,
    oldPath: oldPath !== undefined && oldPath !== path ? oldPath : undefined,
    kind: classifyPath(path),
    binary,
    added,
    deleted,
    text,
  };
}

/** `--- a/x` or `--- /dev/null` (with an optional tab-separated timestamp). */
function stripPrefix(raw: string, prefix: string): string | undefined {
  const name = unquote(raw.replace(/\t.*$/, ''));
  if (name === '/dev/null') return undefined;
  return name.startsWith(prefix) ? name.slice(prefix.length) : name;
}

/**
 * `diff --git a/x b/x` for sections without ---/+++ (binary, mode-only, pure renames).
 * Paths with spaces are ambiguous here; without a rename both halves are equal, so split in the middle.
 */
function pathsFromHeader(header: string): { old: string | undefined; new: string | undefined } {
  const rest = header.slice('diff --git '.length);
  const quoted = /^"((?:[^"\\]|\\.)*)" "((?:[^"\\]|\\.)*)"$/.exec(rest);
  if (quoted) return { old: dropAB(unquote(`"${quoted[1]}"`)), new: dropAB(unquote(`"${quoted[2]}"`)) };
  const half = (rest.length - 1) / 2;
  if (Number.isInteger(half) && rest[half] === ' ' && rest.slice(2, half) === rest.slice(half + 3)) {
    return { old: rest.slice(2, half), new: rest.slice(half + 3) };
  }
  const m = /^a\/(.*) b\/(.*)$/.exec(rest);
  return { old: m?.[1], new: m?.[2] };
}

function dropAB(p: string): string {
  return p.replace(/^[ab]\//, '');
}

/** Git C-style quoting ("a/t\303\251st \"x\""), used for unusual characters unless core.quotePath=false. */
function unquote(raw: string): string {
  if (!raw.startsWith('"') || !raw.endsWith('"')) return raw;
  const bytes: number[] = [];
  const body = raw.slice(1, -1);
  const escapes: Record<string, number> = { n: 10, t: 9, r: 13, a: 7, b: 8, f: 12, v: 11, '\\': 92, '"': 34 };
  for (let i = 0; i < body.length; i++) {
    const c = body[i]!;
    if (c !== '\\') {
      bytes.push(...Buffer.from(c, 'utf8'));
      continue;
    }
    const octal = /^[0-7]{3}/.exec(body.slice(i + 1));
    if (octal) {
      bytes.push(Number.parseInt(octal[0], 8));
      i += 3;
    } else {
      const e = body[i + 1] ?? '';
      bytes.push(escapes[e] ?? e.charCodeAt(0));
      i += 1;
    }
  }
  return Buffer.from(bytes).toString('utf8');
}

/** Split a PR diff into gold patch and test patch, with the counts the candidate filter needs. */
export function splitDiff(diff: string): SplitDiff {
  const files = parseDiff(diff);
  const patch: string[] = [];
  const testPatch: string[] = [];
  let lines = 0;
  for (const f of files) {
    (f.kind === 'test' ? testPatch : patch).push(ensureNewline(f.text));
    lines += f.added + f.deleted;
  }
  return {
    patch: patch.join(''),
    testPatch: testPatch.join(''),
    files,
    lines,
    language: languageOfChange(files),
  };
}

function ensureNewline(s: string): string {
  return s.endsWith('\n') ? s : `${s}\n`;
}

/** What kind of change a diff is, for the reasons the candidate filter records. */
export type ChangeShape = 'empty' | 'binaryOnly' | 'docsOrLockfileOnly' | 'noCode' | 'code';

export function changeShape(files: readonly FileDiff[]): ChangeShape {
  if (files.length === 0) return 'empty';
  if (files.every((f) => f.binary)) return 'binaryOnly';
  const nonTest = files.filter((f) => f.kind !== 'test');
  if (nonTest.length === 0) return 'noCode';
  if (nonTest.some((f) => f.kind === 'code' && !f.binary)) return 'code';
  if (nonTest.every((f) => f.kind === 'docs' || f.kind === 'lockfile' || f.binary))
    return 'docsOrLockfileOnly';
  return 'noCode'; // CI and repository configuration: nothing an agent could be asked to implement
}
