// scripts/env.sh is sourced, also by hand into an interactive shell: it must leave that shell's
// options and working directory alone (it used to `set -euo pipefail` there, so a later
// `scaleswe` exit 2 or 3 closed the user's shell). The scripts keep stopping on errors.
import { spawnSync } from 'node:child_process';
import {
  chmodSync,
  copyFileSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  utimesSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';

const REPO = join(import.meta.dirname, '../..');
const scratch = mkdtempSync(join(tmpdir(), 'scaleswe-envsh-'));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

/**
 * A checkout with env.sh and installed packages (a stub node), nothing real: sourcing it never
 * runs npm unless `stale` makes the lock newer than the install; then `npm` is a stub that
 * records its working directory and fails.
 */
function fakeCheckout(name: string, stale: boolean): string {
  const root = join(scratch, name);
  mkdirSync(join(root, 'scripts'), { recursive: true });
  mkdirSync(join(root, 'node_modules', '.bin'), { recursive: true });
  mkdirSync(join(root, 'stub-bin'));
  copyFileSync(join(REPO, 'scripts', 'env.sh'), join(root, 'scripts', 'env.sh'));
  writeFileSync(join(root, 'node_modules', '.bin', 'node'), '#!/bin/sh\n');
  chmodSync(join(root, 'node_modules', '.bin', 'node'), 0o755);
  writeFileSync(join(root, 'stub-bin', 'npm'), `#!/bin/sh\npwd > "${join(root, 'npm-ran-in')}"\nexit 1\n`);
  chmodSync(join(root, 'stub-bin', 'npm'), 0o755);
  writeFileSync(join(root, 'package-lock.json'), '{}');
  writeFileSync(join(root, 'node_modules', '.package-lock.json'), '{}');
  const [older, newer] = [new Date('2026-01-01'), new Date('2026-01-02')];
  utimesSync(join(root, 'package-lock.json'), stale ? newer : older, stale ? newer : older);
  utimesSync(join(root, 'node_modules', '.package-lock.json'), stale ? older : newer, stale ? older : newer);
  return root;
}

/** `source env.sh` in a shell with default options, from another directory; what it left behind. */
function sourceIn(root: string, prelude = '') {
  const elsewhere = join(scratch, 'elsewhere');
  mkdirSync(elsewhere, { recursive: true });
  const script = `${prelude}
before="$-:$(shopt -po pipefail)"
cd "${elsewhere}"
source "${root}/scripts/env.sh"; echo "status=$?"
echo "options-kept=$([[ "$-:$(shopt -po pipefail)" == "$before" ]] && echo yes || echo "no: $before -> $-:$(shopt -po pipefail)")"
echo "pwd=$PWD"
echo "path=$PATH"
false
echo "after-a-failing-command"
`;
  const run = spawnSync('bash', ['-c', script], {
    encoding: 'utf8',
    env: { ...process.env, PATH: `${join(root, 'stub-bin')}:/usr/bin:/bin` },
  });
  return { code: run.status, out: run.stdout, err: run.stderr, elsewhere };
}

describe('scripts/env.sh', () => {
  it('sourced by hand: PATH gains the pinned node; options and working directory are untouched', () => {
    const root = fakeCheckout('fresh', false);
    const r = sourceIn(root);
    expect(r.code, r.err).toBe(0);
    expect(r.out).toContain('status=0\n');
    expect(r.out).toContain('options-kept=yes\n');
    expect(r.out).toContain(`pwd=${r.elsewhere}\n`);
    expect(r.out).toContain(`path=${join(root, 'node_modules', '.bin')}:`);
    expect(r.out).toContain('after-a-failing-command');
  });

  it('a failed npm install returns 1 to the sourcing shell and leaves it running', () => {
    const root = fakeCheckout('stale', true);
    const r = sourceIn(root);
    expect(r.code, r.err).toBe(0);
    expect(r.out).toContain('status=1\n');
    expect(r.err).toContain('scripts/env.sh: npm install failed');
    expect(readFileSync(join(root, 'npm-ran-in'), 'utf8').trim()).toBe(root);
    expect(r.out).toContain('options-kept=yes\n');
    expect(r.out).toContain(`pwd=${r.elsewhere}\n`);
    expect(r.out).toContain('after-a-failing-command');
  });

  it('a script with `set -euo pipefail` (as test.sh, demo.sh) still stops when the install fails', () => {
    const r = sourceIn(fakeCheckout('stale-script', true), 'set -euo pipefail');
    expect(r.code).not.toBe(0);
    expect(r.err).toContain('scripts/env.sh: npm install failed');
    expect(r.out).not.toContain('status=');
  });

  it.each(['scripts/test.sh', 'scripts/demo.sh', 'operator/bin/scaleswe'])(
    '%s sets -euo pipefail itself, before it sources env.sh',
    (script) => {
      const lines = readFileSync(join(REPO, script), 'utf8').split('\n');
      const set = lines.indexOf('set -euo pipefail');
      const source = lines.findIndex((l) => /^source .*env\.sh/.test(l));
      expect(set).toBeGreaterThanOrEqual(0);
      expect(source).toBeGreaterThan(set);
    },
  );
});
