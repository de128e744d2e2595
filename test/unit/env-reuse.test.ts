import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { SWEInstanceStatus } from '../../operator/src/api/index.ts';
import { createEnvReuseRepo, SETUP_RUNS_LOG } from '../fixtures/env-reuse-repo.ts';
import { runCli } from '../support/cli.ts';

// Issue 14, local mode: setup runs once per environment. Three PRs of a repository whose
// recipe sources never change run one after another under bubblewrap; setup.py records every
// checkout it sets up. The first env stage builds the environment; later stages and later
// PRs start from its snapshot.

const scratch = mkdtempSync(join(tmpdir(), 'scaleswe-env-reuse-'));
afterAll(() => rmSync(scratch, { recursive: true, force: true }), 120_000);

describe('environments built once (local)', () => {
  it('runs setup once for three instances sharing one environment, and keeps its lock', async () => {
    const repo = createEnvReuseRepo(join(scratch, 'slowcalc'), { prs: 3, setupSeconds: 0 });
    const state = join(scratch, 'state');
    const runFile = join(scratch, 'run.yaml');
    writeFileSync(
      runFile,
      JSON.stringify({
        apiVersion: 'scaleswe.dev/v1alpha1',
        kind: 'CurationRun',
        metadata: { name: 'slowcalc' },
        spec: {
          source: { git: { url: repo.dir, repo: 'env/slowcalc' } },
          limits: { maxPRs: 3, maxParallel: 1 },
          verification: { reruns: 1 },
        },
      }),
    );
    const run = await runCli(['run', '-f', runFile, '--state-dir', state, '--isolation', 'bwrap']);
    expect(run.code, `${run.out}\n${run.err}`).toBe(0);

    const statuses: Record<string, SWEInstanceStatus> = {};
    for (const file of readdirSync(join(state, 'instances')))
      statuses[file.replace(/\.json$/, '')] = JSON.parse(
        readFileSync(join(state, 'instances', file), 'utf8'),
      ).status;
    expect(Object.keys(statuses).sort()).toEqual(Object.keys(repo.failToPass).sort());
    for (const [id, f2p] of Object.entries(repo.failToPass)) {
      expect(statuses[id]?.phase, id).toBe('Verified');
      expect(statuses[id]?.FAIL_TO_PASS, id).toEqual(f2p);
    }

    // One checkout was set up, by the first instance's env stage: no replay in tests or
    // verify, none for the later PRs (setup.py runs a few times per install, in one place).
    const setupDirs = new Set(
      readFileSync(join(state, 'cache', SETUP_RUNS_LOG), 'utf8')
        .split('\n')
        .filter(Boolean),
    );
    expect([...setupDirs]).toEqual([join(state, 'work', 'env__slowcalc-1', 'env-1', 'ws', 'env-1')]);

    const keys = new Set(Object.values(statuses).map((s) => s.environment?.key));
    expect(keys.size).toBe(1);
    const [key] = keys;
    expect(key).toMatch(/^[0-9a-f]{64}$/);
    // The frozen lock pins what setup resolved; the snapshot is kept (the instances verified).
    expect(statuses['env__slowcalc-1']?.environment?.lock).toMatch(/^pytest==\S+$/m);
    expect(readdirSync(join(state, 'environments'))).toEqual([key]);
  }, 900_000);
});
