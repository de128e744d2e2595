import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { createSampleRepo } from '../../operator/src/cli/sample.ts';

const CLI = join(import.meta.dirname, '../../operator/src/cli/scaleswe.ts');
const scratch = mkdtempSync(join(tmpdir(), 'scaleswe-cli-'));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

function scaleswe(...args: string[]) {
  const run = spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8', timeout: 60_000 });
  return { code: run.status, out: run.stdout, err: run.stderr };
}

describe('scaleswe run: bad input ends with a clear message and a non-zero exit', () => {
  it('an invalid manifest names the field', () => {
    const r = scaleswe(
      'run',
      '-f',
      join(import.meta.dirname, '../../examples/invalid/parallel-over-max.yaml'),
    );
    expect(r.code).toBe(2);
    expect(r.err).toContain('spec.limits.maxParallel: limits.maxParallel must not exceed limits.maxPRs');
  });

  it('a manifest that is not YAML', () => {
    const file = join(scratch, 'broken.yaml');
    writeFileSync(file, 'spec: [unclosed');
    const r = scaleswe('run', '-f', file);
    expect(r.code).toBe(2);
    expect(r.err).toContain('not valid YAML');
  });

  it('a missing repository path', () => {
    const r = scaleswe('run', '--git', join(scratch, 'nope'));
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/--git .*nope: no such directory/);
  });

  it('two sources at once is a usage error', () => {
    const r = scaleswe('run', '--sample', '--github', 'a/b');
    expect(r.code).toBe(2);
    expect(r.err).toContain('exactly one of');
  });

  it('an unknown flag and a malformed number are usage errors (2), with help', () => {
    const unknown = scaleswe('run', '--sample', '--no-such-flag');
    expect(unknown.code).toBe(2);
    expect(unknown.err).toContain("unknown option '--no-such-flag'");
    const nan = scaleswe('run', '--sample', '--parallel', 'abc');
    expect(nan.code).toBe(2);
    expect(nan.err).toContain('--parallel');
    expect(scaleswe('no-such-command').code).toBe(2);
  });

  it('--version prints the package version and exits 0', () => {
    const r = scaleswe('--version');
    expect(r.code).toBe(0);
    expect(r.out.trim()).toBe(
      JSON.parse(readFileSync(join(import.meta.dirname, '../../package.json'), 'utf8')).version,
    );
  });

  it('--github-api-url without --github is a usage error', () => {
    const r = scaleswe(
      'run',
      '--git',
      join(scratch, 'nope'),
      '--github-api-url',
      'https://ghe.example.com/api/v3',
    );
    expect(r.code).toBe(2);
    expect(r.err).toContain('--github-api-url goes with --github');
  });

  it('a full disk stops with a message and leaves readable state', () => {
    // A 64 KiB tmpfs, nearly filled: run.json fits, instance files do not.
    const mount = join(scratch, 'tiny');
    mkdirSync(mount);
    const mounted = spawnSync('mount', ['-t', 'tmpfs', '-o', 'size=64k', 'tmpfs', mount], {
      encoding: 'utf8',
    });
    expect(mounted.status, `mounting a tmpfs needs root: ${mounted.stderr}`).toBe(0);
    try {
      writeFileSync(join(mount, 'fill'), Buffer.alloc(58 * 1024));
      const repo = createSampleRepo(join(scratch, 'repo-for-disk'));
      const state = join(mount, 'state');
      const r = scaleswe(
        'run',
        '--git',
        repo,
        '--state-dir',
        state,
        '--isolation',
        'none',
        '--i-accept-unsandboxed',
      );
      expect(r.code).toBe(1);
      expect(r.err).toMatch(/disk full while writing .*; the state directory is unchanged/);
      expect(JSON.parse(readFileSync(join(state, 'run.json'), 'utf8')).name).toBe('repo-for-disk');
    } finally {
      spawnSync('umount', [mount]);
    }
  });
});
