// A real git repository with `count` squash-merged PRs (each changes code and its test), written
// with git fast-import so thousands of PRs take a second. The operator mines it with the real
// git source.
import { execFileSync, spawnSync } from 'node:child_process';

export function createSquashHistory(dir: string, count: number): string {
  const out: string[] = [];
  let mark = 0;
  let time = 1_700_000_000;
  const who = (t: number) => `Dev <dev@example.com> ${t} +0000`;
  const data = (s: string) => `data ${Buffer.byteLength(s)}\n${s}\n`;
  const inline = (path: string, content: string) => `M 100644 inline ${path}\n${data(content)}`;
  const commit = (message: string, files: string) => {
    mark++;
    time += 60;
    out.push(
      `commit refs/heads/main\nmark :${mark}\nauthor ${who(time)}\ncommitter ${who(time)}\n${data(message)}` +
        (mark > 1 ? `from :${mark - 1}\n` : '') +
        files,
    );
  };
  commit('Initial import', inline('pyproject.toml', '[project]\nname = "fixture"\n'));
  for (let k = 1; k <= count; k++) {
    commit(
      `Fix f${k} off by one (#${k})\n\nf${k} returned the wrong value.`,
      inline(`pkg/m${k}.py`, `def f():\n    return ${k}\n`) +
        inline(`tests/test_m${k}.py`, `from pkg.m${k} import f\n\ndef test_f():\n    assert f() == ${k}\n`),
    );
  }
  execFileSync('git', ['init', '--quiet', '--bare', dir]);
  const imported = spawnSync('git', ['--git-dir', dir, 'fast-import', '--quiet'], { input: out.join('') });
  if (imported.status !== 0) throw new Error(imported.stderr.toString());
  execFileSync('git', ['--git-dir', dir, 'symbolic-ref', 'HEAD', 'refs/heads/main']);
  return dir;
}
