// Issue #18: a start that fails leaves nothing in the way of the corrected command, and a state
// or output directory that cannot be written is one line naming it and the cause (exit 1), at
// once: never a raw ENOENT, never a spin (Node's recursive mkdir loops on /proc/x).
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { validateCurationRun } from '../../operator/src/api/index.ts';
import { startCli } from '../support/cli.ts';

const scratch = mkdtempSync(join(tmpdir(), 'scaleswe-start-'));
// A read-only bind mount: root ignores permission bits, not a read-only file system.
const roSource = join(scratch, 'ro-source');
const ro = join(scratch, 'ro');
const UNSANDBOXED = ['--isolation', 'none', '--i-accept-unsandboxed'];
// A parent that exists but takes no new entries (ENOENT): where `mkdir -p` used to spin.
const PROC = `/proc/scaleswe-no-such-${process.pid}`;
// CLI startup alone has taken 35 s on a loaded machine; a hang is what this bound catches.
const BOUND_MS = 150_000;
const TEST_MS = 600_000;

/** The CLI to its end, or killed after BOUND_MS (code -1: it hung). */
async function scaleswe(...args: string[]): Promise<{ code: number | null; out: string; err: string }> {
  const cli = startCli(args);
  const timer = setTimeout(() => cli.child.kill('SIGKILL'), BOUND_MS);
  try {
    const code = await cli.exit;
    return { code, out: cli.out(), err: cli.err() };
  } finally {
    clearTimeout(timer);
  }
}

/** A run record as a finished local run leaves it (no instances). */
function runJson(name: string, url: string, progress: Record<string, unknown> = {}): string {
  const run = validateCurationRun({
    apiVersion: 'scaleswe.dev/v1alpha1',
    kind: 'CurationRun',
    metadata: { name },
    spec: { source: { git: { url } } },
  });
  if (!run.ok) throw new Error(run.errors.join('\n'));
  return JSON.stringify({
    name,
    spec: run.value.spec,
    exhausted: false,
    rejected: [],
    startedAt: '2026-12-01T00:00:00.000Z',
    ...progress,
  });
}

/** A git repository named `widgets` with one commit and no merges: mining ends at once, no stages. */
function emptyRepo(): string {
  const repo = join(scratch, 'good', 'widgets');
  if (existsSync(repo)) return repo;
  mkdirSync(repo, { recursive: true });
  execFileSync('git', ['init', '-q', repo]);
  execFileSync('git', [
    '-C',
    repo,
    '-c',
    'user.email=a@b.c',
    '-c',
    'user.name=a',
    'commit',
    '-q',
    '--allow-empty',
    '-m',
    'init',
  ]);
  return repo;
}

beforeAll(() => {
  mkdirSync(join(roSource, 'state'), { recursive: true });
  writeFileSync(join(roSource, 'state', 'run.json'), runJson('done', '/nowhere/done', { exhausted: true }));
  mkdirSync(ro);
  const bind = spawnSync('mount', ['--bind', roSource, ro], { encoding: 'utf8' });
  expect(bind.status, `a bind mount needs root: ${bind.stderr}`).toBe(0);
  const remount = spawnSync('mount', ['-o', 'remount,bind,ro', ro], { encoding: 'utf8' });
  expect(remount.status, remount.stderr).toBe(0);
});

afterAll(() => {
  spawnSync('umount', [ro]);
  rmSync(scratch, { recursive: true, force: true });
});

describe('a failed start leaves nothing that blocks the corrected command', () => {
  it(
    'an unreachable URL: exit 1, no state directory; the same name then runs from the right source',
    async () => {
      const state = join(scratch, 'state-widgets');
      const failed = await scaleswe(
        'run',
        '--git',
        'http://127.0.0.1:9/org/widgets.git',
        '--state-dir',
        state,
        ...UNSANDBOXED,
      );
      expect(failed.code, failed.err).toBe(1);
      expect(failed.err).toContain('unable to access');
      expect(existsSync(state)).toBe(false);

      const repo = emptyRepo();
      const retried = await scaleswe('run', '--git', repo, '--state-dir', state, ...UNSANDBOXED);
      expect(retried.code, `${retried.out}\n${retried.err}`).toBe(0);
      expect(retried.out).not.toContain('(resuming)');
      const run = JSON.parse(readFileSync(join(state, 'run.json'), 'utf8'));
      expect(run.name).toBe('widgets');
      expect(run.spec.source.git.url).toBe(repo);
    },
    TEST_MS,
  );

  it(
    'a directory that is not a git repository is a usage error (2) that creates nothing',
    async () => {
      const notRepo = join(scratch, 'not-a-repo');
      mkdirSync(notRepo);
      const state = join(scratch, 'state-not-a-repo');
      const r = await scaleswe('run', '--git', notRepo, '--state-dir', state, ...UNSANDBOXED);
      expect(r.code, r.err).toBe(2);
      expect(r.err).toBe(
        `scaleswe: stages run unsandboxed (--isolation none)\nscaleswe: --git ${notRepo}: not a git repository\n`,
      );
      expect(existsSync(state)).toBe(false);
    },
    TEST_MS,
  );

  it(
    'a run record that never got a page (left by an older version) gives way to another source',
    async () => {
      const state = join(scratch, 'state-legacy');
      mkdirSync(state);
      writeFileSync(join(state, 'run.json'), runJson('widgets', 'http://127.0.0.1:9/org/widgets.git'));
      const repo = emptyRepo();
      const r = await scaleswe('run', '--git', repo, '--state-dir', state, ...UNSANDBOXED);
      expect(r.code, `${r.out}\n${r.err}`).toBe(0);
      expect(r.err).toContain('never started; starting over');
      expect(JSON.parse(readFileSync(join(state, 'run.json'), 'utf8')).spec.source.git.url).toBe(repo);
    },
    TEST_MS,
  );
});

describe('a state or output directory that cannot be written: one line, exit 1, at once', () => {
  it(
    'run: a read-only state directory, and one under /proc',
    async () => {
      const readOnly = await scaleswe(
        'run',
        '--git',
        emptyRepo(),
        '--state-dir',
        join(ro, 'new'),
        ...UNSANDBOXED,
      );
      expect(readOnly.code, readOnly.err).toBe(1);
      expect(readOnly.err).toContain(
        `\nscaleswe: cannot write state directory ${join(ro, 'new')}: read-only file system (EROFS)\n`,
      );
      const proc = await scaleswe('run', '--git', emptyRepo(), '--state-dir', PROC, ...UNSANDBOXED);
      expect(proc.code, proc.err).toBe(1);
      expect(proc.err).toContain(
        `\nscaleswe: cannot write state directory ${PROC}: no such directory, and it cannot be created there (ENOENT)\n`,
      );
    },
    TEST_MS,
  );

  it(
    'export --out /proc/x ends (it used to spin forever), and a read-only --out is named',
    async () => {
      const state = join(scratch, 'state-export');
      mkdirSync(state);
      writeFileSync(join(state, 'run.json'), runJson('done', '/nowhere/done', { exhausted: true }));
      const proc = await scaleswe('export', '--state-dir', state, '--out', PROC);
      expect(proc.code, proc.err).toBe(1);
      expect(proc.err).toBe(
        `scaleswe: cannot write output directory ${PROC}: no such directory, and it cannot be created there (ENOENT)\n`,
      );
      const readOnly = await scaleswe('export', '--state-dir', state, '--out', join(ro, 'out'));
      expect(readOnly.code, readOnly.err).toBe(1);
      expect(readOnly.err).toBe(
        `scaleswe: cannot write output directory ${join(ro, 'out')}: read-only file system (EROFS)\n`,
      );
    },
    TEST_MS,
  );

  it(
    'a read-only state directory: export to it and retry are refused by name; export elsewhere works',
    async () => {
      const state = join(ro, 'state');
      const toState = await scaleswe('export', '--state-dir', state);
      expect(toState.code, toState.err).toBe(1);
      expect(toState.err).toBe(
        `scaleswe: cannot write output directory ${join(state, 'export')}: read-only file system (EROFS)\n`,
      );
      const retry = await scaleswe('retry', '--state-dir', state);
      expect(retry.code, retry.err).toBe(1);
      expect(retry.err).toBe(
        `scaleswe: cannot write state directory ${state}: read-only file system (EROFS)\n`,
      );
      const out = join(scratch, 'export-out');
      const elsewhere = await scaleswe('export', '--state-dir', state, '--out', out);
      expect(elsewhere.code, elsewhere.err).toBe(0);
      expect(existsSync(join(out, 'dataset.jsonl'))).toBe(true);
    },
    TEST_MS,
  );
});
