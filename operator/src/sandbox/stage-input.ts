import { gunzipSync, gzipSync } from 'node:zlib';
import { z } from 'zod';
import { StageInput } from '../api/index.ts';
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
/** The pod annotation holding an input with nothing secret in it (base64 of the gzip JSON). */
export const STAGE_INPUT_ANNOTATION = 'scaleswe.dev/stage-input';
/** The file the downward API writes that annotation to (the runner reads either form). */
export const STAGE_INPUT_INLINE_KEY = 'stage-input.json.gz.b64';
/** At most this much base64 inline: the API server caps a pod's annotations at 256 KiB together. */
export const MAX_INLINE_STAGE_INPUT_BYTES = 128 * 1024;

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

type SchemaNode = { properties?: Record<string, SchemaNode>; items?: SchemaNode; secret?: unknown };

/** Paths ('*' for array items) of the fields a JSON Schema marks `secret: true` (zod `.meta`). */
export function secretPaths(node: SchemaNode, at: readonly string[] = []): string[][] {
  if (node.secret === true) return [[...at]];
  const inItems = node.items ? secretPaths(node.items, [...at, '*']) : [];
  const inProperties = Object.entries(node.properties ?? {}).flatMap(([name, child]) =>
    secretPaths(child, [...at, name]),
  );
  return [...inItems, ...inProperties];
}

/**
 * The StageInput fields marked secret, read from the schema: a secret field added later is
 * covered by marking it, not by remembering this check (stage-input tests fail on an unmarked
 * field named like a credential).
 */
export const SECRET_STAGE_INPUT_PATHS: readonly string[][] = secretPaths(
  z.toJSONSchema(StageInput, { io: 'input', unrepresentable: 'any' }) as SchemaNode,
);

/** Pure: whether any field at those paths holds a value. */
export function holdsSecret(value: unknown, paths: readonly string[][] = SECRET_STAGE_INPUT_PATHS): boolean {
  const at = (v: unknown, path: readonly string[]): boolean => {
    if (v === undefined || v === null) return false;
    const [head, ...rest] = path;
    if (head === undefined) return true;
    if (head === '*') return Array.isArray(v) && v.some((item) => at(item, rest));
    return typeof v === 'object' && at((v as Record<string, unknown>)[head], rest);
  };
  return paths.some((path) => at(value, path));
}

/**
 * Pure: the input to carry in the pod itself (its annotation, mounted by the downward API),
 * or undefined for a Secret. Inline only when it holds nothing secret — no gateway token: a
 * pod is readable by whoever may `get pods`, a Secret is not — and is small. An inline input
 * costs no Secret request, and the pod never waits for one.
 */
export function inlineStageInput(input: StageInput, encoded: EncodedStageInput): string | undefined {
  if (holdsSecret(input)) return undefined;
  const base64 = encoded.gzip.toString('base64');
  return base64.length <= MAX_INLINE_STAGE_INPUT_BYTES ? base64 : undefined;
}

/** Whether a pod carries its input in its annotation (the operator's cache keeps the key, not the value). */
export function carriesInput(pod: { metadata: { annotations?: Record<string, string> } }): boolean {
  return pod.metadata.annotations?.[STAGE_INPUT_ANNOTATION] !== undefined;
}

/** Pure: the stage input's JSON from the mounted file, a Secret's gzip or an annotation's base64 of it. */
export function decodeStageInputFile(content: Buffer): string {
  const gzip =
    content[0] === 0x1f && content[1] === 0x8b ? content : Buffer.from(content.toString('ascii'), 'base64');
  return gunzipSync(gzip).toString('utf8');
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
