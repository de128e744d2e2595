// The solve stage in the cluster (spec.solve): a Verified instance gets k solve pods, each
// reaching the LLM through the operator's gateway with a token of its own; each submitted
// patch is graded in a fresh pod; status records every attempt and the summary; `export --run`
// writes the resolved attempt (with its gateway trajectory) to solves.jsonl. The kubelet is
// played by the harness; a SIGKILLed operator's successor creates no second pod. Once without
// and once with the dataset store.
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { afterEach, describe, expect, it } from 'vitest';
import {
  CURATIONRUNS,
  type CurationRun,
  type StageInput,
  type StageResultArg,
  SWEINSTANCES,
  type SWEInstance,
} from '../../operator/src/api/index.ts';
import { exportCluster, readClusterRun, renderStatus } from '../../operator/src/cli/cluster.ts';
import { Kube } from '../../operator/src/kube/index.ts';
import { STAGE_INPUT_KEY, stageInputSecretName } from '../../operator/src/sandbox/index.ts';
import { loadContent } from '../../operator/src/store/dataset-store.ts';
import { S3Store } from '../../operator/src/store/s3-store.ts';
import { startChatProvider } from '../support/chat-provider.ts';
import { freePort } from '../support/free-port.ts';
import { startS3Server } from '../support/s3-server.ts';
import { createSquashHistory } from './git-history.ts';
import {
  fakeKubelet,
  type OperatorProcess,
  type PodVerdict,
  startOperator,
  succeededResult,
} from './operator-harness.ts';
import { cluster, poll, useTestNamespace } from './support.ts';

const ns = useTestNamespace('solve');
const cleanups: Array<() => Promise<unknown>> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function inputOf(kube: Kube, namespace: string, pod: string): Promise<StageInput | undefined> {
  const secret = await kube.readSecret(namespace, stageInputSecretName(pod)).catch(() => undefined);
  const data = secret?.data?.[STAGE_INPUT_KEY];
  return data
    ? (JSON.parse(gunzipSync(Buffer.from(data, 'base64')).toString('utf8')) as StageInput)
    : undefined;
}

const RESOLVING =
  'diff --git a/src/m.py b/src/m.py\n--- a/src/m.py\n+++ b/src/m.py\n@@ -1 +1 @@\n-x\n+fixed\n';
const WRONG_FILE = 'diff --git a/README b/README\n--- a/README\n+++ b/README\n@@ -1 +1 @@\n-x\n+y\n';
const F2P = 'tests/test_m.py::test_f';

// With the dataset store the submitted patches live in the object status.content names, and
// the grading pods and the export read them back from there.
describe.each([{ withStore: false }, { withStore: true }])(
  'solve stage in the cluster (dataset store: $withStore)',
  ({ withStore }) => {
    it('solves and grades Verified instances: exact summaries, solves.jsonl with the resolved attempt only, no duplicate pod after a SIGKILL', async () => {
      const { name: namespace } = ns();
      const s3 = withStore ? await startS3Server() : undefined;
      if (s3) cleanups.push(() => s3.stop());
      const store = s3 && new S3Store({ ...s3.config, prefix: namespace });
      if (store) cleanups.push(async () => store.destroy());
      const storeArgs = s3
        ? ['--store-bucket', s3.bucket, '--store-endpoint', s3.endpoint, '--store-prefix', namespace]
        : [];
      const kube = new Kube({ kubeconfig: cluster().kubeconfig });
      const upstream = await startChatProvider({
        content: 'submitted',
        usage: { prompt_tokens: 30, completion_tokens: 5 },
      });
      cleanups.push(() => upstream.close());
      const dir = mkdtempSync(join(tmpdir(), 'solve-it-'));
      writeFileSync(join(dir, 'hmac'), randomBytes(32).toString('hex'));
      const port = await freePort();
      const gatewayURL = `http://127.0.0.1:${port}/v1`;
      await kube.createSecret(namespace, 'llm-provider', { apiKey: 'sk-provider' });
      const operator = (identity: string): OperatorProcess => {
        const op = startOperator({
          kubeconfig: cluster().kubeconfig,
          namespace,
          identity,
          extraArgs: [
            '--gateway-port',
            String(port),
            '--gateway-url',
            gatewayURL,
            '--gateway-secret-file',
            join(dir, 'hmac'),
            ...storeArgs,
          ],
          ...(s3 && {
            env: {
              AWS_ACCESS_KEY_ID: s3.config.credentials.accessKeyId,
              AWS_SECRET_ACCESS_KEY: s3.config.credentials.secretAccessKey,
            },
          }),
        });
        cleanups.push(async () => {
          op.proc.kill('SIGKILL');
          await op.exited;
        });
        return op;
      };
      const first = operator('solve-op-1');
      await first.waitForLog((l) => l.msg === 'LLM gateway serving');

      // The kubelet: curation stages succeed; solve pods are held until `released`, then each
      // asks the LLM once through the gateway with its own token (so the gateway records its
      // trajectory) and submits a patch; grading pods grade the patch they were given.
      let released = false;
      const verdicts = new Map<string, PodVerdict | 'working'>();
      const inputs = new Map<string, StageInput>();
      let resolvingInstance = '';
      const solvePatch = (pod: string) =>
        pod.startsWith(`${resolvingInstance}-solve-1-`) ? RESOLVING : WRONG_FILE;
      const work = async (pod: string, stage: string): Promise<PodVerdict> => {
        // A kubelet holds a pod until its input Secret exists (created right after the pod).
        const input = await poll(`input of ${pod}`, 60_000, () => inputOf(kube, namespace, pod));
        inputs.set(pod, input);
        if (stage === 'solve-grade') {
          const resolved = input.grade?.modelPatch === RESOLVING;
          const result: StageResultArg = {
            stage: 'verify',
            outcome: 'succeeded',
            reason: 'Graded',
            message: 'graded',
            durationMs: 5,
            grade: {
              FAIL_TO_PASS: resolved ? { success: [F2P], failure: [] } : { success: [], failure: [F2P] },
              PASS_TO_PASS: { success: [], failure: [] },
              testOutput: '',
            },
          };
          return { phase: 'Succeeded', result };
        }
        const answer = await fetch(`${input.config.llm?.baseURL}/chat/completions`, {
          method: 'POST',
          headers: {
            authorization: `Bearer ${input.config.llm?.apiKey}`,
            'content-type': 'application/json',
          },
          body: JSON.stringify({
            model: 'x',
            messages: [
              { role: 'system', content: 'You are SolveAgent.' },
              { role: 'user', content: input.solve?.problemStatement ?? '' },
            ],
          }),
        });
        expect(answer.status).toBe(200);
        const patch = solvePatch(pod);
        return {
          phase: 'Succeeded',
          result: {
            stage: 'verify',
            outcome: 'succeeded',
            reason: 'Submitted',
            message: 'submitted',
            durationMs: 7,
            tokensUsed: 35,
            inputTokens: 30,
            outputTokens: 5,
            solve: { patch, ending: 'Submitted', turns: 1 },
          },
        };
      };
      const kubelet = fakeKubelet(kube, namespace, ({ name, stage }) => {
        if (stage !== 'solve' && stage !== 'solve-grade')
          return { phase: 'Succeeded', result: succeededResult(stage) };
        if (!released) return 'skip';
        const known = verdicts.get(name);
        if (known === undefined) {
          verdicts.set(name, 'working');
          void work(name, stage).then(
            (v) => verdicts.set(name, v),
            (err) => verdicts.set(name, { phase: 'Failed', message: String(err) }),
          );
          return 'skip';
        }
        return known === 'working' ? 'skip' : known;
      });
      cleanups.push(() => kubelet.stop());

      const repo = createSquashHistory(join(dir, 'repo.git'), 2);
      await kube.create(CURATIONRUNS, namespace, {
        apiVersion: 'scaleswe.dev/v1alpha1',
        kind: 'CurationRun',
        metadata: { name: 'solve' },
        spec: {
          source: { git: { url: repo, repo: 'acme/widgets' } },
          limits: { maxPRs: 2, maxParallel: 2 },
          llm: {
            baseURL: upstream.baseURL,
            model: 'run-model',
            apiKeySecretRef: { name: 'llm-provider', key: 'apiKey' },
          },
          solve: { attempts: 2, maxTurns: 7, maxTokens: 5000 },
        },
      });

      // Both instances Verified, and their 4 solve pods (2 attempts each) created and held.
      const solvePods = () =>
        kube
          .listPods(namespace, 'scaleswe.dev/stage=solve')
          .then((l) => l.items.map((p) => p.metadata?.name ?? ''));
      const held = await poll('4 solve pods', 120_000, async () => {
        const names = await solvePods();
        return names.length === 4 ? names.sort() : undefined;
      });
      type Instance = SWEInstance & { metadata: { name: string } };
      const instances = (await kube.list<Instance>(SWEINSTANCES, namespace)).items.sort((a, b) =>
        a.spec.instanceId.localeCompare(b.spec.instanceId),
      );
      expect(instances.map((i) => i.status?.phase)).toEqual(['Verified', 'Verified']);
      const [a, b] = instances.map((i) => i.metadata.name) as [string, string];
      resolvingInstance = a;
      expect(held).toEqual([`${a}-solve-1-1`, `${a}-solve-2-1`, `${b}-solve-1-1`, `${b}-solve-2-1`].sort());

      // Solving keeps the run Running (its export is not complete yet).
      const running = await kube.get<CurationRun & { metadata: { name: string } }>(
        CURATIONRUNS,
        namespace,
        'solve',
      );
      expect(running.status?.phase).toBe('Running');

      // The operator dies while they are pending; its successor finds them instead of creating more.
      first.proc.kill('SIGKILL');
      await first.exited;
      const second = operator('solve-op-2');
      await second.waitForLog((l) => l.msg === 'LLM gateway serving');
      released = true;

      const solved = await poll('both instances solved', 120_000, async () => {
        const list = (await kube.list<Instance>(SWEINSTANCES, namespace)).items;
        return list.every((i) => i.status?.solve) ? list : undefined;
      });
      const byName = new Map(solved.map((i) => [i.metadata.name, i]));
      expect(byName.get(a)?.status?.solve).toEqual({
        attempts: 2,
        resolved: 1,
        solveRate: 0.5,
        k: 2,
        passAtK: 1,
        failedAttempts: 0,
        // Both attempts' tokens (30 in, 5 out each), what status.cost prices.
        tokensUsed: 70,
        inputTokens: 60,
        outputTokens: 10,
      });
      expect(byName.get(b)?.status?.solve).toEqual({
        attempts: 2,
        resolved: 0,
        solveRate: 0,
        k: 2,
        passAtK: 0,
        failedAttempts: 0,
        tokensUsed: 70,
        inputTokens: 60,
        outputTokens: 10,
      });
      // The verdict stands; every attempt is recorded with its grade and the tokens it spent.
      expect(byName.get(a)?.status?.phase).toBe('Verified');
      expect(
        byName
          .get(a)
          ?.status?.solveAttempts?.map((s) => [s.attempt, s.phase, s.grade?.resolved, s.tokensUsed]),
      ).toEqual([
        [1, 'Done', true, 35],
        [2, 'Done', false, 35],
      ]);
      expect(byName.get(a)?.status?.solveAttempts?.[1]?.grade).toEqual({
        resolved: false,
        failToPassPassed: 0,
        failToPassTotal: 1,
        passToPassBroken: 0,
        reason: 'Graded',
      });

      if (store) {
        // etcd keeps the attempts without their patches; the object status.content names has them.
        const stored = byName.get(a)!.status!;
        expect(stored.solveAttempts?.map((s) => s.patch)).toEqual([undefined, undefined]);
        expect(stored.content?.fields).toContain('solvePatches');
        expect(byName.get(a)!.spec.prContent).toBeDefined();
        const whole = await loadContent(store, stored);
        expect(whole.solveAttempts?.map((s) => s.patch)).toEqual([RESOLVING, WRONG_FILE]);
      } else {
        expect(byName.get(a)?.status?.solveAttempts?.map((s) => s.patch)).toEqual([RESOLVING, WRONG_FILE]);
      }

      // One pod per attempt and phase, across the restart: no second try, no duplicate.
      const seen = kubelet.pods.map((p) => p.metadata?.name ?? '');
      const solveSeen = seen.filter((n) => n.includes('-solve-') || n.includes('-solvegrade-')).sort();
      expect(solveSeen).toEqual(
        [a, b].flatMap((i) => [1, 2].flatMap((k) => [`${i}-solve-${k}-1`, `${i}-solvegrade-${k}-1`])).sort(),
      );
      expect(second.logs.filter((l) => l.msg === 'created solve pod' && l.kind === 'solve')).toEqual([]);

      // What the solving agent was given: the statement and the base, no patches, no PR text,
      // the gateway with a token of its own and the attempt's budget; the grader no LLM at all.
      const solveInput = inputs.get(`${a}-solve-1-1`)!;
      expect(solveInput.solve).toEqual({ problemStatement: 'f returns the wrong value', maxTurns: 7 });
      expect(solveInput.instance).toMatchObject({
        patch: '',
        testPatch: '',
        title: '',
        body: '',
        issues: [],
      });
      expect(solveInput.instance).not.toHaveProperty('mergeCommit');
      expect(solveInput.instance).not.toHaveProperty('prContent');
      expect(solveInput.previous).not.toHaveProperty('FAIL_TO_PASS');
      expect(solveInput.config.llm).toMatchObject({ baseURL: gatewayURL, tokenBudget: 5000 });
      expect(solveInput.config.llm?.apiKey).toMatch(/^sgw1\./);
      const gradeInput = inputs.get(`${a}-solvegrade-1-1`)!;
      expect(gradeInput.grade).toEqual({ modelPatch: RESOLVING });
      expect(gradeInput.config.llm).toBeUndefined();
      expect(gradeInput.previous.FAIL_TO_PASS).toEqual([F2P]);
      expect(upstream.seen).toHaveLength(4);

      await poll('run Succeeded', 60_000, async () => {
        const r = await kube.get<CurationRun & { metadata: { name: string } }>(
          CURATIONRUNS,
          namespace,
          'solve',
        );
        return r.status?.phase === 'Succeeded' ? r : undefined;
      });
      // scaleswe status counts the solve attempts' tokens.
      expect(renderStatus(await readClusterRun(kube, namespace, 'solve'))).toContain(
        'solve: 120 in / 20 out tokens',
      );

      // Pods go once their outcome is recorded.
      await poll('solve pods deleted', 60_000, async () =>
        (await solvePods()).length === 0 ? true : undefined,
      );

      // export --run: solves.jsonl holds the resolved attempt only, with its gateway trajectory;
      // the solve exchanges are not curation trajectories.
      const summary = await poll('trajectories recorded', 30_000, async () => {
        const s = await exportCluster(kube, namespace, 'solve', join(dir, 'export'), {}, store);
        return s.solveExamples === 1 ? s : undefined;
      });
      expect(summary.examples).toBe(0);
      const lines = readFileSync(summary.solves!, 'utf8').trim().split('\n');
      expect(lines).toHaveLength(1);
      expect(JSON.parse(lines[0]!).messages).toEqual([
        { role: 'system', content: 'You are SolveAgent.' },
        { role: 'user', content: 'f returns the wrong value' },
        { role: 'assistant', content: 'submitted' },
      ]);
      const meta = readFileSync(summary.solvesMeta!, 'utf8')
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l));
      expect(meta).toEqual([
        expect.objectContaining({
          instance_id: instances[0]!.spec.instanceId,
          attempt: 1,
          resolved: true,
          grade_reason: 'Graded',
          patch: RESOLVING,
          ending: 'Submitted',
          total_tokens: 35,
        }),
      ]);
    });
  },
);
