// The operator mining a GitHub repository: the real octokit-based source talks to a local
// server speaking GitHub's REST wire shape, with the token read from the Secret the run names.
import { afterEach, expect, it } from 'vitest';
import type { CurationRun } from '../../operator/src/api/index.ts';
import { CURATIONRUNS } from '../../operator/src/api/index.ts';
import { Kube } from '../../operator/src/kube/index.ts';
import { FakeGitHub, type FakePull } from '../support/github-server.ts';
import { fakeKubelet, type OperatorProcess, startOperator } from './operator-harness.ts';
import { cluster, poll, useTestNamespace } from './support.ts';

const ns = useTestNamespace('opgh');
const cleanups: Array<() => Promise<unknown>> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

const diff = (path: string) =>
  `diff --git a/${path} b/${path}\nindex 0000000..1111111 100644\n--- a/${path}\n+++ b/${path}\n@@ -0,0 +1,2 @@\n+a\n+b\n`;

function pull(number: number, over: Partial<FakePull> = {}): FakePull {
  const at = `2024-05-${String(number).padStart(2, '0')}T12:00:00Z`;
  return {
    number,
    title: `Fix bug ${number}`,
    body: null,
    merged_at: at,
    created_at: at,
    updated_at: at,
    labels: [],
    base_sha: (number * 2).toString(16).padStart(40, '0'),
    merge_commit_sha: (number * 2 + 1).toString(16).padStart(40, '0'),
    diff: diff(`src/m${number}.py`) + diff(`tests/test_m${number}.py`),
    commits: [{ message: `Fix ${number}`, date: at }],
    ...over,
  };
}

it('mines GitHub with the token from the named Secret: waits (Ready=False) until the Secret exists, then Succeeds', async () => {
  const { name: namespace } = ns();
  const kube = new Kube({ kubeconfig: cluster().kubeconfig });
  const gh = new FakeGitHub({
    owner: 'acme',
    repo: 'widgets',
    token: 'ghp_operator_test',
    language: 'Python',
  });
  gh.pulls = [pull(3), pull(2, { merged_at: null }), pull(1, { diff: diff('docs/usage.md') })];
  const baseURL = await gh.start();
  cleanups.push(() => gh.close());
  const op: OperatorProcess = startOperator({
    kubeconfig: cluster().kubeconfig,
    namespace,
    identity: 'op-gh',
  });
  cleanups.push(async () => {
    op.proc.kill('SIGKILL');
    await op.exited;
  });
  const kubelet = fakeKubelet(kube, namespace);
  cleanups.push(() => kubelet.stop());

  await kube.create(CURATIONRUNS, namespace, {
    apiVersion: 'scaleswe.dev/v1alpha1',
    kind: 'CurationRun',
    metadata: { name: 'gh' },
    spec: {
      source: { github: { repo: 'acme/widgets', baseURL, tokenSecretRef: { name: 'github', key: 'token' } } },
      limits: { maxPRs: 5, maxParallel: 2 },
    },
  });
  type Run = CurationRun & { metadata: { name: string } };
  const waiting = await poll('Ready=False for the missing Secret', 30_000, async () => {
    const r = await kube.get<Run>(CURATIONRUNS, namespace, 'gh');
    const ready = r.status?.conditions?.find((c) => c.type === 'Ready');
    return ready?.status === 'False' ? r : undefined;
  });
  expect(waiting.status?.conditions?.find((c) => c.type === 'Ready')).toMatchObject({
    reason: 'SourceError',
  });
  expect(waiting.status?.conditions?.find((c) => c.type === 'Ready')?.message).toMatch(/secret|github/i);
  expect(gh.requests).toHaveLength(0);

  await kube.createSecret(namespace, 'github', { token: 'ghp_operator_test' });
  const run = await poll('Succeeded', 90_000, async () => {
    const r = await kube.get<Run>(CURATIONRUNS, namespace, 'gh');
    return r.status?.phase === 'Succeeded' ? r : undefined;
  });
  expect(run.status).toMatchObject({
    counts: { discovered: 3, rejected: 2, instances: 1, verified: 1 },
    cursor: { exhausted: true },
  });
  expect(run.status?.cursor?.github).toBeDefined();
  expect(run.status?.conditions?.find((c) => c.type === 'Ready')).toMatchObject({ status: 'True' });
  expect(Object.keys(run.status?.rejectedByReason ?? {}).sort()).toEqual(['DocsOrLockfileOnly', 'NotMerged']);
  // The server refuses requests without the token: every answer was a success.
  expect(gh.requests.length).toBeGreaterThan(0);
  expect(gh.requests.every((r) => r.status < 400)).toBe(true);
});
