// Evaluation (issue #16 item 4, cluster): the bundled sample is curated by the operator against
// a real kube-apiserver, its pods' work really run (agentKubelet: the local sandbox), then
// Evaluations grade predictions against its Verified instances — one grading pod per
// prediction, created once even across an operator SIGKILL. Gold patches resolve 100%, empty
// ones 0% with reasons, a stale patch and an unknown id are errors with theirs.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { afterAll, describe, expect, it } from 'vitest';
import {
  CURATIONRUNS,
  type CurationRun,
  EVALUATIONS,
  type Evaluation,
  SWEINSTANCES,
  type SWEInstance,
} from '../../operator/src/api/index.ts';
import { createSampleRepo, SAMPLE_EXPECTED } from '../../operator/src/cli/sample.ts';
import { Kube } from '../../operator/src/kube/index.ts';
import { LABEL_EVALUATION, LABEL_RUN, LABEL_STAGE } from '../../operator/src/sandbox/index.ts';
import { runCli } from '../support/cli.ts';
import { agentKubelet, useOperators } from './operator-harness.ts';
import { cluster, kubectl, poll, useTestNamespace } from './support.ts';

const ns = useTestNamespace('eval');
const operator = useOperators();
const scratch = mkdtempSync(join(tmpdir(), 'eval-it-'));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

const ONE = 'scaleswe__minicalc-1';
const THREE = 'scaleswe__minicalc-3';
type Named<T> = T & { metadata: { name: string; uid: string; generation?: number } };

function evaluation(name: string, spec: Record<string, unknown>) {
  return { apiVersion: 'scaleswe.dev/v1alpha1', kind: 'Evaluation', metadata: { name }, spec };
}

const graded = (kube: Kube, namespace: string, name: string) =>
  poll(`Evaluation ${name} Succeeded`, 600_000, async () => {
    const e = await kube.get<Named<Evaluation>>(EVALUATIONS, namespace, name);
    return e.status?.phase === 'Succeeded' ? e : undefined;
  });

describe('Evaluation (operator, real API server, grading really run)', () => {
  it('gold patches resolve 100%, empty ones 0%, a stale patch and an unknown id are errors; no pod twice across a restart', async () => {
    const { name: namespace } = ns();
    const kube = new Kube({ kubeconfig: cluster().kubeconfig });
    const repo = createSampleRepo(join(scratch, 'minicalc'));
    const kubelet = agentKubelet(kube, namespace, {
      workRoot: join(scratch, 'pods'),
      cacheDir: join(scratch, 'cache'),
    });
    let op = operator(namespace, 'eval-a');
    try {
      await kube.create(CURATIONRUNS, namespace, {
        apiVersion: 'scaleswe.dev/v1alpha1',
        kind: 'CurationRun',
        metadata: { name: 'minicalc' },
        spec: {
          source: { git: { url: repo, repo: 'scaleswe/minicalc', ref: 'main' } },
          limits: { maxPRs: 10, maxParallel: 2 },
          agents: { maxAttempts: 2 },
          verification: { reruns: 1 },
        },
      });
      const run = await poll('run Succeeded', 900_000, async () => {
        const r = await kube.get<Named<CurationRun>>(CURATIONRUNS, namespace, 'minicalc');
        return r.status?.phase === 'Succeeded' ? r : undefined;
      });
      expect(run.status?.counts?.verified).toBe(2);
      const instances = (await kube.list<Named<SWEInstance>>(SWEINSTANCES, namespace)).items;
      const byId = new Map(instances.map((i) => [i.spec.instanceId, i]));
      expect(
        instances
          .filter((i) => i.status?.phase === 'Verified')
          .map((i) => i.spec.instanceId)
          .sort(),
      ).toEqual(Object.keys(SAMPLE_EXPECTED.verified).sort());
      const curationPods = kubelet.pods.length;

      // Gold patches, inline, against the run's Verified instances; the operator is killed
      // once the first grading pod exists and a new one takes over.
      await kube.create(
        EVALUATIONS,
        namespace,
        evaluation('gold', {
          instances: { runRef: 'minicalc' },
          predictions: {
            inline: [ONE, THREE].map((id) => ({
              instanceId: id,
              modelPatch: byId.get(id)!.spec.patch,
              modelName: 'gold',
            })),
          },
          maxParallel: 1,
        }),
      );
      await poll('a grading pod', 60_000, async () =>
        (await kube.listPods(namespace, `${LABEL_EVALUATION}=gold`)).items.length ? true : undefined,
      );
      op.proc.kill('SIGKILL');
      await op.exited;
      op = operator(namespace, 'eval-b');
      const gold = await graded(kube, namespace, 'gold');
      expect(gold.status).toMatchObject({
        phase: 'Succeeded',
        datasetInstances: 2,
        total: 2,
        resolved: 2,
        unresolved: 0,
        emptyPatch: 0,
        errors: 0,
        pending: 0,
        progress: '2/2',
        observedGeneration: gold.metadata.generation,
      });
      for (const id of [ONE, THREE]) {
        const expected = SAMPLE_EXPECTED.verified[id as keyof typeof SAMPLE_EXPECTED.verified];
        expect(gold.status?.results?.find((r) => r.instanceId === id)).toMatchObject({
          status: 'resolved',
          resolved: true,
          reason: 'Resolved',
          patchApplied: true,
          modelName: 'gold',
          failToPassPassed: expected.FAIL_TO_PASS.length,
          failToPassTotal: expected.FAIL_TO_PASS.length,
          passToPassBroken: 0,
          passToPassTotal: expected.PASS_TO_PASS.length,
          attempts: 1,
        });
      }
      expect(gold.status?.conditions?.find((c) => c.type === 'Succeeded')).toMatchObject({
        status: 'True',
        reason: 'AllGraded',
      });

      // Empty patches from a gzipped ConfigMap, against named instances: no pod at all.
      const preds = [ONE, THREE]
        .map((id, i) =>
          JSON.stringify({ instance_id: id, model_patch: i ? null : '', model_name_or_path: 'lazy' }),
        )
        .join('\n');
      await kube.createConfigMap(namespace, {
        metadata: { name: 'lazy-preds' },
        binaryData: { 'preds.jsonl.gz': gzipSync(preds).toString('base64') },
      });
      await kube.create(
        EVALUATIONS,
        namespace,
        evaluation('empty', {
          instances: { names: [ONE, THREE].map((id) => byId.get(id)!.metadata.name) },
          predictions: { configMapRef: { name: 'lazy-preds', key: 'preds.jsonl.gz' } },
        }),
      );
      const empty = await graded(kube, namespace, 'empty');
      expect(empty.status).toMatchObject({ total: 2, resolved: 0, emptyPatch: 2, errors: 0 });
      expect(empty.status?.results?.map((r) => [r.instanceId, r.status, r.reason, r.attempts])).toEqual([
        [ONE, 'empty_patch', 'EmptyPatch', 0],
        [THREE, 'empty_patch', 'EmptyPatch', 0],
      ]);

      // A patch that does not apply, and an instance the dataset lacks (Rejected #4).
      const stale =
        'diff --git a/README.md b/README.md\n--- a/README.md\n+++ b/README.md\n@@ -1 +1 @@\n-no such line\n+x\n';
      await kube.create(
        EVALUATIONS,
        namespace,
        evaluation('bad', {
          instances: { runRef: 'minicalc' },
          predictions: {
            inline: [
              { instanceId: ONE, modelPatch: stale, modelName: 'm' },
              { instanceId: 'scaleswe__minicalc-4', modelPatch: byId.get(ONE)!.spec.patch, modelName: 'm' },
            ],
          },
        }),
      );
      const bad = await graded(kube, namespace, 'bad');
      expect(bad.status).toMatchObject({ total: 2, resolved: 0, errors: 2 });
      expect(bad.status?.results?.map((r) => [r.instanceId, r.status, r.reason, r.patchApplied])).toEqual([
        [ONE, 'error', 'PatchDoesNotApply', false],
        ['scaleswe__minicalc-4', 'error', 'UnknownInstance', false],
      ]);

      // One grading pod per graded prediction, ever: 2 gold + 1 stale, across the SIGKILL.
      const gradePods = kubelet.pods.slice(curationPods);
      expect(gradePods.map((p) => p.metadata?.labels?.[LABEL_EVALUATION]).sort()).toEqual([
        'bad',
        'gold',
        'gold',
      ]);
      expect(new Set(gradePods.map((p) => p.metadata?.name)).size).toBe(3);
      for (const pod of gradePods) {
        // The stage sandbox: the run's label (its NetworkPolicy), no token, owned by the Evaluation.
        expect(pod.metadata?.labels).toMatchObject({ [LABEL_RUN]: 'minicalc', [LABEL_STAGE]: 'grade' });
        expect(pod.metadata?.ownerReferences).toEqual([
          expect.objectContaining({ kind: 'Evaluation', controller: true }),
        ]);
        expect(pod.spec).toMatchObject({ automountServiceAccountToken: false, restartPolicy: 'Never' });
        const input = kubelet.inputs.get(pod.metadata?.name ?? '')!;
        expect(input.stage).toBe('verify');
        expect(input.grade?.modelPatch).toBeTruthy();
        expect(input.config.testNetwork).toBe('none');
      }
      // Every grading pod is deleted once its verdict is recorded.
      await poll('grading pods deleted', 30_000, async () => {
        const left = (await kube.listPods(namespace, LABEL_EVALUATION)).items;
        return left.every((p) => p.metadata?.deletionTimestamp) ? true : undefined;
      });
      // `scaleswe eval-report`: the status as SWE-bench's report.json.
      const out = join(scratch, 'report-bad');
      const cli = await runCli(['eval-report', 'bad', '-n', namespace, '--out', out], {
        ...process.env,
        KUBECONFIG: cluster().kubeconfig,
      });
      expect(cli.code, `${cli.out}\n${cli.err}`).toBe(0);
      expect(cli.out).toContain(
        'Evaluation bad (Succeeded): 0 resolved, 0 unresolved, 0 empty patch, 2 error',
      );
      expect(JSON.parse(readFileSync(join(out, 'report.json'), 'utf8'))).toMatchObject({
        total_instances: 2,
        submitted_instances: 2,
        error_ids: [ONE, 'scaleswe__minicalc-4'],
        incomplete_ids: [THREE],
        errors: {
          [ONE]: { reason: 'PatchDoesNotApply' },
          'scaleswe__minicalc-4': { reason: 'UnknownInstance' },
        },
        schema_version: 2,
      });

      const staleReport = JSON.parse(readFileSync(join(out, 'logs', ONE, 'report.json'), 'utf8'))[ONE];
      expect(staleReport).toMatchObject({
        status: 'error',
        reason: 'PatchDoesNotApply',
        patch_successfully_applied: false,
      });
      // Gold's per-instance logs: the grading pod's test output, kept after the pod is gone.
      const goldOut = join(scratch, 'report-gold');
      const goldCli = await runCli(['eval-report', 'gold', '-n', namespace, '--out', goldOut], {
        ...process.env,
        KUBECONFIG: cluster().kubeconfig,
      });
      expect(goldCli.code, goldCli.err).toBe(0);
      expect(JSON.parse(readFileSync(join(goldOut, 'report.json'), 'utf8'))).toMatchObject({
        resolved_ids: [ONE, THREE],
        incomplete_ids: [],
      });
      const one = JSON.parse(readFileSync(join(goldOut, 'logs', ONE, 'report.json'), 'utf8'))[ONE];
      expect(one).toMatchObject({ resolved: true, patch_successfully_applied: true });
      expect(one.tests_status.FAIL_TO_PASS).toEqual({
        success: ['tests/test_stats.py::test_clamp_above'],
        failure: [],
      });
      expect(readFileSync(join(goldOut, 'logs', ONE, 'test_output.txt'), 'utf8')).toContain(
        'PASSED tests/test_stats.py::test_clamp_above',
      );
      expect(readFileSync(join(goldOut, 'logs', ONE, 'patch.diff'), 'utf8')).toBe(byId.get(ONE)!.spec.patch);
      // The grading run's own log tail, kept past its pod: here the recipe replayed (no prepared
      // environment in this tier), with its setup output.
      expect(readFileSync(join(goldOut, 'logs', ONE, 'run_instance.log'), 'utf8')).toMatch(
        /^==> setup \(exit 0\)/m,
      );

      const table = kubectl(['get', 'evaluations', '-n', namespace]);
      expect(table.code, table.stderr).toBe(0);
      expect(table.stdout).toMatch(/^NAME\s+PHASE\s+RESOLVED\s+TOTAL\s+PROGRESS\s+AGE/);
      expect(table.stdout).toMatch(/^gold\s+Succeeded\s+2\s+2\s+2\/2\s/m);
      expect(table.stdout).toMatch(/^empty\s+Succeeded\s+0\s+2\s+2\/2\s/m);
    } finally {
      await kubelet.stop();
    }
  }, 1_800_000);

  it('kubectl apply refuses an Evaluation naming both or neither instances source', () => {
    const { name: namespace } = ns();
    const both = kubectl(
      ['apply', '-n', namespace, '-f', '-'],
      JSON.stringify(
        evaluation('both', {
          instances: { runRef: 'r', names: ['x'] },
          predictions: { inline: [] },
        }),
      ),
    );
    expect(both.code).not.toBe(0);
    expect(both.stderr).toContain('exactly one of instances.runRef or instances.names must be set');
    const neither = kubectl(
      ['apply', '-n', namespace, '-f', '-'],
      JSON.stringify(evaluation('neither', { instances: { runRef: 'r' }, predictions: {} })),
    );
    expect(neither.stderr).toContain(
      'exactly one of predictions.inline or predictions.configMapRef must be set',
    );
  });
});
