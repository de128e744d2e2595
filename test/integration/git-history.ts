// Real git repositories of squash-merged PRs, written with git fast-import so thousands of PRs
// take a second. The operator mines them with the real git source.
import { execFileSync, spawnSync } from 'node:child_process';

/**
 * fix: changes code and its test (a candidate); docs: only a README (rejected by the filter as
 * DocsOrLockfileOnly); untested: code without a test (NoTestsAndNoLlm when no llm is set).
 */
export type PrKind = 'fix' | 'docs' | 'untested';

export interface HistoryPr {
  number: number;
  kind?: PrKind;
  /** Commit (= merge) time, seconds since the epoch; default one minute after the previous. */
  time?: number;
  /** Lines of comment added to its code file: a PR of real size (tens of KB of patch). */
  padLines?: number;
}

const who = (t: number) => `Dev <dev@example.com> ${t} +0000`;
const data = (s: string) => `data ${Buffer.byteLength(s)}\n${s}\n`;
const inline = (path: string, content: string) => `M 100644 inline ${path}\n${data(content)}`;

function filesOf({ number: k, kind = 'fix', padLines = 0 }: HistoryPr): string {
  if (kind === 'docs') return inline('README.md', `# fixture\n\nNotes of PR ${k}.\n`);
  const pad = Array.from(
    { length: padLines },
    (_, i) => `# ${i}: ${'why f returns what it does; '.repeat(3)}\n`,
  );
  const code = inline(`pkg/m${k}.py`, `def f():\n    return ${k}\n${pad.join('')}`);
  if (kind === 'untested') return code;
  return (
    code + inline(`tests/test_m${k}.py`, `from pkg.m${k} import f\n\ndef test_f():\n    assert f() == ${k}\n`)
  );
}

/**
 * Writes `prs` onto refs/heads/main of the bare repository `dir`: creates it (with an initial
 * import) when `append` is false, else continues its history.
 */
export function writeHistory(
  dir: string,
  prs: readonly HistoryPr[],
  opts: { append?: boolean; startTime?: number } = {},
): string {
  const out: string[] = [];
  let time = opts.startTime ?? 1_700_000_000;
  let first = true;
  const commit = (message: string, files: string, at?: number) => {
    time = at ?? time + 60;
    // Later commits of the stream continue the in-memory branch; the first of an append starts
    // from the ref on disk (fast-import's documented `^0` idiom).
    const from = first && opts.append ? 'from refs/heads/main^0\n' : '';
    first = false;
    out.push(
      `commit refs/heads/main\nauthor ${who(time)}\ncommitter ${who(time)}\n${data(message)}${from}${files}`,
    );
  };
  if (!opts.append) {
    execFileSync('git', ['init', '--quiet', '--bare', dir]);
    commit('Initial import', inline('pyproject.toml', '[project]\nname = "fixture"\n'));
  }
  for (const pr of prs)
    commit(
      `Fix f${pr.number} off by one (#${pr.number})\n\nf${pr.number} returned the wrong value.`,
      filesOf(pr),
      pr.time,
    );
  const imported = spawnSync('git', ['--git-dir', dir, 'fast-import', '--quiet'], { input: out.join('') });
  if (imported.status !== 0) throw new Error(imported.stderr.toString());
  if (!opts.append) execFileSync('git', ['--git-dir', dir, 'symbolic-ref', 'HEAD', 'refs/heads/main']);
  return dir;
}

/** `count` squash-merged PRs #1..#count, each changing code and its test. */
export function createSquashHistory(dir: string, count: number): string {
  return writeHistory(
    dir,
    Array.from({ length: count }, (_, i) => ({ number: i + 1 })),
  );
}
