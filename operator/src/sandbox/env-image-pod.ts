import {
  type CurationRun,
  ENV_IMAGE_CACHE,
  ENV_IMAGE_CHECKOUT,
  ENV_IMAGE_HOME,
  ENV_IMAGE_ROOT,
  type SWEInstance,
  stageTimeoutSeconds,
} from '../api/index.ts';
import { languageCacheEnv, lockReplayEnv } from '../languages/index.ts';
import {
  envImagePodName,
  LABEL_ATTEMPT,
  LABEL_INSTANCE,
  LABEL_MANAGED_BY,
  LABEL_RUN,
  LABEL_STAGE,
  labelValue,
  MANAGED_BY,
} from './names.ts';
import { type PodManifest, RUNNER_SOURCE } from './pod.ts';

/**
 * The environment image build pod. Two trust domains, one pod, no privileges:
 * - `prepare` (init, the sandbox image, untrusted): checks out the base commit and replays the
 *   recorded setup into ENV_IMAGE_ROOT, then packs that tree as a gzip tar. It mounts no
 *   credentials and gets no service-account token.
 * - `push` (the operator image, trusted): the only container that mounts the push Secret;
 *   appends the packed layer to the sandbox image over the registry API and writes the digest
 *   to its termination message. It never executes anything the setup produced.
 * No builder daemon, no Docker-in-Docker: the layer is a plain tar of the prepared tree, which
 * lives at the same absolute path in the image as in the build (venvs, shebangs stay valid).
 */
export const ENV_IMAGE_PUSH_CONTAINER = 'push';
export const BUILD_DIR = '/scaleswe-build';
const REGISTRY_AUTH_DIR = '/var/run/scaleswe/registry';
/** Setup script and lock travel in env vars; the kernel caps each at 128 KiB (MAX_ARG_STRLEN). */
export const MAX_SETUP_SCRIPT_BYTES = 96 * 1024;

/** HOME and caches of a prepared environment: in the build and in every stage pod that runs it. */
export function preparedEnvironmentEnv(): Array<{ name: string; value: string }> {
  const env = { HOME: ENV_IMAGE_HOME, XDG_CACHE_HOME: ENV_IMAGE_CACHE, ...languageCacheEnv(ENV_IMAGE_CACHE) };
  return Object.entries(env).map(([name, value]) => ({ name, value }));
}

// Each step's exit code goes to $out/status; the push container classifies it. The script
// itself always exits 0 so the pod runs on to the push container, which reports.
const PREPARE_SCRIPT = `set -u
out=${BUILD_DIR}
repo=${ENV_IMAGE_CHECKOUT}
mark() { echo "$1 $2" > "$out/status"; }
mkdir -p "$repo" "$HOME" "$XDG_CACHE_HOME" && cd "$repo" || { mark checkout 1; exit 0; }
{ git init -q . \\
  && { git fetch -q --depth=1 --no-tags "$SCALESWE_CLONE_URL" "$SCALESWE_BASE_COMMIT" \\
       || git fetch -q --no-tags "$SCALESWE_CLONE_URL" '+refs/heads/*:refs/scaleswe-tmp/*'; } \\
  && git checkout -q --detach "$SCALESWE_BASE_COMMIT" \\
  && git for-each-ref --format='delete %(refname)' | git update-ref --stdin \\
  && rm -f .git/FETCH_HEAD .git/ORIG_HEAD .git/packed-refs \\
  && git reflog expire --expire=now --all \\
  && git gc -q --prune=now; } > "$out/checkout.log" 2>&1 || { mark checkout $?; exit 0; }
printf '%s' "$SCALESWE_SETUP_SCRIPT" > "$out/setup.sh"
printf '%s' "$SCALESWE_LOCK" > "$out/environment.lock"
bash "$out/setup.sh" > "$out/setup.log" 2>&1 || { mark setup $?; exit 0; }
# What setup created untracked (.venv, node_modules) is excluded, so stages' resets keep it.
git ls-files --others --exclude-standard --directory | sed 's|^|/|' >> .git/info/exclude
tar -C / -czf "$out/layer.tar.gz" ${ENV_IMAGE_ROOT.slice(1)} > "$out/pack.log" 2>&1 || { mark pack $?; exit 0; }
mark pack 0
`;

export interface EnvImagePodInput {
  run: CurationRun;
  instance: SWEInstance;
  attempt: number;
  namespace: string;
  /** The sandbox image the environment is built FROM (must be in a registry the push container reaches). */
  baseImage: string;
  /** repository:tag to push */
  targetImage: string;
  setupScript: string;
  /** The env stage's frozen lock: the replay installs exactly these versions. */
  lock?: string | undefined;
}

const restricted = {
  allowPrivilegeEscalation: false,
  capabilities: { drop: ['ALL'] },
  seccompProfile: { type: 'RuntimeDefault' },
};

export function buildEnvImagePod(input: EnvImagePodInput): PodManifest {
  const { run, instance, attempt } = input;
  const settings = run.spec.environment;
  const instanceName = instance.metadata.name ?? '';
  const resources = run.spec.agents.resources;
  const sizeLimit = settings.buildDiskLimit ? { sizeLimit: settings.buildDiskLimit } : {};
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: {
      name: envImagePodName(instanceName, attempt),
      namespace: input.namespace,
      labels: {
        [LABEL_RUN]: labelValue(run.metadata.name ?? ''),
        [LABEL_INSTANCE]: labelValue(instanceName),
        [LABEL_STAGE]: 'envimage',
        [LABEL_ATTEMPT]: String(attempt),
        [LABEL_MANAGED_BY]: MANAGED_BY,
      },
      annotations: {
        'scaleswe.dev/instance-id': instance.spec.instanceId,
        'scaleswe.dev/image': input.targetImage,
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
      activeDeadlineSeconds: stageTimeoutSeconds(run.spec.agents.timeouts, 'env'),
      automountServiceAccountToken: false,
      enableServiceLinks: false,
      ...(run.spec.sandbox.runtimeClassName && { runtimeClassName: run.spec.sandbox.runtimeClassName }),
      securityContext: { seccompProfile: { type: 'RuntimeDefault' } },
      volumes: [
        { name: 'env', emptyDir: { ...sizeLimit } },
        { name: 'build', emptyDir: { ...sizeLimit } },
        ...(settings.pushSecretRef
          ? [
              {
                name: 'registry-auth',
                secret: {
                  secretName: settings.pushSecretRef.name,
                  items: [{ key: '.dockerconfigjson', path: 'config.json' }],
                },
              },
            ]
          : []),
      ],
      initContainers: [
        {
          name: 'prepare',
          image: input.baseImage,
          command: ['bash', '-c', PREPARE_SCRIPT],
          workingDir: BUILD_DIR,
          env: [
            { name: 'SCALESWE_CLONE_URL', value: instance.spec.cloneURL },
            { name: 'SCALESWE_BASE_COMMIT', value: instance.spec.baseCommit },
            { name: 'SCALESWE_SETUP_SCRIPT', value: input.setupScript },
            { name: 'SCALESWE_LOCK', value: input.lock ?? '' },
            // The language's own way to install from the lock (e.g. pip/uv constraints).
            ...Object.entries(
              input.lock ? lockReplayEnv(instance.spec.language, `${BUILD_DIR}/environment.lock`) : {},
            ).map(([name, value]) => ({ name, value })),
            { name: 'GIT_TERMINAL_PROMPT', value: '0' },
            { name: 'CI', value: '1' },
            ...preparedEnvironmentEnv(),
          ],
          volumeMounts: [
            { name: 'env', mountPath: ENV_IMAGE_ROOT },
            { name: 'build', mountPath: BUILD_DIR },
          ],
          securityContext: restricted,
          ...((resources.requests || resources.limits) && { resources }),
          terminationMessagePolicy: 'FallbackToLogsOnError',
        },
      ],
      containers: [
        {
          name: ENV_IMAGE_PUSH_CONTAINER,
          image: run.spec.agents.runnerImage,
          command: [`${RUNNER_SOURCE}/bin/node`, '/app/push-env-image.mjs'],
          env: [
            { name: 'SCALESWE_BUILD_DIR', value: BUILD_DIR },
            { name: 'SCALESWE_BASE_IMAGE', value: input.baseImage },
            { name: 'SCALESWE_TARGET_IMAGE', value: input.targetImage },
            { name: 'SCALESWE_REGISTRY_PLAIN_HTTP', value: String(settings.plainHTTP) },
            ...(settings.pushSecretRef
              ? [{ name: 'SCALESWE_REGISTRY_AUTH_FILE', value: `${REGISTRY_AUTH_DIR}/config.json` }]
              : []),
          ],
          volumeMounts: [
            { name: 'build', mountPath: BUILD_DIR, readOnly: true },
            ...(settings.pushSecretRef
              ? [{ name: 'registry-auth', mountPath: REGISTRY_AUTH_DIR, readOnly: true }]
              : []),
          ],
          securityContext: { ...restricted, runAsNonRoot: true },
          resources: { requests: { cpu: '100m', memory: '128Mi' }, limits: { memory: '1Gi' } },
          terminationMessagePolicy: 'FallbackToLogsOnError',
        },
      ],
    },
  };
}
