import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { languageOfPath, mutationSyntaxOf } from '../languages/index.ts';
import { type Mutant, sameUpToBlanks } from '../languages/mutation.ts';
import { sh, shellQuote } from './exec.ts';

/**
 * Mutants told apart before any test runs: `equivalent` (the same program as the gold patch's:
 * no test can kill it, so it must not count as a survivor) or `not-compiling` (the language's
 * own parser rejects it while it accepts the original). Undefined: a real mutant, or no tool
 * to tell. Trivial checks only: Python's AST and bytecode, gofmt's canonical form, and for
 * every language a change of blanks alone outside strings and comments.
 */
export type StaticVerdict = 'equivalent' | 'not-compiling' | undefined;

/**
 * Python: the two sources parse to the same AST (ast.dump drops positions and comments), or
 * compile to the same bytecode, constants and names (the compiler folds constant expressions).
 * Reads [[original, mutated], ...] as JSON; prints per pair `same`, `different`, `unknown` (the
 * original does not parse with this Python) or `mutant-invalid` (the mutant alone does not).
 */
const PYTHON_CHECK = `
import ast, json, sys, types
def key(c):
    consts = tuple(key(k) if isinstance(k, types.CodeType) else (type(k).__name__, repr(k)) for k in c.co_consts)
    return (c.co_code, c.co_names, c.co_varnames, consts)
def verdict(a, b):
    try:
        ta = ast.parse(a)
    except SyntaxError:
        return "unknown"
    try:
        tb = ast.parse(b)
    except SyntaxError:
        return "mutant-invalid"
    same = ast.dump(ta) == ast.dump(tb) or key(compile(a, "m", "exec")) == key(compile(b, "m", "exec"))
    return "same" if same else "different"
for a, b in json.load(open(sys.argv[1], encoding="utf-8")):
    print(verdict(a, b))
`;

/** Go: gofmt's output of both (canonical formatting; it fails on a syntax error). */
const GO_CHECK = `
a=$(gofmt < "$1" 2>/dev/null) || { echo unknown; exit; }
b=$(gofmt < "$2" 2>/dev/null) || { echo mutant-invalid; exit; }
[ "$a" = "$b" ] && echo same || echo different
`;

function verdictOf(printed: string | undefined): StaticVerdict {
  return printed === 'same' ? 'equivalent' : printed === 'mutant-invalid' ? 'not-compiling' : undefined;
}

/** A mutant with its whole file before and after. */
export interface MutantText {
  mutant: Mutant;
  original: string;
  mutated: string;
}

/** The static verdict on each mutant, in order (one Python process for all Python files). */
export async function staticVerdicts(items: readonly MutantText[], cwd: string): Promise<StaticVerdict[]> {
  const out: StaticVerdict[] = items.map(({ mutant, original }) => {
    const syntax = mutationSyntaxOf(mutant.file);
    const before = original.split('\n').slice(0, mutant.line - 1);
    return syntax && sameUpToBlanks(mutant, syntax, before) ? 'equivalent' : undefined;
  });
  const open = (language: string) =>
    items.flatMap((it, i) =>
      out[i] === undefined && languageOfPath(it.mutant.file) === language ? [i] : [],
    );
  const python = open('python');
  const go = open('go');
  if (python.length === 0 && go.length === 0) return out;
  const dir = await mkdtemp(path.join(os.tmpdir(), 'scaleswe-equiv-'));
  try {
    if (python.length > 0) {
      const pairs = path.join(dir, 'pairs.json');
      await writeFile(pairs, JSON.stringify(python.map((i) => [items[i]!.original, items[i]!.mutated])));
      const r = await sh(`python3 -c ${shellQuote(PYTHON_CHECK)} ${shellQuote(pairs)}`, {
        cwd,
        timeoutMs: 120_000,
      });
      const lines = r.code === 0 ? r.output.trim().split('\n') : [];
      if (lines.length === python.length) for (const [k, i] of python.entries()) out[i] = verdictOf(lines[k]);
    }
    for (const i of go) {
      const a = path.join(dir, `${i}.original`);
      const b = path.join(dir, `${i}.mutant`);
      await writeFile(a, items[i]!.original);
      await writeFile(b, items[i]!.mutated);
      const r = await sh(`bash -c ${shellQuote(GO_CHECK)} check ${shellQuote(a)} ${shellQuote(b)}`, {
        cwd,
        timeoutMs: 60_000,
      });
      if (r.code === 0) out[i] = verdictOf(r.output.trim().split('\n').at(-1));
    }
    return out;
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
