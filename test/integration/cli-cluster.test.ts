import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse, stringify } from 'yaml';
import { runCli } from '../support/cli.ts';
import { cluster, GROUP, useTestNamespace, VERSION } from './support.ts';

// `scaleswe status` and `scaleswe export --run` read a run and its instances from a real
// API server. The objects are written here directly (no operator), so the expected output
// is known exactly.

const ns = useTestNamespace('cli');

const scaleswe = (...args: string[]) => runCli(args, { ...process.env, KUBECONFIG: cluster().kubeconfig });

/** Sets the current context's namespace in a kubeconfig file (as `kubectl config set-context --current --namespace`). */
async function setContextNamespace(file: string, namespace: string): Promise<void> {
  const config = parse(readFileSync(file, 'utf8')) as {
    'current-context': string;
    contexts: { name: string; context: Record<string, string> }[];
  };
  const ctx = config.contexts.find((c) => c.name === config['current-context']);
  if (!ctx) throw new Error('kubeconfig has no current context');
  ctx.context.namespace = namespace;
  writeFileSync(file, stringify(config));
}

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

    // list: the namespace's runs with their counts.
    const list = await scaleswe('list', '-n', namespace);
    expect(list.code, list.err).toBe(0);
    expect(list.out).toMatch(
      new RegExp(
        `^NAME\\s+PHASE\\s+PROGRESS\\s+VERIFIED\\s+FAILED\\s+REASON\\n${run}\\s+Succeeded\\s+2/2\\s+1\\s+1`,
      ),
    );

    // logs: with no stage pod left, the stage record (here: the tests stage's rejection).
    const logs = await scaleswe('logs', run, 'acme__calc-2', '-n', namespace);
    expect(logs.code, logs.err).toBe(0);
    expect(logs.out).toContain('SWEInstance acme__calc-2: Rejected');
    expect(logs.out).toContain('last error (tests, NoFailToPass): none');

    // retry: only the Failed instance, back to its stage; the Rejected one is left alone.
    const failedBody = instance(run, 3);
    const made = await custom.createNamespacedCustomObject({
      group: GROUP,
      version: VERSION,
      namespace,
      plural: 'sweinstances',
      body: failedBody,
    });
    const failedStatus = {
      phase: 'Failed',
      attempts: { env: 2, tests: 0, prompt: 0, verify: 0 },
      conditions: [
        {
          type: 'EnvReady',
          status: 'False',
          reason: 'OOMKilled',
          message: 'gave up after 2 attempts',
          lastTransitionTime: now,
        },
      ],
      lastError: { stage: 'env', reason: 'OOMKilled', message: 'oom', time: now },
    };
    await custom.replaceNamespacedCustomObjectStatus({
      group: GROUP,
      version: VERSION,
      namespace,
      plural: 'sweinstances',
      name: failedBody.metadata.name,
      body: { ...made, status: failedStatus },
    });
    const retry = await scaleswe('retry', '--run', run, '-n', namespace);
    expect(retry.code, retry.err).toBe(0);
    expect(retry.out).toContain('retrying 1 failed instance(s): acme__calc-3');
    const after = (await custom.getNamespacedCustomObject({
      group: GROUP,
      version: VERSION,
      namespace,
      plural: 'sweinstances',
      name: failedBody.metadata.name,
    })) as {
      status: {
        phase: string;
        retriedAttempts: object;
        conditions: { type: string; status: string; reason: string }[];
      };
    };
    expect(after.status.phase).toBe('Env');
    expect(after.status.retriedAttempts).toEqual({ env: 2 });
    expect(after.status.conditions.find((c) => c.type === 'EnvReady')).toMatchObject({
      status: 'Unknown',
      reason: 'RetryRequested',
    });

    // No -n: the kubeconfig context's namespace, as kubectl does.
    const kubeconfig = join(out, 'kubeconfig');
    writeFileSync(kubeconfig, readFileSync(cluster().kubeconfig, 'utf8'));
    await setContextNamespace(kubeconfig, namespace);
    const viaContext = await runCli(['status', run, '--kubeconfig', kubeconfig], process.env);
    expect(viaContext.code, viaContext.err).toBe(0);
    expect(viaContext.out).toContain(`CurationRun ${run}: Succeeded (2/2)`);
  });

  it("names a missing run clearly, without the client's exception dump", async () => {
    const namespace = ns().name;
    const r = await scaleswe('status', 'no-such-run', '-n', namespace);
    expect(r.code).toBe(1);
    expect(r.err.trim()).toBe(`scaleswe: CurationRun "no-such-run" not found in namespace "${namespace}"`);
    const logs = await scaleswe('logs', 'no-such-run', 'acme__calc-1', '-n', namespace);
    expect(logs.code).toBe(1);
    expect(logs.err).toContain('not found in namespace');
  });

  it('an unreachable API server is one line naming the server', async () => {
    const out = mkdtempSync(join(tmpdir(), 'scaleswe-kc-'));
    const kubeconfig = join(out, 'kubeconfig');
    const text = readFileSync(cluster().kubeconfig, 'utf8').replace(
      /server: https:\/\/[^\s]+/,
      'server: https://127.0.0.1:1',
    );
    writeFileSync(kubeconfig, text);
    const r = await runCli(['list', '--kubeconfig', kubeconfig, '-n', 'x'], process.env);
    expect(r.code).toBe(1);
    expect(r.err).toContain('cannot reach the API server at https://127.0.0.1:1');
    expect(r.err.trim().split('\n')).toHaveLength(1);
  });
});
