import {
  type CurationRun,
  type OwnerReference,
  type Stage,
  type SWEInstance,
  stageTimeoutSeconds,
} from '../api/index.ts';
import { languageCacheEnv } from '../languages/index.ts';
import { preparedEnvironmentEnv } from './env-image-pod.ts';
import {
  GRADE_POD_STAGE,
  LABEL_ATTEMPT,
  LABEL_EVALUATION,
  LABEL_INSTANCE,
  LABEL_MANAGED_BY,
  LABEL_RUN,
  LABEL_STAGE,
  labelValue,
  MANAGED_BY,
  SOLVE_GRADE_POD_STAGE,
  SOLVE_POD_STAGE,
  type SolvePodKind,
  solvePodName,
  stageInputSecretName,
  stagePodName,
} from './names.ts';
import {
  STAGE_INPUT_ANNOTATION,
  STAGE_INPUT_DIR,
  STAGE_INPUT_FILE_ENV,
  STAGE_INPUT_INLINE_KEY,
  STAGE_INPUT_KEY,
} from './stage-input.ts';

/** Where the init container puts the runner (node + bundled agent) inside the sandbox. */
export const RUNNER_MOUNT = '/scaleswe';
/** Where the runner image keeps the bundle it copies. */
export const RUNNER_SOURCE = '/opt/scaleswe';
export const WORKSPACE_MOUNT = '/workspace';
/** The stage's package caches and tool homes (the image's root may not be writable, user.home may be /root). */
export const POD_CACHE_DIR = `${WORKSPACE_MOUNT}/.cache`;

/** The same cache environment a local stage gets, under the pod's workspace. */
function podCacheEnv(): Array<{ name: string; value: string }> {
  const env = { XDG_CACHE_HOME: POD_CACHE_DIR, ...languageCacheEnv(POD_CACHE_DIR) };
  return Object.entries(env).map(([name, value]) => ({ name, value }));
}

export interface StagePodInput {
  run: CurationRun;
  instance: SWEInstance;
  stage: Stage;
  attempt: number;
  namespace: string;
  runnerImage: string;
  image: string;
  /**
   * The instance's environment image (by digest) to run instead of `image`: the checkout and
   * its installed environment are in it, with HOME and caches (sandbox/env-image-pod.ts).
   */
  envImage?: { image: string; pullSecret?: string };
  /** The operator's LLM gateway; the pod never sees a provider key. */
  gatewayURL?: string;
  gatewayToken?: string;
  /**
   * The encoded input, carried in the pod's annotation (stage-input.ts `inlineStageInput`:
   * nothing secret in it); absent: the pod mounts its input Secret.
   */
  inlineInput?: string;
}

/** A plain object shaped like a V1Pod; only kube/ turns it into an API call. */
export interface PodManifest {
  apiVersion: 'v1';
  kind: 'Pod';
  metadata: {
    name: string;
    namespace: string;
    labels: Record<string, string>;
    annotations: Record<string, string>;
    ownerReferences: Array<Required<OwnerReference>>;
  };
  spec: Record<string, unknown>;
}

const restrictedSecurityContext = {
  allowPrivilegeEscalation: false,
  capabilities: { drop: ['ALL'] },
  seccompProfile: { type: 'RuntimeDefault' },
};

export function buildStagePod(input: StagePodInput): PodManifest {
  const { run, instance, stage, attempt } = input;
  const instanceName = instance.metadata.name ?? '';
  const runName = run.metadata.name ?? '';
  const resources = run.spec.agents.resources;
  const deadline = stageTimeoutSeconds(run.spec.agents.timeouts, stage);
  const name = stagePodName(instanceName, stage, attempt);
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: {
      name,
      namespace: input.namespace,
      labels: {
        [LABEL_RUN]: labelValue(runName),
        [LABEL_INSTANCE]: labelValue(instanceName),
        [LABEL_STAGE]: stage,
        [LABEL_ATTEMPT]: String(attempt),
        [LABEL_MANAGED_BY]: MANAGED_BY,
      },
      annotations: {
        'scaleswe.dev/instance-id': instance.spec.instanceId,
        ...(input.inlineInput !== undefined && { [STAGE_INPUT_ANNOTATION]: input.inlineInput }),
      },
      ownerReferences: [
        {
          apiVersion: instance.apiVersion,
          kind: 'SWEInstance',
          name: instanceName,
          uid: instance.metadata.uid ?? '',
          controller: true,
          blockOwnerDeletion: true,
        },
      ],
    },
    spec: {
      restartPolicy: 'Never',
      activeDeadlineSeconds: deadline,
      automountServiceAccountToken: false,
      enableServiceLinks: false,
      ...(run.spec.sandbox.runtimeClassName && { runtimeClassName: run.spec.sandbox.runtimeClassName }),
      ...(input.envImage?.pullSecret && { imagePullSecrets: [{ name: input.envImage.pullSecret }] }),
      securityContext: { seccompProfile: { type: 'RuntimeDefault' } },
      volumes: [
        { name: 'runner', emptyDir: {} },
        { name: 'workspace', emptyDir: {} },
        // The Secret is created right after the pod, owned by it: the kubelet waits for it.
        // 0444: the agent container runs as whatever user its language image has; only
        // that container mounts it, and everything in it is the agent's own trust domain.
        input.inlineInput === undefined
          ? { name: 'stage-input', secret: { secretName: stageInputSecretName(name), defaultMode: 0o444 } }
          : {
              name: 'stage-input',
              downwardAPI: {
                defaultMode: 0o444,
                items: [
                  {
                    path: STAGE_INPUT_INLINE_KEY,
                    fieldRef: { fieldPath: `metadata.annotations['${STAGE_INPUT_ANNOTATION}']` },
                  },
                ],
              },
            },
      ],
      initContainers: [
        {
          name: 'install-runner',
          image: input.runnerImage,
          // Not `cp -a`: a non-root init container cannot set times/owner on the emptyDir root.
          command: ['cp', '-R', `${RUNNER_SOURCE}/.`, `${RUNNER_MOUNT}/`],
          volumeMounts: [{ name: 'runner', mountPath: RUNNER_MOUNT }],
          securityContext: restrictedSecurityContext,
          resources: { requests: { cpu: '50m', memory: '64Mi' }, limits: { memory: '256Mi' } },
          terminationMessagePolicy: 'FallbackToLogsOnError',
        },
      ],
      containers: [
        {
          name: 'agent',
          image: input.envImage?.image ?? input.image,
          command: [`${RUNNER_MOUNT}/bin/node`, `${RUNNER_MOUNT}/agent/main.js`, stage],
          workingDir: WORKSPACE_MOUNT,
          env: [
            {
              name: STAGE_INPUT_FILE_ENV,
              value: `${STAGE_INPUT_DIR}/${input.inlineInput === undefined ? STAGE_INPUT_KEY : STAGE_INPUT_INLINE_KEY}`,
            },
            // From an environment image: the HOME and caches the setup filled, inside the image.
            ...(input.envImage
              ? preparedEnvironmentEnv()
              : [{ name: 'HOME', value: WORKSPACE_MOUNT }, ...podCacheEnv()]),
          ],
          volumeMounts: [
            { name: 'runner', mountPath: RUNNER_MOUNT, readOnly: true },
            { name: 'workspace', mountPath: WORKSPACE_MOUNT },
            { name: 'stage-input', mountPath: STAGE_INPUT_DIR, readOnly: true },
          ],
          securityContext: restrictedSecurityContext,
          ...((resources.requests || resources.limits) && { resources }),
          terminationMessagePolicy: 'FallbackToLogsOnError',
        },
      ],
    },
  };
}

/** An Evaluation's grading pod: the verify stage's pod of the instance, with the patch in its input. */
export interface GradePodInput extends Omit<StagePodInput, 'stage' | 'gatewayURL' | 'gatewayToken'> {
  name: string;
  /** The Evaluation, as the pod's controlling owner (its garbage collection takes the pod). */
  owner: Required<OwnerReference>;
}

/** The verify stage's pod of the instance under another name, labels and owner. Pure. */
function verifyPodAs(
  input: Omit<StagePodInput, 'stage'>,
  name: string,
  labels: Record<string, string>,
  owner: Required<OwnerReference>,
): PodManifest {
  // Grading and solve pods keep their input in a Secret (the solving agent's holds a token).
  const { inlineInput: _inline, ...secretInput } = input as StagePodInput;
  const pod = buildStagePod({ ...secretInput, stage: 'verify' });
  return {
    ...pod,
    metadata: {
      ...pod.metadata,
      name,
      labels: { ...pod.metadata.labels, ...labels },
      ownerReferences: [owner],
    },
    spec: {
      ...pod.spec,
      volumes: (pod.spec.volumes as Array<{ name: string; secret?: { secretName: string } }>).map((v) =>
        v.secret ? { ...v, secret: { ...v.secret, secretName: stageInputSecretName(name) } } : v,
      ),
    },
  };
}

/**
 * The same sandbox as a stage pod — the verify stage's image (or the instance's environment
 * image), deadline, resources, runtime class, and the run's label, so the run's NetworkPolicy
 * confines it — owned by the Evaluation instead of the instance, with no LLM gateway.
 */
export function buildGradePod(input: GradePodInput): PodManifest {
  return verifyPodAs(
    input,
    input.name,
    { [LABEL_STAGE]: GRADE_POD_STAGE, [LABEL_EVALUATION]: labelValue(input.owner.name) },
    input.owner,
  );
}

export interface SolvePodInput extends Omit<StagePodInput, 'stage'> {
  kind: SolvePodKind;
  /** The solve attempt (spec.solve) and which pod of it this is. */
  solveAttempt: number;
  podTry: number;
}

/**
 * A solve attempt's pod (spec.solve), owned by the instance: the verify stage's sandbox — its
 * image or the environment image, deadline, resources, the run's NetworkPolicy — running the
 * solving agent or, for `grade`, the grader on the submitted patch (its input says which).
 */
export function buildSolvePod(input: SolvePodInput): PodManifest {
  // The gateway token is in the input Secret, never in the spec.
  const { kind, solveAttempt, podTry, gatewayURL: _url, gatewayToken: _token, ...rest } = input;
  const instanceName = input.instance.metadata.name ?? '';
  return verifyPodAs(
    rest,
    solvePodName(instanceName, kind, solveAttempt, podTry),
    {
      [LABEL_STAGE]: kind === 'solve' ? SOLVE_POD_STAGE : SOLVE_GRADE_POD_STAGE,
      [LABEL_ATTEMPT]: String(solveAttempt),
    },
    {
      apiVersion: input.instance.apiVersion,
      kind: 'SWEInstance',
      name: instanceName,
      uid: input.instance.metadata.uid ?? '',
      controller: true,
      blockOwnerDeletion: true,
    },
  );
}
