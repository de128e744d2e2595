// Which parts of an SWEInstance's status go to the dataset store, and how they come back.
// Pure: the controller does the I/O. The object is content-addressed (its key ends in its
// SHA-256), so writing it again is a no-op in effect and a crash between the object write
// and the status write leaves at most an object no status names yet: nothing lost, nothing
// duplicated, the retry writes the same key.
import { createHash } from 'node:crypto';
import type { ContentRef, SWEInstanceStatus } from '../api/index.ts';

/** The status fields that make an instance big (test-id lists dominate), in object order. */
export const OFFLOADED_FIELDS = [
  'FAIL_TO_PASS',
  'PASS_TO_PASS',
  'problemStatement',
  'hintsText',
  'fullTestPatch',
  'generatedTestPatch',
] as const satisfies readonly (keyof SWEInstanceStatus)[];
type OffloadedField = (typeof OFFLOADED_FIELDS)[number];
/**
 * The offloaded fields, and the solve attempts' patches by attempt number (up to 32 KiB each,
 * up to 100 attempts: more than etcd holds); status keeps the attempts without them.
 */
export type InstanceContent = Pick<SWEInstanceStatus, OffloadedField> & {
  solvePatches?: Record<string, string>;
};

export interface ContentObject {
  key: string;
  body: string;
  sha256: string;
}

export const sha256Hex = (body: string | Uint8Array) => createHash('sha256').update(body).digest('hex');

/** `instances/<namespace>/<name>/<sha256>.json`: per instance, addressed by content. */
export function contentKey(where: { namespace: string; name: string }, sha256: string): string {
  return `instances/${where.namespace}/${where.name}/${sha256}.json`;
}

/**
 * Status without the bulky fields, plus the object that holds them (none when the status has
 * none of them: the old ref, if any, is dropped with them).
 */
export function offloadContent(
  status: SWEInstanceStatus,
  where: { namespace: string; name: string },
): { status: SWEInstanceStatus; object?: ContentObject } {
  const small: SWEInstanceStatus = { ...status };
  delete small.content;
  const content: Record<string, unknown> = {};
  for (const field of OFFLOADED_FIELDS) {
    if (status[field] !== undefined) content[field] = status[field];
    delete small[field];
  }
  const attempts = status.solveAttempts;
  if (attempts?.some((a) => a.patch !== undefined)) {
    content.solvePatches = Object.fromEntries(
      attempts.flatMap((a) => (a.patch === undefined ? [] : [[String(a.attempt), a.patch]])),
    );
    small.solveAttempts = attempts.map(({ patch: _patch, ...rest }) => rest);
  }
  const fields = Object.keys(content);
  if (!fields.length) return { status: small };
  const body = JSON.stringify(content);
  const sha256 = sha256Hex(body);
  const key = contentKey(where, sha256);
  const ref: ContentRef = {
    key,
    sha256,
    bytes: Buffer.byteLength(body),
    fields,
    ...(status.FAIL_TO_PASS && { failToPass: status.FAIL_TO_PASS.length }),
    ...(status.PASS_TO_PASS && { passToPass: status.PASS_TO_PASS.length }),
  };
  return { status: { ...small, content: ref }, object: { key, body, sha256 } };
}

/** The object's fields, after checking it is the one the ref names (digest). */
export function parseContent(ref: ContentRef, body: string | Uint8Array): InstanceContent {
  const actual = sha256Hex(body);
  if (actual !== ref.sha256)
    throw new Error(`dataset store object ${ref.key} has SHA-256 ${actual}, status names ${ref.sha256}`);
  const text = typeof body === 'string' ? body : Buffer.from(body).toString('utf8');
  const parsed = JSON.parse(text) as Record<string, unknown>;
  const content: Record<string, unknown> = {};
  for (const field of [...OFFLOADED_FIELDS, 'solvePatches'])
    if (parsed[field] !== undefined) content[field] = parsed[field];
  return content as InstanceContent;
}

/** Status with its content put back (the ref stays: it names where the content came from). */
export function restoreContent(status: SWEInstanceStatus, content: InstanceContent): SWEInstanceStatus {
  const { solvePatches, ...fields } = content;
  const restored = { ...status, ...fields };
  if (solvePatches && status.solveAttempts)
    restored.solveAttempts = status.solveAttempts.map((a) => {
      const patch = solvePatches[String(a.attempt)];
      return patch === undefined ? a : { ...a, patch };
    });
  return restored;
}
