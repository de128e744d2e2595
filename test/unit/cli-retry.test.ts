import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { CurationRunSpec, SWEInstanceSpec } from '../../operator/src/api/index.ts';
import { StateDir } from '../../operator/src/local/state.ts';
import { applyStageFailure, initialStatus } from '../../operator/src/pipeline/pipeline.ts';
import { runCli } from '../support/cli.ts';

const scratch = mkdtempSync(join(tmpdir(), 'scaleswe-retry-'));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

function spec(pullNumber: number) {
  return SWEInstanceSpec.parse({
    instanceId: `acme__calc-${pullNumber}`,
    runRef: 'calc',
    repo: 'acme/calc',
    cloneURL: '/srv/acme/calc.git',
    pullNumber,
    baseCommit: 'b'.repeat(40),
    patch: 'diff --git a/calc.py b/calc.py\n',
    testPatch: '',
    createdAt: '2026-01-01T00:00:00Z',
    language: 'python',
  });
}

describe('scaleswe retry (local state)', () => {
  it('gives Failed instances their stage back and leaves the others alone', {
    timeout: 300_000,
  }, async () => {
    const state = new StateDir(join(scratch, 'state'));
    await state.saveRun({
      name: 'calc',
      spec: CurationRunSpec.parse({ source: { git: { url: '/srv/acme/calc.git' } } }),
      exhausted: true,
      rejected: [],
      startedAt: '2026-01-01T00:00:00Z',
    });
    const now = new Date('2026-01-01T00:00:00Z');
    const opts = { now, maxAttempts: 1 };
    const failed = applyStageFailure(initialStatus(opts), 'env', 'OOMKilled', 'ran out of memory', opts);
    expect(failed.phase).toBe('Failed');
    const rejected = { ...initialStatus(opts), phase: 'Rejected' as const };
    await state.saveInstance({ spec: spec(1), status: failed });
    await state.saveInstance({ spec: spec(2), status: rejected });

    const r = await runCli(['retry', '--state-dir', state.root, 'acme__calc-1', 'acme__calc-2'], process.env);
    expect(r.code, r.err).toBe(0);
    expect(r.out).toContain('retrying 1 failed instance(s): acme__calc-1');
    expect(r.err).toContain('not retried (not Failed, or unknown): acme__calc-2');
    expect((await state.loadInstance('acme__calc-1'))?.status).toMatchObject({
      phase: 'Env',
      attempts: { env: 1 },
      retriedAttempts: { env: 1 },
    });
    expect((await state.loadInstance('acme__calc-2'))?.status.phase).toBe('Rejected');

    const usage = await runCli(['retry'], process.env);
    expect(usage.code).toBe(2);
  });
});
