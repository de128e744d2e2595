import { describe, expect, it } from 'vitest';
import { CurationRun, type InstanceRecord, type StageResultArg, SWEInstance } from '../api/index.ts';
import { rememberedFor } from '../languages/recipe-memory.ts';
import {
  buildStagePod,
  carriesInput,
  classifyPodFailure,
  encodeResultEnvelope,
  pendingDeadline,
  STAGE_INPUT_ANNOTATION,
} from '../sandbox/index.ts';
import { LAST_APPLIED, slimInstance, slimOwnedResource, slimPod } from './cache-transforms.ts';
import type { RawPod } from './controller-context.ts';
import { observeEnvImagePod } from './env-image.ts';
import { observePod, planInstance, terminationMessageOf } from './instance-plan.ts';
import { ownerKey, type RawObject } from './resources.ts';

const now = new Date('2026-03-01T12:00:00Z');
const created = new Date(now.getTime() - 3_600_000).toISOString();

const run = CurationRun.parse({
  apiVersion: 'scaleswe.dev/v1alpha1',
  kind: 'CurationRun',
  metadata: { name: 'r', namespace: 'ns', generation: 1, uid: 'run-uid' },
  spec: { source: { git: { url: '/srv/a/b.git' } }, agents: { maxAttempts: 2 } },
});

const spec = {
  instanceId: 'a__b-7',
  runRef: 'r',
  repo: 'a/b',
  cloneURL: '/srv/a/b.git',
  pullNumber: 7,
  title: 'Fix the parser',
  body: 'A long PR description. '.repeat(200),
  issues: [{ number: 3, title: 'Parser crash', body: 'Steps to reproduce: '.repeat(100) }],
  baseCommit: 'b'.repeat(40),
  patch: 'diff --git a/x.py b/x.py\n+fixed\n',
  testPatch: 'diff --git a/test_x.py b/test_x.py\n+def test(): pass\n',
  createdAt: '2026-01-01T00:00:00Z',
  mergedAt: '2026-01-02T00:00:00Z',
  language: 'python',
};

const rawInstance = (status?: unknown): RawObject => ({
  apiVersion: 'scaleswe.dev/v1alpha1',
  kind: 'SWEInstance',
  metadata: {
    name: 'r.a.b-7',
    namespace: 'ns',
    uid: 'u',
    generation: 1,
    resourceVersion: '42',
    labels: { 'scaleswe.dev/run': 'r' },
    ownerReferences: [
      {
        apiVersion: 'scaleswe.dev/v1alpha1',
        kind: 'CurationRun',
        name: 'r',
        uid: 'run-uid',
        controller: true,
      },
    ],
  },
  spec: structuredClone(spec),
  ...(status !== undefined && { status: structuredClone(status) }),
});

const result = (stage: 'env' | 'verify'): StageResultArg =>
  stage === 'env'
    ? {
        stage,
        outcome: 'succeeded',
        reason: 'EnvReady',
        message: '',
        durationMs: 5,
        recipe: { setupScript: 'pip install -e .', testCommand: 'pytest', resultFormat: 'pytest' },
      }
    : {
        stage,
        outcome: 'rejected',
        reason: 'NoFailToPass',
        message: 'nothing failed before the patch',
        durationMs: 5,
      };

/** A stage pod as the API server returns it (built by the real builder), in a given state. */
function fullPod(status: ServedPodStatus): RawPod {
  const instance = SWEInstance.parse(rawInstance());
  const manifest = buildStagePod({
    run,
    instance,
    stage: 'env',
    attempt: 1,
    namespace: 'ns',
    runnerImage: run.spec.agents.runnerImage,
    image: run.spec.agents.images.python,
  }) as unknown as RawPod;
  return {
    ...manifest,
    metadata: { ...manifest.metadata, uid: 'pod-uid', resourceVersion: '7', creationTimestamp: created },
    status: {
      hostIP: '10.0.0.2',
      podIP: '10.244.0.9',
      qosClass: 'Burstable',
      conditions: [{ type: 'Ready' }],
      ...status,
    },
  } as RawPod;
}

const terminated = (name: string, message: string, exitCode = 0) => ({
  name,
  image: 'img',
  imageID: 'sha256:x',
  ready: false,
  restartCount: 0,
  lastState: {},
  state: {
    terminated: {
      exitCode,
      reason: exitCode ? 'Error' : 'Completed',
      message,
      startedAt: created,
      finishedAt: created,
    },
  },
});

/** Pod statuses as the API server sends them: more fields than the operator's types name. */
type ServedPodStatus = Record<string, unknown>;
const podStates: Record<string, ServedPodStatus> = {
  succeeded: {
    phase: 'Succeeded',
    startTime: created,
    containerStatuses: [terminated('agent', encodeResultEnvelope(result('env')))],
  },
  rejected: {
    phase: 'Succeeded',
    startTime: created,
    containerStatuses: [terminated('agent', encodeResultEnvelope(result('verify')))],
  },
  pendingImagePull: {
    phase: 'Pending',
    initContainerStatuses: [
      {
        name: 'runner',
        ready: false,
        restartCount: 0,
        image: 'i',
        imageID: '',
        state: { waiting: { reason: 'ErrImagePull', message: 'pull access denied' } },
      },
    ],
  },
  pendingTooLong: { phase: 'Pending' },
  deadline: {
    phase: 'Failed',
    reason: 'DeadlineExceeded',
    message: 'Pod was active on the node longer than the specified deadline',
    startTime: created,
  },
  evicted: {
    phase: 'Failed',
    reason: 'Evicted',
    message: 'The node was low on resource: ephemeral-storage.',
  },
  oomKilled: {
    phase: 'Failed',
    startTime: created,
    containerStatuses: [
      { ...terminated('agent', '', 137), state: { terminated: { exitCode: 137, reason: 'OOMKilled' } } },
    ],
  },
  running: {
    phase: 'Running',
    startTime: created,
    containerStatuses: [
      {
        name: 'agent',
        ready: true,
        restartCount: 0,
        image: 'i',
        imageID: '',
        state: { running: { startedAt: created } },
      },
    ],
  },
  envImagePushed: {
    phase: 'Succeeded',
    containerStatuses: [
      terminated('push', JSON.stringify({ outcome: 'pushed', image: 'reg/x@sha256:1', digest: 'sha256:1' })),
    ],
  },
};

describe('slimPod', () => {
  it.each(Object.keys(podStates))(
    'the planners read the same from a slim %s pod as from the full one',
    (state) => {
      const full = fullPod(podStates[state]!);
      const slim = slimPod(structuredClone(full));
      const opts = { now, pendingTimeoutSeconds: 600 };
      expect(observePod(slim, undefined, opts)).toEqual(observePod(full, undefined, opts));
      expect(classifyPodFailure(slim, opts)).toEqual(classifyPodFailure(full, opts));
      expect(pendingDeadline(slim, 600)).toEqual(pendingDeadline(full, 600));
      expect(terminationMessageOf(slim)).toBe(terminationMessageOf(full));
      expect(observeEnvImagePod(slim, opts)).toEqual(observeEnvImagePod(full, opts));
      // The informer's indexes, expectations and input Secrets read metadata: kept whole.
      expect(ownerKey(slim, 'SWEInstance')).toBe('ns/r.a.b-7');
      expect(slim.metadata).toEqual(full.metadata);
    },
  );

  it('plans an instance the same from slim pods', () => {
    const started = planInstance({ instance: SWEInstance.parse(rawInstance()), run, pods: [], now }).status;
    const instance = SWEInstance.parse(rawInstance(started));
    for (const state of Object.keys(podStates)) {
      const full = fullPod(podStates[state]!);
      const plan = (pod: RawPod) => planInstance({ instance, run, pods: [pod], now });
      expect(plan(slimPod(structuredClone(full))), state).toEqual(plan(full));
    }
  });

  it('drops the spec and the status fields nobody reads: a fraction of the bytes', () => {
    const full = fullPod(podStates.succeeded!);
    const slim = slimPod(structuredClone(full));
    expect(slim).not.toHaveProperty('spec');
    expect(slim.status).not.toHaveProperty('podIP');
    expect(slim.status?.containerStatuses?.[0]).toEqual({
      name: 'agent',
      state: (podStates.succeeded!.containerStatuses as { state: unknown }[])[0]!.state,
    });
    const bytes = (o: unknown) => JSON.stringify(o).length;
    expect(bytes(slim)).toBeLessThan(bytes(full) / 2);
  });

  it('drops an input carried in the pod, keeping the key that says it needs no Secret', () => {
    const full = fullPod(podStates.pendingTooLong!);
    const inline = Buffer.alloc(64 * 1024, 7).toString('base64');
    full.metadata.annotations = { ...full.metadata.annotations, [STAGE_INPUT_ANNOTATION]: inline };
    const slim = slimPod(structuredClone(full));
    expect(slim.metadata.annotations?.[STAGE_INPUT_ANNOTATION]).toBe('');
    expect(carriesInput(slim)).toBe(true);
    expect(JSON.stringify(slim).length).toBeLessThan(inline.length / 10);
    expect({ ...slim.metadata, annotations: undefined }).toEqual({
      ...full.metadata,
      annotations: undefined,
    });
  });
});

describe('slimInstance', () => {
  const finishedStatus = {
    phase: 'Verified',
    FAIL_TO_PASS: ['test_x.py::test_a'],
    PASS_TO_PASS: ['test_x.py::test_b'],
    problemStatement: 'The parser fails on empty input.',
    recipe: { setupScript: 'pip install -e .', testCommand: 'pytest', resultFormat: 'pytest' },
    environment: { key: 'c'.repeat(64) },
  };

  it('keeps an instance in flight whole: its stages read the PR text', () => {
    for (const status of [undefined, { phase: 'Env' }, { phase: 'Tests' }]) {
      const raw = rawInstance(status);
      expect(slimInstance(structuredClone(raw))).toEqual(raw);
    }
  });

  it('drops the PR text of a finished instance, never its status', () => {
    const raw = rawInstance(finishedStatus);
    const slim = slimInstance(structuredClone(raw));
    expect(slim.spec).not.toHaveProperty('body');
    expect(slim.spec).not.toHaveProperty('title');
    expect(slim.spec).not.toHaveProperty('issues');
    // Status writes replace the status whole: it must stay exactly as the server has it.
    expect(slim.status).toEqual(raw.status);
    expect(slim.metadata).toEqual(raw.metadata);
    // The reconciler and evaluations still parse it, with everything else they read intact.
    const parsed = SWEInstance.parse(slim);
    const whole = SWEInstance.parse(raw);
    expect({
      ...parsed.spec,
      title: whole.spec.title,
      body: whole.spec.body,
      issues: whole.spec.issues,
    }).toEqual(whole.spec);
    expect(parsed.status).toEqual(whole.status);
  });

  it('recipe memory and planning decide the same from slim finished instances', () => {
    const record = (o: RawObject): InstanceRecord => ({
      spec: SWEInstance.parse(o).spec,
      status: SWEInstance.parse(o).status,
    });
    const donor = rawInstance(finishedStatus);
    const next = SWEInstance.parse({
      ...rawInstance(),
      spec: { ...spec, pullNumber: 8, instanceId: 'a__b-8' },
    }).spec;
    expect(rememberedFor(next, [record(slimInstance(structuredClone(donor)))])).toEqual(
      rememberedFor(next, [record(donor)]),
    );
    const plan = (o: RawObject) => planInstance({ instance: SWEInstance.parse(o), run, pods: [], now });
    expect(plan(slimInstance(structuredClone(donor))).status).toEqual(plan(donor).status);
  });

  it("drops kubectl's last-applied copy from every cached resource", () => {
    const raw = rawInstance();
    raw.metadata.annotations = { [LAST_APPLIED]: JSON.stringify(raw), keep: 'me' };
    expect(slimInstance(structuredClone(raw)).metadata.annotations).toEqual({ keep: 'me' });
    expect(slimOwnedResource(structuredClone(raw)).metadata.annotations).toEqual({ keep: 'me' });
    expect(slimOwnedResource(rawInstance())).toEqual(rawInstance());
  });
});
