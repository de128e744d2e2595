import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { runCli } from '../support/cli.ts';
import { cluster, GROUP, useTestNamespace, VERSION } from './support.ts';

// `scaleswe status` and `scaleswe export --run` read a run and its instances from a real
// API server. The objects are written here directly (no operator), so the expected output
// is known exactly.

const ns = useTestNamespace('cli');

const scaleswe = (...args: string[]) => runCli(args, { ...process.env, KUBECONFIG: cluster().kubeconfig });

const base = 'b'.repeat(40);
const now = '2026-01-01T00:00:00Z';

function instance(run: string, pr: number) {
  return {
    apiVersion: `${GROUP}/${VERSION}`,
    kind: 'SWEInstance',
    metadata: { name: `${run}.acme.calc-${pr}`, labels: { 'scaleswe.dev/run': run } },
    spec: {
      instanceId: `acme__calc-${pr}`,
      runRef: run,
      repo: 'acme/calc',
      cloneURL: 'http://git.example/acme/calc.git',
      pullNumber: pr,
      baseCommit: base,
      patch: 'diff --git a/calc.py b/calc.py\n',
      testPatch: 'diff --git a/test_calc.py b/test_calc.py\n',
      createdAt: now,
      language: 'python',
    },
  };
}

describe('scaleswe status / export against a real API server', () => {
  it('shows counts, reasons and instances, and exports only verified ones', async () => {
    const { name: namespace, custom } = ns();
    const run = 'calc-run';
    const created = await custom.createNamespacedCustomObject({
      group: GROUP,
      version: VERSION,
      namespace,
      plural: 'curationruns',
      body: {
        apiVersion: `${GROUP}/${VERSION}`,
        kind: 'CurationRun',
        metadata: { name: run },
        spec: { source: { github: { repo: 'acme/calc' } } },
      },
    });
    await custom.replaceNamespacedCustomObjectStatus({
      group: GROUP,
      version: VERSION,
      namespace,
      plural: 'curationruns',
      name: run,
      body: {
        ...created,
        status: {
          phase: 'Succeeded',
          progress: '2/2',
          counts: { discovered: 3, rejected: 1, instances: 2, running: 0, verified: 1, failed: 1 },
          rejectedByReason: { DocsOrLockfileOnly: 1 },
        },
      },
    });
    const statuses = [
      {
        phase: 'Verified',
        recipe: { setupScript: 'pip install -e .', testCommand: 'pytest -rA', resultFormat: 'pytest' },
        testsSource: 'pr',
        FAIL_TO_PASS: ['test_calc.py::test_add'],
        PASS_TO_PASS: [],
        problemStatement: 'add is wrong',
        problemStatementSource: 'pr',
      },
      {
        phase: 'Rejected',
        lastError: { stage: 'tests', reason: 'NoFailToPass', message: 'none', time: now },
      },
    ];
    for (const [i, pr] of [1, 2].entries()) {
      const body = instance(run, pr);
      const made = await custom.createNamespacedCustomObject({
        group: GROUP,
        version: VERSION,
        namespace,
        plural: 'sweinstances',
        body,
      });
      await custom.replaceNamespacedCustomObjectStatus({
        group: GROUP,
        version: VERSION,
        namespace,
        plural: 'sweinstances',
        name: body.metadata.name,
        body: { ...made, status: statuses[i] },
      });
    }

    const status = await scaleswe('status', run, '-n', namespace);
    expect(status.err).toBe('');
    expect(status.code).toBe(0);
    expect(status.out).toContain(`CurationRun ${run}: Succeeded (2/2)`);
    expect(status.out).toContain('discovered 3, rejected 1, instances 2, running 0, verified 1, failed 1');
    expect(status.out).toContain('rejected by reason: DocsOrLockfileOnly=1');
    expect(status.out).toMatch(/acme__calc-2\s+Rejected\s+NoFailToPass/);

    const out = mkdtempSync(join(tmpdir(), 'scaleswe-export-'));
    const exported = await scaleswe('export', '--run', run, '-n', namespace, '--out', out);
    expect(exported.code, exported.err).toBe(0);
    const lines = readFileSync(join(out, 'dataset.jsonl'), 'utf8').trim().split('\n');
    expect(lines).toHaveLength(1);
    expect(JSON.parse(lines[0]!)).toMatchObject({
      instance_id: 'acme__calc-1',
      FAIL_TO_PASS: '["test_calc.py::test_add"]',
    });
    expect(readFileSync(join(out, 'report.md'), 'utf8')).toContain('| NoFailToPass | 1 |');
  });

  it('names a missing run clearly', async () => {
    const r = await scaleswe('status', 'no-such-run', '-n', ns().name);
    expect(r.code).toBe(1);
    expect(r.err).toMatch(/no-such-run|not found/i);
  });
});
