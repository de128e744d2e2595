// A full disk during a stage is an infrastructure failure, never a verdict: the stages' work
// dirs are on a small tmpfs, nearly full; the env stage's install (venv, pytest) hits ENOSPC,
// is retried with backoff and the run exits 3 (rerun later) with the instance Failed
// (DiskFull), its state intact. Once space is freed, the same command continues past env.
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { createSampleRepo } from '../../operator/src/cli/sample.ts';
import { runCli } from '../support/cli.ts';

const scratch = mkdtempSync(join(tmpdir(), 'scaleswe-infra-'));
const state = join(scratch, 'state');
const work = join(state, 'work');
afterAll(() => {
  spawnSync('umount', [work]);
  rmSync(scratch, { recursive: true, force: true });
}, 120_000);

/** Fills the file system of `dir` up to its last `leave` bytes (about: tmpfs counts pages). */
function fill(dir: string, leave: number): void {
  const chunk = Buffer.alloc(64 * 1024, 1);
  const file = join(dir, 'filler');
  writeFileSync(file, '');
  for (let size = chunk.length; size >= 4096; size = Math.floor(size / 2)) {
    try {
      for (;;) writeFileSync(file, chunk.subarray(0, size), { flag: 'a' });
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ENOSPC') throw error;
    }
  }
  truncateSync(file, Math.max(0, statSync(file).size - leave));
}

describe('a full disk during a stage', () => {
  it('is a retried infrastructure failure with a non-zero exit, and a rerun continues once space is freed', async () => {
    const repo = createSampleRepo(join(scratch, 'repo'));
    const file = join(scratch, 'run.yaml');
    // maxPRs 1: the newest candidate, #4 (its test passes before the change: NoFailToPass).
    writeFileSync(
      file,
      JSON.stringify({
        apiVersion: 'scaleswe.dev/v1alpha1',
        kind: 'CurationRun',
        metadata: { name: 'diskfull' },
        spec: {
          source: { git: { url: repo, repo: 'scaleswe/minicalc' } },
          limits: { maxPRs: 1, maxParallel: 1 },
          agents: { maxAttempts: 2 },
        },
      }),
    );
    mkdirSync(work, { recursive: true });
    const mounted = spawnSync('mount', ['-t', 'tmpfs', '-o', 'size=8m', 'tmpfs', work], { encoding: 'utf8' });
    expect(mounted.status, `mounting a tmpfs needs root: ${mounted.stderr}`).toBe(0);
    // Room for the stage's input and the checkout, not for a virtualenv with pytest in it.
    fill(work, 1024 * 1024);

    const full = await runCli(['run', '-f', file, '--state-dir', state]);
    expect(full.code, `${full.out}\n${full.err}`).toBe(3);
    expect(full.err).toContain('scaleswe__minicalc-4: DiskFull');
    expect(full.err).toContain('rerun the same command once the cause is fixed');
    const instanceFile = join(state, 'instances', 'scaleswe__minicalc-4.json');
    const failed = JSON.parse(readFileSync(instanceFile, 'utf8'));
    expect(failed.status.phase).toBe('Failed');
    expect(failed.status.lastError.reason).toBe('DiskFull');
    expect(failed.status.attempts.env).toBe(2);
    expect(failed.status.lastError.message).toMatch(/No space left on device|os error 28|Errno 28/);

    expect(spawnSync('umount', [work]).status).toBe(0);
    const rerun = await runCli(['run', '-f', file, '--state-dir', state]);
    expect(rerun.code, `${rerun.out}\n${rerun.err}`).toBe(0);
    expect(rerun.out).toContain('(resuming)');
    const done = JSON.parse(readFileSync(instanceFile, 'utf8'));
    expect(done.status.conditions.find((c: { type: string }) => c.type === 'EnvReady').status).toBe('True');
    expect(done.status.phase).toBe('Rejected');
    expect(done.status.lastError.reason).toBe('NoFailToPass');
  }, 900_000);
});
