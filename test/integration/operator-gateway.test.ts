// The operator serves the LLM gateway: sandbox pods get a per-pod token, never the provider
// key; a request with a pod's token reaches the provider carrying the key held by the
// operator, and the exchange is stored as a trajectory ConfigMap owned by the SWEInstance.
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import type { V1Pod } from '@kubernetes/client-node';
import { afterEach, describe, expect, it } from 'vitest';
import type { CurationRun, SWEInstance } from '../../operator/src/api/index.ts';
import { CURATIONRUNS, SWEINSTANCES } from '../../operator/src/api/index.ts';
import { exportCluster } from '../../operator/src/cli/cluster.ts';
import { NETWORKPOLICIES } from '../../operator/src/controller/resources.ts';
import { EVENTS, Kube, type KubeObject } from '../../operator/src/kube/index.ts';
import { decodeTrajectory, TRAJECTORY_KEY } from '../../operator/src/llm/trajectory-config-map.ts';
import { STAGE_INPUT_KEY, stageInputSecretName } from '../../operator/src/sandbox/index.ts';
import { startChatProvider } from '../support/chat-provider.ts';
import { freePort } from '../support/free-port.ts';
import { createSquashHistory } from './git-history.ts';
import { fakeKubelet, type OperatorProcess, startOperator } from './operator-harness.ts';
import { cluster, poll, useTestNamespace } from './support.ts';

const ns = useTestNamespace('gw');
const cleanups: Array<() => Promise<unknown>> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

type StageInputLike = { config: { llm?: { baseURL: string; apiKey?: string } } };

/** A pod's stage input, from the Secret it owns (never from its spec). */
async function stageInputSecretOf(kube: Kube, pod: V1Pod) {
  const name = pod.metadata?.name ?? '';
  const secret = await kube.readSecret(pod.metadata?.namespace ?? '', stageInputSecretName(name));
  expect(secret.metadata?.ownerReferences).toEqual([
    expect.objectContaining({ kind: 'Pod', name, uid: pod.metadata?.uid }),
  ]);
  const text = gunzipSync(Buffer.from(secret.data?.[STAGE_INPUT_KEY] ?? '', 'base64')).toString('utf8');
  return { secret, input: JSON.parse(text) as StageInputLike, text };
}

describe('LLM gateway served by the operator', () => {
  it('pods hold a token, never the provider key; the gateway forwards with the key and records the trajectory', async () => {
    const { name: namespace } = ns();
    const kube = new Kube({ kubeconfig: cluster().kubeconfig });
    const providerKey = `sk-provider-${randomBytes(12).toString('hex')}`;
    const upstream = await startChatProvider({
      content: 'pong',
      usage: { prompt_tokens: 7, completion_tokens: 1 },
    });
    cleanups.push(() => upstream.close());
    const dir = mkdtempSync(join(tmpdir(), 'gw-it-'));
    writeFileSync(join(dir, 'hmac'), randomBytes(32).toString('hex'));
    const port = await freePort();
    const gatewayURL = `http://127.0.0.1:${port}/v1`;
    await kube.createSecret(namespace, 'llm-provider', { apiKey: providerKey });

    const op: OperatorProcess = startOperator({
      kubeconfig: cluster().kubeconfig,
      namespace,
      identity: 'gw-op',
      extraArgs: [
        '--gateway-port',
        String(port),
        '--gateway-url',
        gatewayURL,
        '--gateway-secret-file',
        join(dir, 'hmac'),
      ],
    });
    cleanups.push(async () => {
      op.proc.kill('SIGKILL');
      await op.exited;
    });
    await op.waitForLog((l) => l.msg === 'LLM gateway serving');
    const kubelet = fakeKubelet(kube, namespace);
    cleanups.push(() => kubelet.stop());

    const repo = createSquashHistory(join(dir, 'repo.git'), 2);
    await kube.create(CURATIONRUNS, namespace, {
      apiVersion: 'scaleswe.dev/v1alpha1',
      kind: 'CurationRun',
      metadata: { name: 'gw' },
      spec: {
        source: { git: { url: repo, repo: 'acme/widgets' } },
        limits: { maxPRs: 1, maxParallel: 1 },
        llm: {
          baseURL: upstream.baseURL,
          model: 'run-model',
          apiKeySecretRef: { name: 'llm-provider', key: 'apiKey' },
          tokenBudgetPerInstance: 10000,
          price: { inputPerMillion: 2.5, outputPerMillion: 10 },
        },
        sandbox: { egress: { allowCIDRs: ['10.20.0.0/16'] } },
      },
    });
    const done = await poll('run Succeeded', 90_000, async () => {
      const r = await kube.get<CurationRun & { metadata: { name: string } }>(CURATIONRUNS, namespace, 'gw');
      return r.status?.phase === 'Succeeded' ? r : undefined;
    });
    // The run's cost is in its status (kept by the CRD's schema, not pruned): numbers only,
    // nothing of the key or its Secret.
    expect(done.status?.cost).toMatchObject({
      inputTokens: expect.any(Number),
      outputTokens: expect.any(Number),
      usd: expect.any(Number),
      curationUsd: expect.any(Number),
    });
    for (const v of Object.values(done.status!.cost!)) expect(typeof v).toBe('number');
    expect(JSON.stringify(done.status)).not.toContain(providerKey);
    expect(JSON.stringify(done.status)).not.toContain('llm-provider');
    expect(kubelet.pods).toHaveLength(4);

    // Every pod got the gateway and a token of its own, not the key.
    const secrets = await Promise.all(kubelet.pods.map((p) => stageInputSecretOf(kube, p)));
    const inputs = secrets.map((s) => s.input);
    for (const input of inputs) {
      expect(input.config.llm?.baseURL).toBe(gatewayURL);
      expect(input.config.llm?.apiKey).toMatch(/^sgw1\./);
    }
    expect(new Set(inputs.map((i) => i.config.llm?.apiKey)).size).toBe(4);
    // Anyone who may `get pods` sees the spec: the token is not in it.
    for (const input of inputs) expect(JSON.stringify(kubelet.pods)).not.toContain(input.config.llm?.apiKey);

    // A pod's request through the operator's gateway: the provider sees the key and the run's model.
    const token = inputs[0]!.config.llm!.apiKey!;
    const denied = await fetch(`${gatewayURL}/chat/completions`, {
      method: 'POST',
      headers: { authorization: 'Bearer sgw1.forged.token', 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'x', messages: [] }),
    });
    expect(denied.status).toBe(401);
    const messages = [
      { role: 'system', content: 'You are EnvAgent.' },
      { role: 'user', content: 'ping' },
    ];
    const answer = await fetch(`${gatewayURL}/chat/completions`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'pod-asks-for-another', messages }),
    });
    expect(answer.status).toBe(200);
    expect(
      ((await answer.json()) as { choices: { message: { content: string } }[] }).choices[0]!.message.content,
    ).toBe('pong');
    expect(upstream.seen).toHaveLength(1);
    expect(upstream.seen[0]!.headers.authorization).toBe(`Bearer ${providerKey}`);
    expect(upstream.seen[0]!.body.model).toBe('run-model');

    // The exchange becomes a trajectory ConfigMap owned by the instance.
    const [instance] = (
      await kube.list<SWEInstance & { metadata: { name: string; uid: string } }>(SWEINSTANCES, namespace)
    ).items;
    const cm = await poll('trajectory ConfigMap', 20_000, async () => {
      const list = await kube.listConfigMaps(namespace, 'scaleswe.dev/run=gw');
      return list.items[0];
    });
    expect(cm.metadata?.labels).toMatchObject({
      'scaleswe.dev/run': 'gw',
      'scaleswe.dev/instance': instance!.metadata.name,
      'scaleswe.dev/stage': 'env',
    });
    expect(cm.metadata?.ownerReferences).toEqual([
      expect.objectContaining({
        kind: 'SWEInstance',
        name: instance!.metadata.name,
        uid: instance!.metadata.uid,
      }),
    ]);
    const payload = decodeTrajectory(cm.data?.[TRAJECTORY_KEY]);
    expect(payload?.steps).toHaveLength(1);
    expect(payload?.steps[0]?.request.model).toBe('run-model');

    // scaleswe export --run writes it as a chat example.
    const out = join(dir, 'export');
    const summary = await exportCluster(kube, namespace, 'gw', out);
    expect(summary.examples).toBe(1);
    const [example] = readFileSync(summary.trajectories, 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    expect(example.messages).toEqual([...messages, { role: 'assistant', content: 'pong' }]);
    expect(Object.keys(example)).toEqual(['messages']);
    const [labels] = readFileSync(summary.trajectoriesMeta, 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    expect(labels).toMatchObject({ instance_id: 'acme__widgets-2', stage: 'env', total_tokens: 8 });

    // The run's sandbox NetworkPolicy: no ingress; egress to DNS, the gateway (an IP here: the
    // operator runs outside the cluster), the listed CIDR and the repository host (a local path: none).
    const policy = await poll('NetworkPolicy', 10_000, () =>
      kube
        .get<KubeObject & { spec: Record<string, unknown> }>(NETWORKPOLICIES, namespace, 'gw-sandbox')
        .catch(() => undefined),
    );
    expect(policy.metadata.ownerReferences).toEqual([
      expect.objectContaining({ kind: 'CurationRun', name: 'gw' }),
    ]);
    expect(policy.spec).toMatchObject({
      podSelector: { matchLabels: { 'scaleswe.dev/run': 'gw' } },
      policyTypes: ['Ingress', 'Egress'],
      egress: [
        {
          to: [
            {
              namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'kube-system' } },
              podSelector: { matchLabels: { 'k8s-app': 'kube-dns' } },
            },
          ],
          ports: [
            { protocol: 'UDP', port: 53 },
            { protocol: 'TCP', port: 53 },
          ],
        },
        { to: [{ ipBlock: { cidr: '127.0.0.1/32' } }], ports: [{ protocol: 'TCP', port }] },
        { to: [{ ipBlock: { cidr: '10.20.0.0/16' } }] },
      ],
    });
    expect(policy.spec.ingress ?? []).toEqual([]);
    // The pods it selects are this run's sandbox pods.
    for (const pod of kubelet.pods) expect(pod.metadata?.labels?.['scaleswe.dev/run']).toBe('gw');

    // The key is nowhere: pod specs, their stage-input Secrets (as stored and decoded),
    // statuses, Events, logs.
    const haystacks = {
      pods: JSON.stringify(kubelet.pods),
      stageInputSecrets: JSON.stringify(secrets.map((s) => s.secret)),
      stageInputs: secrets.map((s) => s.text).join('\n'),
      instances: JSON.stringify((await kube.list(SWEINSTANCES, namespace)).items),
      run: JSON.stringify(await kube.get(CURATIONRUNS, namespace, 'gw')),
      events: JSON.stringify((await kube.list(EVENTS, namespace)).items),
      trajectories: JSON.stringify((await kube.listConfigMaps(namespace)).items),
      operatorLog: JSON.stringify(op.logs),
    };
    for (const [where, text] of Object.entries(haystacks)) {
      expect(text.length, where).toBeGreaterThan(2);
      expect(text.includes(providerKey), `provider key found in ${where}`).toBe(false);
    }
    expect((await kube.list(EVENTS, namespace)).items.length).toBeGreaterThan(0); // Events were really read
  });
});
