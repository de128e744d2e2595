import { gzipSync } from 'node:zlib';
import type { StageInput } from '../api/index.ts';
import { stageInputSecretName } from './names.ts';

/**
 * A stage's input travels in a Secret owned by its pod, mounted as a file: an env var is
 * capped at 128 KiB by the kernel (MAX_ARG_STRLEN: big PRs failed with E2BIG) and pod specs
 * are readable by anyone who may `get pods` (the input holds the pod's gateway token).
 */
export const STAGE_INPUT_KEY = 'stage-input.json.gz';
/** Where the agent container mounts the Secret (the service-account token's neighbourhood). */
export const STAGE_INPUT_DIR = '/var/run/scaleswe/stage-input';
/** The runner reads the gzip JSON from the file this names. */
export const STAGE_INPUT_FILE_ENV = 'SCALESWE_STAGE_INPUT_FILE';
/** The API server rejects a Secret whose data add up to more (MaxSecretSize). */
export const MAX_STAGE_INPUT_BYTES = 1024 * 1024;

export interface EncodedStageInput {
  gzip: Buffer;
  jsonBytes: number;
}

/** gzip(JSON): patches compress well, and a Secret holds at most 1 MiB. */
export function encodeStageInput(input: StageInput): EncodedStageInput {
  const json = Buffer.from(JSON.stringify(input));
  return { gzip: gzipSync(json, { level: 9 }), jsonBytes: json.length };
}

/**
 * Pure: why this input cannot be delivered, or undefined when it fits. Retrying would not
 * shrink it, so the caller fails the instance instead of creating a pod that never starts.
 */
export function stageInputTooLarge(
  encoded: EncodedStageInput,
  limit = MAX_STAGE_INPUT_BYTES,
): { reason: 'StageInputTooLarge'; message: string } | undefined {
  if (encoded.gzip.length <= limit) return undefined;
  return {
    reason: 'StageInputTooLarge',
    message: `stage input is ${encoded.gzip.length} bytes gzipped (${encoded.jsonBytes} bytes of JSON); a Secret holds at most ${limit} bytes`,
  };
}

/** A plain object shaped like a V1Secret; only kube/ turns it into an API call. */
export interface SecretManifest {
  apiVersion: 'v1';
  kind: 'Secret';
  metadata: {
    name: string;
    namespace: string;
    labels: Record<string, string>;
    ownerReferences: Array<{ apiVersion: 'v1'; kind: 'Pod'; name: string; uid: string; controller: true }>;
  };
  type: 'Opaque';
  immutable: true;
  data: Record<string, string>;
}

/** The pod a stage-input Secret belongs to, as created (its uid is the owner reference). */
export interface StagePodRef {
  metadata: { name?: string; namespace?: string; uid?: string; labels?: Record<string, string> };
}

/**
 * Pure: the Secret a stage pod mounts, owned by the pod so the garbage collector deletes it
 * with the pod. No blockOwnerDeletion: that would need update on pods/finalizers.
 * Immutable: nothing rewrites it, and the kubelet then need not watch it.
 */
export function buildStageInputSecret(pod: StagePodRef, gzip: Buffer): SecretManifest {
  const podName = pod.metadata.name ?? '';
  return {
    apiVersion: 'v1',
    kind: 'Secret',
    metadata: {
      name: stageInputSecretName(podName),
      namespace: pod.metadata.namespace ?? '',
      labels: { ...pod.metadata.labels },
      ownerReferences: [
        { apiVersion: 'v1', kind: 'Pod', name: podName, uid: pod.metadata.uid ?? '', controller: true },
      ],
    },
    type: 'Opaque',
    immutable: true,
    data: { [STAGE_INPUT_KEY]: gzip.toString('base64') },
  };
}
