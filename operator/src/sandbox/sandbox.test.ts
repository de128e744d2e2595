import { randomBytes } from 'node:crypto';
import { gunzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { CurationRun, StageInput, type StageResultArg, SWEInstance } from '../api/index.ts';
import { stageInputOfPod as stageInputFor } from '../controller/swe-instance-reconciler.ts';
import { classifyPodFailure } from './classify.ts';
import { decodeStageResult, ENVELOPE_BEGIN, ENVELOPE_END, encodeResultEnvelope } from './envelope.ts';
import { labelValue, stageInputSecretName, stagePodName } from './names.ts';
import { buildSolvePod, buildStagePod } from './pod.ts';
import {
  buildStageInputSecret,
  carriesInput,
  decodeStageInputFile,
  encodeStageInput,
  holdsSecret,
  inlineStageInput,
  MAX_INLINE_STAGE_INPUT_BYTES,
  MAX_STAGE_INPUT_BYTES,
  SECRET_STAGE_INPUT_PATHS,
  STAGE_INPUT_ANNOTATION,
  STAGE_INPUT_KEY,
  secretPaths,
  stageInputTooLarge,
} from './stage-input.ts';

const result: StageResultArg = {
  stage: 'tests',
  outcome: 'succeeded',
  reason: 'TestsFound',
  message: 'PR tests fail before and pass after the gold patch',
  FAIL_TO_PASS: ['tests/test_api.py::test_redirect'],
  PASS_TO_PASS: ['tests/test_api.py::test_get'],
  durationMs: 1234,
};

describe('result envelope', () => {
  it('round-trips through the log, after arbitrary agent output', () => {
    const log = `pip install ...\nnoise ${ENVELOPE_BEGIN} inside a line\n${encodeResultEnvelope(result)}`;
    const decoded = decodeStageResult({ log });
    expect(decoded).toMatchObject({
      ok: true,
      result: { stage: 'tests', FAIL_TO_PASS: result.FAIL_TO_PASS },
    });
  });

  it('falls back to the termination message when the log has none (no kubelet, log rotated)', () => {
    const decoded = decodeStageResult({
      log: 'no envelope here',
      terminationMessage: encodeResultEnvelope(result),
    });
    expect(decoded.ok).toBe(true);
  });

  it('a small result fits the 4 KiB termination message', () => {
    expect(encodeResultEnvelope(result).length).toBeLessThan(4096);
  });

  it('reports a missing envelope', () => {
    expect(decodeStageResult({ log: 'crashed', terminationMessage: '' })).toMatchObject({
      ok: false,
      reason: 'ResultMissing',
    });
  });

  it('reports truncated, garbled and schema-invalid envelopes as corrupt without throwing', () => {
    const full = encodeResultEnvelope(result);
    const truncated = full.slice(0, full.indexOf(ENVELOPE_END));
    expect(decodeStageResult({ log: truncated })).toMatchObject({ ok: false, reason: 'ResultCorrupt' });
    expect(decodeStageResult({ log: `${ENVELOPE_BEGIN}\n!!!not base64\n${ENVELOPE_END}` })).toMatchObject({
      ok: false,
      reason: 'ResultCorrupt',
    });
    const wrong = encodeResultEnvelope({ ...result, outcome: 'maybe' } as unknown as StageResultArg);
    const decoded = decodeStageResult({ log: wrong });
    expect(decoded).toMatchObject({ ok: false, reason: 'ResultCorrupt' });
    if (!decoded.ok) expect(decoded.message).toContain('outcome');
  });
});

const run = CurationRun.parse({
  apiVersion: 'scaleswe.dev/v1alpha1',
  kind: 'CurationRun',
  metadata: { name: 'run-1', namespace: 'ns', uid: 'run-uid' },
  spec: {
    source: { git: { url: '/srv/sample.git', repo: 'acme/widgets' } },
    agents: { resources: { limits: { memory: '2Gi', cpu: '2' } }, timeouts: { testsSeconds: 900 } },
    sandbox: { runtimeClassName: 'gvisor' },
    llm: { baseURL: 'https://api.example.com/v1', model: 'm1' },
    verification: { mutation: { enabled: true, minScore: 0.8 } },
  },
});
const instance = SWEInstance.parse({
  apiVersion: 'scaleswe.dev/v1alpha1',
  kind: 'SWEInstance',
  metadata: { name: 'run-1.acme.widgets-42', namespace: 'ns', uid: 'inst-uid' },
  spec: {
    instanceId: 'acme__widgets-42',
    runRef: 'run-1',
    repo: 'acme/widgets',
    cloneURL: '/srv/sample.git',
    pullNumber: 42,
    baseCommit: 'a'.repeat(40),
    patch: 'diff --git a/x b/x',
    createdAt: '2026-01-01T00:00:00Z',
    language: 'python',
  },
  status: { recipe: { setupScript: 'pip install -e .', testCommand: 'pytest', resultFormat: 'pytest' } },
});

describe('stage pod', () => {
  const podInput = {
    run,
    instance,
    stage: 'tests' as const,
    attempt: 2,
    namespace: 'ns',
    runnerImage: 'scaleswe/operator:0.1.0',
    image: 'scaleswe/sandbox-python:0.1.0',
    gatewayURL: 'http://gateway:8080/v1',
    gatewayToken: 'pod-token',
  };
  const pod = buildStagePod(podInput);
  interface Container {
    command: string[];
    env: Array<{ name: string; value: string }>;
    volumeMounts: Array<{ name: string; mountPath: string; readOnly?: boolean }>;
    resources?: unknown;
    securityContext: unknown;
    terminationMessagePolicy: string;
  }
  const spec = pod.spec as {
    containers: Container[];
    initContainers: Container[];
    volumes: Array<{
      name: string;
      secret?: { secretName: string; defaultMode: number };
      downwardAPI?: unknown;
    }>;
  };
  const main = spec.containers[0]!;

  it('is locked down', () => {
    expect(spec).toMatchObject({
      restartPolicy: 'Never',
      activeDeadlineSeconds: 900,
      automountServiceAccountToken: false,
      enableServiceLinks: false,
      runtimeClassName: 'gvisor',
    });
    for (const c of [...spec.initContainers, ...spec.containers]) {
      expect(c.securityContext).toEqual({
        allowPrivilegeEscalation: false,
        capabilities: { drop: ['ALL'] },
        seccompProfile: { type: 'RuntimeDefault' },
      });
      expect(c.terminationMessagePolicy).toBe('FallbackToLogsOnError');
    }
    expect(main.resources).toEqual({ limits: { memory: '2Gi', cpu: '2' } });
  });

  it('is owned by its instance, labelled, and named per (instance, stage, attempt)', () => {
    expect(pod.metadata.name).toBe('run-1.acme.widgets-42-tests-2');
    expect(pod.metadata.labels).toMatchObject({
      'scaleswe.dev/run': 'run-1',
      'scaleswe.dev/instance': 'run-1.acme.widgets-42',
      'scaleswe.dev/stage': 'tests',
      'scaleswe.dev/attempt': '2',
    });
    expect(pod.metadata.ownerReferences).toEqual([
      expect.objectContaining({ kind: 'SWEInstance', uid: 'inst-uid', controller: true }),
    ]);
  });

  it('mounts its input Secret read-only and names the file; no input in the spec', () => {
    expect(main.command).toEqual(['/scaleswe/bin/node', '/scaleswe/agent/main.js', 'tests']);
    expect(spec.volumes).toContainEqual({
      name: 'stage-input',
      secret: { secretName: 'run-1.acme.widgets-42-tests-2-input', defaultMode: 0o444 },
    });
    expect(main.volumeMounts).toContainEqual({
      name: 'stage-input',
      mountPath: '/var/run/scaleswe/stage-input',
      readOnly: true,
    });
    expect(main.env).toContainEqual({
      name: 'SCALESWE_STAGE_INPUT_FILE',
      value: '/var/run/scaleswe/stage-input/stage-input.json.gz',
    });
    // The init container (runner image) never sees it.
    expect(spec.initContainers[0]!.volumeMounts.map((m) => m.name)).toEqual(['runner']);
    expect(JSON.stringify(pod)).not.toContain('pod-token');
    expect(JSON.stringify(pod)).not.toContain('diff --git');
  });

  it('its Secret: owned by the pod, labelled like it, holding a valid StageInput with the gateway', () => {
    const created = { metadata: { ...pod.metadata, uid: 'pod-uid' } };
    const secret = buildStageInputSecret(created, encodeStageInput(stageInputFor(podInput)).gzip);
    expect(secret.metadata).toEqual({
      name: stageInputSecretName(pod.metadata.name),
      namespace: 'ns',
      labels: pod.metadata.labels,
      ownerReferences: [
        { apiVersion: 'v1', kind: 'Pod', name: pod.metadata.name, uid: 'pod-uid', controller: true },
      ],
    });
    expect(secret.immutable).toBe(true);
    const data = Buffer.from(secret.data[STAGE_INPUT_KEY]!, 'base64');
    const input = StageInput.parse(JSON.parse(gunzipSync(data).toString()));
    expect(input.stage).toBe('tests');
    expect(input.instance.patch).toBe('diff --git a/x b/x');
    expect(input.previous.recipe?.testCommand).toBe('pytest');
    expect(input.config.llm).toEqual({
      baseURL: 'http://gateway:8080/v1',
      model: 'm1',
      apiKey: 'pod-token',
      tokenBudget: 200000,
    });
    // verification.mutation reaches the pod with its defaults filled in.
    expect(input.config.mutation).toEqual({ enabled: true, maxMutants: 10, minScore: 0.8 });
  });

  it('an input beyond what a Secret holds is refused with both sizes', () => {
    const small = encodeStageInput(stageInputFor(podInput));
    expect(stageInputTooLarge(small)).toBeUndefined();
    expect(stageInputTooLarge(small, small.gzip.length)).toBeUndefined();
    expect(stageInputTooLarge(small, small.gzip.length - 1)).toEqual({
      reason: 'StageInputTooLarge',
      message: `stage input is ${small.gzip.length} bytes gzipped (${small.jsonBytes} bytes of JSON); a Secret holds at most ${small.gzip.length - 1} bytes`,
    });
    // A patch that does not compress (random bytes, base64) past 1 MiB of gzip.
    const huge = SWEInstance.parse({
      ...instance,
      spec: { ...instance.spec, patch: randomBytes(MAX_STAGE_INPUT_BYTES).toString('base64') },
    });
    const big = encodeStageInput(stageInputFor({ ...podInput, instance: huge }));
    expect(big.gzip.length).toBeGreaterThan(MAX_STAGE_INPUT_BYTES);
    expect(stageInputTooLarge(big)?.message).toContain(`at most ${MAX_STAGE_INPUT_BYTES} bytes`);
    // Far beyond the 128 KiB an env var could carry, yet fine in a Secret.
    const large = SWEInstance.parse({
      ...instance,
      spec: { ...instance.spec, patch: `diff --git a/x b/x\n${'+line of a large change\n'.repeat(40_000)}` },
    });
    const fits = encodeStageInput(stageInputFor({ ...podInput, instance: large }));
    expect(fits.jsonBytes).toBeGreaterThan(900_000);
    expect(stageInputTooLarge(fits)).toBeUndefined();
  });

  it('the secret fields of a stage input come from the schema: every credential-like field is marked', () => {
    expect(SECRET_STAGE_INPUT_PATHS).toEqual([['config', 'llm', 'apiKey']]);
    // A field added later and named like a credential must be marked, or it could travel in a pod.
    type Node = { properties?: Record<string, Node>; items?: Node };
    const named = (node: Node, at: string[] = []): string[][] => [
      ...(node.items ? named(node.items, [...at, '*']) : []),
      ...Object.entries(node.properties ?? {}).flatMap(([name, child]) => [
        ...(/(api|access|private|secret)_?key$|token$|secret$|password$|credentials?$/i.test(name)
          ? [[...at, name]]
          : []),
        ...named(child, [...at, name]),
      ]),
    ];
    const credentialLike = named(z.toJSONSchema(StageInput, { io: 'input', unrepresentable: 'any' }) as Node);
    expect(credentialLike.length).toBeGreaterThan(0);
    for (const path of credentialLike) expect(SECRET_STAGE_INPUT_PATHS).toContainEqual(path);
    // Values at marked paths, arrays included; an absent or empty branch holds none.
    expect(holdsSecret({ config: { llm: { apiKey: 't' } } })).toBe(true);
    expect(holdsSecret({ config: { llm: {} } })).toBe(false);
    expect(holdsSecret({ a: [{ k: 1 }, { k: 's' }] }, [['a', '*', 'k']])).toBe(true);
    expect(holdsSecret({ a: [{}] }, [['a', '*', 'k']])).toBe(false);
    expect(secretPaths({ properties: { a: { items: { properties: { k: { secret: true } } } } } })).toEqual([
      ['a', '*', 'k'],
    ]);
  });

  it('an input with nothing secret and small travels in the pod (annotation, downward API file), else in a Secret', () => {
    const { gatewayURL: _url, gatewayToken: _token, ...noToken } = podInput;
    const plain = stageInputFor(noToken);
    const encoded = encodeStageInput(plain);
    const inline = inlineStageInput(plain, encoded);
    expect(inline).toBe(encoded.gzip.toString('base64'));
    // A gateway token is never put in a pod; nor an input past the annotation budget.
    const withToken = stageInputFor(podInput);
    expect(inlineStageInput(withToken, encodeStageInput(withToken))).toBeUndefined();
    const bulky = SWEInstance.parse({
      ...instance,
      spec: { ...instance.spec, patch: randomBytes(MAX_INLINE_STAGE_INPUT_BYTES).toString('base64') },
    });
    const big = stageInputFor({ ...noToken, instance: bulky });
    expect(inlineStageInput(big, encodeStageInput(big))).toBeUndefined();

    const inPod = buildStagePod({ ...noToken, inlineInput: inline! });
    expect(inPod.metadata.annotations[STAGE_INPUT_ANNOTATION]).toBe(inline);
    expect(carriesInput(inPod)).toBe(true);
    expect(carriesInput(pod)).toBe(false);
    const inPodSpec = inPod.spec as typeof spec;
    expect(inPodSpec.volumes).toContainEqual({
      name: 'stage-input',
      downwardAPI: {
        defaultMode: 0o444,
        items: [
          {
            path: 'stage-input.json.gz.b64',
            fieldRef: { fieldPath: "metadata.annotations['scaleswe.dev/stage-input']" },
          },
        ],
      },
    });
    expect(inPodSpec.volumes.some((v) => v.secret)).toBe(false);
    const agent = inPodSpec.containers[0]!;
    expect(agent.env).toContainEqual({
      name: 'SCALESWE_STAGE_INPUT_FILE',
      value: '/var/run/scaleswe/stage-input/stage-input.json.gz.b64',
    });
    expect(agent.volumeMounts).toContainEqual({
      name: 'stage-input',
      mountPath: '/var/run/scaleswe/stage-input',
      readOnly: true,
    });
    // The runner reads both files: the annotation's base64 and a Secret's gzip.
    expect(StageInput.parse(JSON.parse(decodeStageInputFile(Buffer.from(inline!))))).toEqual(plain);
    expect(StageInput.parse(JSON.parse(decodeStageInputFile(encoded.gzip)))).toEqual(plain);
    // Grading and solve pods never carry theirs inline.
    const solve = buildSolvePod({
      ...noToken,
      inlineInput: inline!,
      kind: 'grade',
      solveAttempt: 1,
      podTry: 1,
    });
    expect(carriesInput(solve)).toBe(false);
    expect((solve.spec as typeof spec).volumes).toContainEqual(
      expect.objectContaining({ name: 'stage-input', secret: expect.anything() }),
    );
  });

  it('keeps long names within Kubernetes limits, deterministically', () => {
    const long = `run.${'x'.repeat(260)}`;
    expect(stagePodName(long, 'env', 1).length).toBeLessThanOrEqual(253);
    expect(stagePodName(long, 'env', 1)).toBe(stagePodName(long, 'env', 1));
    expect(stagePodName(long, 'env', 1)).not.toBe(stagePodName(long, 'env', 2));
    expect(labelValue(long)).toMatch(/^[a-z0-9]([-a-z0-9_.]{0,61}[a-z0-9])?$/);
  });
});

describe('solve pods', () => {
  const base = {
    run,
    instance,
    attempt: 1003,
    namespace: 'ns',
    runnerImage: 'scaleswe/operator:0.1.0',
    image: 'scaleswe/sandbox-python:0.1.0',
    envImage: { image: 'registry.local/env@sha256:abc' },
    gatewayURL: 'http://gateway:8080/v1',
    gatewayToken: 'pod-token',
    solveAttempt: 3,
    podTry: 1,
  };

  it("are the verify stage's sandbox in the environment image, owned by the instance, named per attempt and try", () => {
    const solve = buildSolvePod({ ...base, kind: 'solve' });
    const verify = buildStagePod({ ...base, stage: 'verify' });
    expect(solve.metadata.name).toBe('run-1.acme.widgets-42-solve-3-1');
    expect(solve.metadata.labels).toMatchObject({
      'scaleswe.dev/run': 'run-1',
      'scaleswe.dev/instance': 'run-1.acme.widgets-42',
      'scaleswe.dev/stage': 'solve',
      'scaleswe.dev/attempt': '3',
    });
    expect(solve.metadata.ownerReferences).toEqual([
      expect.objectContaining({
        kind: 'SWEInstance',
        name: 'run-1.acme.widgets-42',
        uid: 'inst-uid',
        controller: true,
      }),
    ]);
    const spec = solve.spec as {
      containers: Array<{ image: string }>;
      volumes: Array<{ secret?: { secretName: string } }>;
    };
    expect(spec.containers[0]!.image).toBe('registry.local/env@sha256:abc');
    expect(spec.volumes.find((v) => v.secret)?.secret?.secretName).toBe(
      stageInputSecretName(solve.metadata.name),
    );
    expect((solve.spec as { activeDeadlineSeconds: number }).activeDeadlineSeconds).toBe(
      (verify.spec as { activeDeadlineSeconds: number }).activeDeadlineSeconds,
    );
    expect(JSON.stringify(solve)).not.toContain('pod-token');

    const grade = buildSolvePod({ ...base, kind: 'grade', podTry: 2 });
    expect(grade.metadata.name).toBe('run-1.acme.widgets-42-solvegrade-3-2');
    expect(grade.metadata.labels['scaleswe.dev/stage']).toBe('solve-grade');
  });
});

describe('classifyPodFailure', () => {
  const created = '2026-01-01T00:00:00Z';
  const at = (seconds: number) => new Date(Date.parse(created) + seconds * 1000);
  const base = { metadata: { name: 'p', creationTimestamp: created } };

  it('leaves healthy pods alone', () => {
    expect(classifyPodFailure({ ...base, status: { phase: 'Running' } })).toBeUndefined();
    expect(classifyPodFailure({ ...base, status: { phase: 'Succeeded' } })).toBeUndefined();
    expect(
      classifyPodFailure(
        { ...base, status: { phase: 'Pending' } },
        { now: at(30), pendingTimeoutSeconds: 60 },
      ),
    ).toBeUndefined();
  });

  it.each([
    [
      'OOMKilled',
      {
        phase: 'Failed',
        containerStatuses: [{ name: 'agent', state: { terminated: { reason: 'OOMKilled', exitCode: 137 } } }],
      },
    ],
    ['DeadlineExceeded', { phase: 'Failed', reason: 'DeadlineExceeded', message: 'Pod was active too long' }],
    ['Evicted', { phase: 'Failed', reason: 'Evicted', message: 'The node was low on resource: memory.' }],
    [
      'ImagePullFailed',
      {
        phase: 'Pending',
        containerStatuses: [{ name: 'agent', state: { waiting: { reason: 'ImagePullBackOff' } } }],
      },
    ],
    [
      'AgentCrashed',
      {
        phase: 'Failed',
        containerStatuses: [{ name: 'agent', state: { terminated: { exitCode: 2, message: 'boom' } } }],
      },
    ],
  ])('%s', (reason, status) => {
    expect(classifyPodFailure({ ...base, status })).toMatchObject({ reason });
  });

  it('times out pods that never start', () => {
    expect(
      classifyPodFailure(
        { ...base, status: { phase: 'Pending' } },
        { now: at(61), pendingTimeoutSeconds: 60 },
      ),
    ).toMatchObject({ reason: 'PendingTimeout' });
  });
});
