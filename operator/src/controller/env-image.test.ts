import { describe, expect, it } from 'vitest';
import {
  CurationRun,
  ENV_IMAGE_CHECKOUT,
  type EnvImageResult,
  type StageResultArg,
  SWEInstance,
} from '../api/index.ts';
import { buildStagePod, decodeStageResult, encodeResultEnvelope } from '../sandbox/index.ts';
import { envImageToDelete } from './env-image.ts';
import { type ObservedStagePod, planInstance } from './instance-plan.ts';
import { stageInputOfPod, withEnvironmentDefaults } from './swe-instance-reconciler.ts';

const now = new Date('2026-03-01T12:00:00Z');
const KEY = 'c'.repeat(64);
const DIGEST = `sha256:${'d'.repeat(64)}`;
const IMAGE = `reg.local:5000/scaleswe/envs@${DIGEST}`;

const run = (environment: Record<string, unknown> = { registry: 'reg.local:5000/scaleswe/envs' }) =>
  CurationRun.parse({
    apiVersion: 'scaleswe.dev/v1alpha1',
    kind: 'CurationRun',
    metadata: { name: 'r', namespace: 'ns', generation: 1 },
    spec: { source: { git: { url: '/srv/a/b.git' } }, agents: { maxAttempts: 2 }, environment },
  });

const instance = (status?: SWEInstance['status']) =>
  SWEInstance.parse({
    apiVersion: 'scaleswe.dev/v1alpha1',
    kind: 'SWEInstance',
    metadata: { name: 'r.a.b-7', namespace: 'ns', generation: 1, uid: 'u' },
    spec: {
      instanceId: 'a__b-7',
      runRef: 'r',
      repo: 'a/b',
      cloneURL: '/srv/a/b.git',
      pullNumber: 7,
      baseCommit: 'b'.repeat(40),
      patch: 'diff',
      createdAt: '2026-01-01T00:00:00Z',
      language: 'python',
    },
    ...(status && { status }),
  });

const envResult = decodeStageResult({
  terminationMessage: encodeResultEnvelope({
    stage: 'env',
    outcome: 'succeeded',
    reason: 'EnvReady',
    message: '',
    durationMs: 1,
    recipe: { setupScript: 'pip install -e .', testCommand: 'pytest', resultFormat: 'pytest' },
    environment: { key: KEY },
  } satisfies StageResultArg),
});

const pushPod = (name: string, result: EnvImageResult): ObservedStagePod => ({
  metadata: { name, creationTimestamp: now.toISOString() },
  status: {
    phase: 'Succeeded',
    containerStatuses: [
      { name: 'push', state: { terminated: { exitCode: 0, message: JSON.stringify(result) } } },
    ],
  },
});

/** An instance whose env stage just succeeded (the plan that read its result). */
function afterEnv(r = run()) {
  const started = planInstance({ instance: instance(), run: r, pods: [], now }).status;
  const envPod: ObservedStagePod = { metadata: { name: 'r.a.b-7-env-1' }, status: { phase: 'Succeeded' } };
  return planInstance({
    instance: instance(started),
    run: r,
    pods: [envPod],
    now,
    results: new Map([['r.a.b-7-env-1', envResult]]),
  });
}

describe('environment image step', () => {
  it('after EnvReady builds the image before any later stage starts; without a registry tests start at once', () => {
    const plan = afterEnv();
    expect(plan.createPod).toBeUndefined();
    expect(plan.createEnvImagePod).toEqual({ attempt: 1, name: 'r.a.b-7-envimage-1' });
    expect([plan.deletePods, plan.deleteAllPods]).toEqual([[], []]); // the finished env pod waits for the instance
    expect(plan.status.conditions?.find((c) => c.type === 'EnvImageReady')).toMatchObject({
      status: 'Unknown',
      reason: 'Building',
    });

    const plain = afterEnv(run({}));
    expect(plain.createEnvImagePod).toBeUndefined();
    expect(plain.createPod).toMatchObject({ stage: 'tests' });
  });

  it('records the pushed digest, deletes the build pod and starts tests from the image by digest, with no setup', () => {
    const building = afterEnv().status;
    const pushed = pushPod('r.a.b-7-envimage-1', {
      outcome: 'pushed',
      reason: 'Pushed',
      message: 'pushed',
      image: IMAGE,
      digest: DIGEST,
      durationMs: 5,
    });
    const plan = planInstance({ instance: instance(building), run: run(), pods: [pushed], now });
    expect(plan.status.environment).toEqual({ key: KEY, image: IMAGE, digest: DIGEST });
    expect(plan.createPod).toMatchObject({ stage: 'tests', attempt: 1 });
    expect([plan.deletePods, plan.deleteAllPods]).toEqual([[], []]); // the finished build pod waits too

    const owner = instance(plan.status);
    const podInput = {
      run: run({ registry: 'reg.local:5000/scaleswe/envs', pullSecretRef: { name: 'pull' } }),
      instance: owner,
      stage: 'tests' as const,
      attempt: 1,
      namespace: 'ns',
      runnerImage: 'scaleswe/operator:0.1.0',
      image: 'scaleswe/sandbox-python:0.1.0',
      envImage: { image: IMAGE, pullSecret: 'pull' },
    };
    const manifest = buildStagePod(podInput);
    const spec = manifest.spec as {
      imagePullSecrets: unknown;
      containers: Array<{ image: string; env: Array<{ name: string; value: string }> }>;
    };
    expect(spec.containers[0]!.image).toBe(IMAGE);
    expect(spec.imagePullSecrets).toEqual([{ name: 'pull' }]);
    expect(spec.containers[0]!.env).toContainEqual({ name: 'HOME', value: '/scaleswe-env/home' });
    expect(stageInputOfPod(podInput).prepared).toMatchObject({
      dir: ENV_IMAGE_CHECKOUT,
      environment: { key: KEY, digest: DIGEST },
      recipe: { setupScript: 'pip install -e .' },
    });
  });

  it('adopts the image of another instance with the same environment key instead of building', () => {
    const ready = {
      type: 'EnvImageReady',
      status: 'True' as const,
      reason: 'Pushed',
      message: '',
      lastTransitionTime: now.toISOString(),
    };
    const donor = {
      spec: instance().spec,
      status: {
        phase: 'Verify' as const,
        environment: { key: KEY, image: IMAGE, digest: DIGEST },
        conditions: [ready],
      },
    };
    // Another base commit without the local sharing rule's conditions: built, not adopted.
    const elsewhere = { ...donor, spec: { ...donor.spec, baseCommit: 'e'.repeat(40) } };
    const own = afterEnv().status;
    expect(
      planInstance({ instance: instance(own), run: run(), pods: [], now, envImageDonors: [elsewhere] })
        .createEnvImagePod,
    ).toEqual({ attempt: 1, name: 'r.a.b-7-envimage-1' });

    const first = planInstance({ instance: instance(), run: run(), pods: [], now }).status;
    const envPod: ObservedStagePod = { metadata: { name: 'r.a.b-7-env-1' }, status: { phase: 'Succeeded' } };
    const plan = planInstance({
      instance: instance(first),
      run: run(),
      pods: [envPod],
      now,
      results: new Map([['r.a.b-7-env-1', envResult]]),
      envImageDonors: [donor],
    });
    expect(plan.createEnvImagePod).toBeUndefined();
    expect(plan.createPod).toMatchObject({ stage: 'tests' });
    expect(plan.status.environment?.digest).toBe(DIGEST);
  });

  it('retries registry and build failures with backoff, then fails the instance: never a verdict', () => {
    const building = afterEnv().status;
    const refused = pushPod('r.a.b-7-envimage-1', {
      outcome: 'failed',
      reason: 'RegistryUnauthorized',
      message: 'registry reg.local:5000 refused the credentials',
      durationMs: 5,
    });
    const retry = planInstance({ instance: instance(building), run: run(), pods: [refused], now });
    expect(retry.status).toMatchObject({
      phase: 'Tests',
      environmentBuilds: 1,
      lastError: { reason: 'RegistryUnauthorized' },
      retryAfter: new Date(now.getTime() + 10_000).toISOString(),
    });
    expect(retry.requeueAfterMs).toBe(10_000);
    expect(retry.createPod).toBeUndefined();
    expect(retry.createEnvImagePod).toBeUndefined();
    expect(retry.deleteAllPods).toEqual(['r.a.b-7-envimage-1']);

    // Backoff passed: attempt 2, whose pod cannot pull the sandbox image.
    const second = planInstance({
      instance: instance(retry.status),
      run: run(),
      pods: [],
      now: new Date(now.getTime() + 11_000),
    });
    expect(second.createEnvImagePod).toEqual({ attempt: 2, name: 'r.a.b-7-envimage-2' });
    const pullFailing: ObservedStagePod = {
      metadata: { name: 'r.a.b-7-envimage-2', creationTimestamp: now.toISOString() },
      status: {
        phase: 'Pending',
        initContainerStatuses: [
          { name: 'prepare', state: { waiting: { reason: 'ErrImagePull', message: 'not found' } } },
        ],
      },
    };
    const failed = planInstance({ instance: instance(second.status), run: run(), pods: [pullFailing], now });
    expect(failed.status).toMatchObject({ phase: 'Failed', lastError: { reason: 'ImagePullFailed' } });
    expect(failed.status.conditions?.find((c) => c.type === 'EnvImageReady')).toMatchObject({
      status: 'False',
      reason: 'ImagePullFailed',
    });
    expect(failed.createPod).toBeUndefined();
  });

  it('retention: a Rejected instance image is deleted unless an instance still uses it', () => {
    const ready = {
      type: 'EnvImageReady',
      status: 'True' as const,
      reason: 'Pushed',
      message: '',
      lastTransitionTime: now.toISOString(),
    };
    const env = { key: KEY, image: IMAGE, digest: DIGEST };
    const rejected = { phase: 'Rejected' as const, environment: env, conditions: [ready] };
    expect(envImageToDelete(run(), rejected, [])).toBe(IMAGE);
    expect(envImageToDelete(run(), rejected, [{ phase: 'Tests', environment: env }])).toBeUndefined();
    expect(envImageToDelete(run(), rejected, [{ phase: 'Verified', environment: env }])).toBeUndefined();
    expect(envImageToDelete(run(), rejected, [{ phase: 'Rejected', environment: env }])).toBe(IMAGE);
    expect(envImageToDelete(run(), { ...rejected, phase: 'Verified' }, [])).toBeUndefined();
    const none = run({ registry: 'reg.local:5000/scaleswe/envs', retention: 'none' });
    expect(envImageToDelete(none, { ...rejected, phase: 'Verified' }, [])).toBe(IMAGE);
    // Already deleted (condition False): nothing more to do.
    expect(
      envImageToDelete(run(), { ...rejected, conditions: [{ ...ready, status: 'False' as const }] }, []),
    ).toBeUndefined();
  });
});

describe('chart default registry', () => {
  it('applies to runs that name no registry, as one unit; a run naming its own keeps all of its settings', () => {
    const defaults = { registry: 'chart.local:5000/envs', plainHTTP: true, pushSecretRef: { name: 'push' } };
    const none = withEnvironmentDefaults(run({}), defaults);
    expect(none.spec.environment).toMatchObject(defaults);
    expect(afterEnv(none).createEnvImagePod).toEqual({ attempt: 1, name: 'r.a.b-7-envimage-1' });
    const own = withEnvironmentDefaults(run({ registry: 'own.local/envs' }), defaults);
    expect(own.spec.environment).toMatchObject({ registry: 'own.local/envs', plainHTTP: false });
    expect(own.spec.environment.pushSecretRef).toBeUndefined();
    expect(withEnvironmentDefaults(run({}), undefined).spec.environment.registry).toBeUndefined();
  });
});
