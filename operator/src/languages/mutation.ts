/**
 * A diff-level mutator: mutants of the lines a gold patch adds or changes, one edit of one line
 * each, to be applied on top of the gold patch. Pure: a unified diff in, mutants out. What is a
 * string, a comment, a boolean or a deletable statement comes from each language module's
 * `mutation` syntax (LanguageModule.mutation); files of languages without one get no mutants.
 *
 * Operators: comparison boundaries (`<`↔`<=`, `>`↔`>=`), equality (`==`↔`!=`, `===`↔`!==`),
 * arithmetic (`+`↔`-`), logical (`&&`↔`||`, `and`↔`or`), boolean literals, integer constants
 * ±1, `return x` → the language's neutral value, and deleted statement lines (calls and
 * assignments; Python keeps the block valid with `pass`). Binary operators are recognised only
 * with blanks on both sides (as every formatter writes them), which keeps generics (`Vec<T>`),
 * arrows, unary minus, `++` and `+=` out.
 */

/** How a language's lines are read for mutation (LanguageModule.mutation). */
export interface MutationSyntax {
  /** Line-comment prefix. */
  readonly lineComment: string;
  /** Characters that open and close a one-line string literal. */
  readonly quotes: string;
  /** The boolean literals, [true, false]. */
  readonly booleans: readonly [string, string];
  /** The logical operators, [and, or]. */
  readonly logical: readonly [string, string];
  /** Extra equality pairs beyond `==`/`!=` (JS: `===`/`!==`). */
  readonly strictEquality?: boolean;
  /** What `return x` returns instead; undefined: no such mutant (the type decides the value). */
  readonly neutralReturn?: string;
  /** A deleted statement line becomes this (after the line's indentation); '' leaves it blank. */
  readonly deletedStatement: string;
  /** Lines (trimmed code) never mutated: imports, package clauses, decorators, signatures. */
  readonly skip: RegExp;
  /**
   * Delimiters [open, close] of block comments and multi-line strings (docstrings, template
   * literals, raw strings), longest first: what lies between them is never mutated.
   */
  readonly blocks?: readonly (readonly [string, string])[];
}

export const MUTANT_KINDS = [
  'boundary',
  'equality',
  'logical',
  'boolean',
  'arithmetic',
  'return',
  'constant',
  'delete',
] as const;
export type MutantKind = (typeof MUTANT_KINDS)[number];

export interface Mutant {
  /** Path in the repository (the diff's new side). */
  file: string;
  /** 1-based line number in the file after the gold patch. */
  line: number;
  kind: MutantKind;
  /** The line as the gold patch leaves it. */
  original: string;
  /** The line in the mutant. */
  mutated: string;
}

/** A line the gold patch adds (or changes), with what the hunk shows before it. */
export interface AddedLine {
  file: string;
  line: number;
  text: string;
  /** The new-side lines of its hunk before it (context and added), nearest last. */
  before: readonly string[];
}

/** Lines each file gains in a unified diff (new-side numbering); deleted files have none. */
export function addedLines(diff: string): AddedLine[] {
  const out: AddedLine[] = [];
  let file: string | undefined;
  let line = 0;
  let hunkLines: string[] = [];
  let inHunk = false;
  for (const raw of diff.split('\n')) {
    if (raw.startsWith('diff --git ')) {
      file = undefined;
      inHunk = false;
      continue;
    }
    if (!inHunk && raw.startsWith('+++ ')) {
      const p = raw.slice(4).replace(/\t.*$/, '');
      file = p === '/dev/null' ? undefined : p.replace(/^b\//, '');
      continue;
    }
    const hunk = /^@@ -\d+(?:,\d+)? \+(\d+)(?:,\d+)? @@/.exec(raw);
    if (hunk) {
      line = Number(hunk[1]);
      hunkLines = [];
      inHunk = true;
      continue;
    }
    if (!inHunk || file === undefined) continue;
    if (raw.startsWith('+')) {
      const text = raw.slice(1);
      out.push({ file, line, text, before: hunkLines.slice() });
      hunkLines.push(text);
      line++;
    } else if (raw.startsWith(' ') || raw === '') {
      hunkLines.push(raw.slice(1));
      line++;
    } else if (raw.startsWith('-') || raw.startsWith('\\')) {
      // removed line or "\ No newline at end of file": not in the new file
    } else {
      inHunk = false;
    }
  }
  return out;
}

const MASK = '\u0000';

/**
 * The line with string-literal contents and comments blanked (same length), so operators are
 * only found in code. `open` is the closing delimiter of a block comment or multi-line string
 * the line starts inside (from the lines before it); the result's `open` is the one it ends in.
 * A one-line string left open at the end of the line is blanked to the end.
 */
export function scanLine(
  line: string,
  syntax: MutationSyntax,
  open?: string,
): { code: string; open: string | undefined } {
  let out = '';
  let quote: string | undefined;
  let close = open;
  for (let i = 0; i < line.length; ) {
    const c = line[i]!;
    if (close !== undefined) {
      if (line.startsWith(close, i)) {
        out += MASK.repeat(close.length);
        i += close.length;
        close = undefined;
      } else if (c === '\\' && close !== '*/') {
        out += MASK.repeat(Math.min(2, line.length - i));
        i += 2;
      } else {
        out += MASK;
        i++;
      }
    } else if (quote !== undefined) {
      if (c === '\\' && i + 1 < line.length) {
        out += MASK + MASK;
        i += 2;
      } else {
        out += c === quote ? c : MASK;
        if (c === quote) quote = undefined;
        i++;
      }
    } else {
      const block = (syntax.blocks ?? []).find(([o]) => line.startsWith(o, i));
      if (block) {
        out += MASK.repeat(block[0].length);
        i += block[0].length;
        close = block[1];
      } else if (line.startsWith(syntax.lineComment, i)) {
        return { code: out + MASK.repeat(line.length - i), open: undefined };
      } else {
        if (syntax.quotes.includes(c)) quote = c;
        out += c;
        i++;
      }
    }
  }
  return { code: out.padEnd(line.length, MASK).slice(0, line.length), open: close };
}

/** scanLine without state: a line on its own. */
export function codeOf(line: string, syntax: MutationSyntax): string {
  return scanLine(line, syntax).code;
}

/** Where the lines leave the scanner: inside which block comment or multi-line string, if any. */
function openAfter(lines: readonly string[], syntax: MutationSyntax): string | undefined {
  let open: string | undefined;
  for (const l of lines) open = scanLine(l, syntax, open).open;
  return open;
}

/** Brackets of the code balance on the line (no multi-line expression starts or ends here). */
function balanced(code: string): boolean {
  let depth = 0;
  for (const c of code) {
    if ('([{'.includes(c)) depth++;
    else if (')]}'.includes(c) && --depth < 0) return false;
  }
  return depth === 0;
}

/** An expression statement: a call or an assignment to a name or field, nothing declared. */
const STATEMENT =
  /^(await\s+)?[A-Za-z_$][\w$]*(\.[A-Za-z_$][\w$]*|\[[^\]]*\])*(\s*(\+|-|\*|\/|%|\||&|\^|<<|>>)?=\s*[^=\s].*|\(.*\)\??)\s*;?$/;
/** A previous line that leaves its expression open: this line continues it. */
const CONTINUES = /([([,\\=+\-*%&|^<>.]|\band|\bor|\bnot)\s*$/;

const SWAPS: readonly { kind: MutantKind; pattern: RegExp; swap: Record<string, string> }[] = [
  {
    kind: 'boundary',
    pattern: /(?<=\s)(<=|>=|<|>)(?=\s)/g,
    swap: { '<': '<=', '<=': '<', '>': '>=', '>=': '>' },
  },
  { kind: 'equality', pattern: /(?<=\s)(===|!==|==|!=)(?=\s)/g, swap: { '==': '!=', '!=': '==' } },
  { kind: 'arithmetic', pattern: /(?<=\s)([+-])(?=\s)/g, swap: { '+': '-', '-': '+' } },
];

/** Every mutant of one line, in MUTANT_KINDS order then by position. */
export function mutantsOfLine(added: AddedLine, syntax: MutationSyntax): Mutant[] {
  const { text } = added;
  const code = scanLine(text, syntax, openAfter(added.before, syntax)).code;
  const trimmed = code.replaceAll(MASK, '').trim();
  if (trimmed === '' || syntax.skip.test(code.trim())) return [];
  const out: Mutant[] = [];
  const push = (kind: MutantKind, mutated: string) => {
    if (mutated !== text && !out.some((m) => m.mutated === mutated))
      out.push({ file: added.file, line: added.line, kind, original: text, mutated });
  };
  const replaceAt = (at: number, length: number, by: string) =>
    text.slice(0, at) + by + text.slice(at + length);
  const swaps = [
    ...SWAPS,
    {
      kind: 'logical' as const,
      pattern: new RegExp(
        syntax.logical
          .map((op) => (/^\w+$/.test(op) ? `\\b${op}\\b` : `(?<=\\s)${escapeRegExp(op)}(?=\\s)`))
          .join('|'),
        'g',
      ),
      swap: { [syntax.logical[0]]: syntax.logical[1], [syntax.logical[1]]: syntax.logical[0] },
    },
    {
      kind: 'boolean' as const,
      pattern: new RegExp(`\\b(${syntax.booleans.join('|')})\\b`, 'g'),
      swap: { [syntax.booleans[0]]: syntax.booleans[1], [syntax.booleans[1]]: syntax.booleans[0] },
    },
  ];
  const strict: Record<string, string> = syntax.strictEquality ? { '===': '!==', '!==': '===' } : {};
  const found: { kind: MutantKind; at: number; mutated: string }[] = [];
  for (const { kind, pattern, swap } of swaps) {
    for (const m of code.matchAll(pattern)) {
      const by = swap[m[0]] ?? (kind === 'equality' ? strict[m[0]] : undefined);
      if (by !== undefined) found.push({ kind, at: m.index, mutated: replaceAt(m.index, m[0].length, by) });
    }
  }
  for (const m of code.matchAll(/(?<![\w.$])\d+(?![\w.])/g)) {
    const n = Number(m[0]);
    found.push({ kind: 'constant', at: m.index, mutated: replaceAt(m.index, m[0].length, String(n + 1)) });
    if (n > 0)
      found.push({ kind: 'constant', at: m.index, mutated: replaceAt(m.index, m[0].length, String(n - 1)) });
  }
  found.sort((a, b) => MUTANT_KINDS.indexOf(a.kind) - MUTANT_KINDS.indexOf(b.kind) || a.at - b.at);
  for (const f of found) push(f.kind, f.mutated);

  const indent = /^\s*/.exec(text)![0];
  const previous = added.before.at(-1);
  const continued =
    previous !== undefined &&
    CONTINUES.test(
      scanLine(previous, syntax, openAfter(added.before.slice(0, -1), syntax))
        .code.replaceAll(MASK, '')
        .trimEnd(),
    );
  if (!continued && balanced(trimmed)) {
    const ret = /^return\s+(.+?)(;?)$/.exec(trimmed);
    if (ret && syntax.neutralReturn !== undefined && ret[1] !== syntax.neutralReturn)
      push('return', `${indent}return ${syntax.neutralReturn}${ret[2]}`);
    if (STATEMENT.test(trimmed)) push('delete', `${indent}${syntax.deletedStatement}`);
  }
  return out;
}

function escapeRegExp(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/**
 * Mutants of a gold patch, at most `max`: every changed line gets its first mutant before any
 * gets a second (round robin over lines in diff order), so the cap spreads over the patch.
 * `syntaxOf` picks the file's language syntax; undefined skips the file.
 */
export function mutantsOfPatch(
  diff: string,
  syntaxOf: (file: string) => MutationSyntax | undefined,
  max: number,
): Mutant[] {
  const perLine = addedLines(diff)
    .map((a) => {
      const syntax = syntaxOf(a.file);
      return syntax ? mutantsOfLine(a, syntax) : [];
    })
    .filter((ms) => ms.length > 0);
  const out: Mutant[] = [];
  for (let round = 0; out.length < max && perLine.some((ms) => ms.length > round); round++)
    for (const ms of perLine) if (ms[round] && out.length < max) out.push(ms[round]!);
  return out;
}

/** The file's content with the mutant applied; undefined when the line is not as expected. */
export function applyMutant(content: string, mutant: Mutant): string | undefined {
  const lines = content.split('\n');
  if (lines[mutant.line - 1] !== mutant.original) return undefined;
  lines[mutant.line - 1] = mutant.mutated;
  return lines.join('\n');
}

/** One line naming the mutant, e.g. `pkg/a.py:12 boundary: if x > y: → if x >= y:`. */
export function describeMutant(m: Mutant): string {
  return `${m.file}:${m.line} ${m.kind}: ${m.original.trim()} → ${m.mutated.trim() || '(deleted)'}`;
}

/**
 * The mutant changes only blanks outside strings and comments: the same program, whatever
 * the language (a mutant that is trivially equivalent). Conservative: any change inside a
 * string or comment counts as a change. Pure.
 */
export function sameUpToBlanks(m: Mutant, syntax: MutationSyntax, before: readonly string[] = []): boolean {
  const open = openAfter(before, syntax);
  const normal = (line: string) => {
    const code = scanLine(line, syntax, open).code;
    let out = '';
    for (let i = 0; i < line.length; i++)
      if (code[i] === MASK) out += line[i];
      else if (!/\s/.test(line[i]!)) out += line[i];
    return out;
  };
  return normal(m.original) === normal(m.mutated);
}

/** The mutant as a unified diff on top of the gold patch (what TestAgent is shown). Pure. */
export function mutantDiff(m: Mutant): string {
  return `--- a/${m.file}\n+++ b/${m.file}\n@@ -${m.line} +${m.line} @@\n-${m.original}\n+${m.mutated}\n`;
}
