// Which parts of an SWEInstance's spec go to the dataset store, and how they come back: the PR
// content (title, body, gold and test patches, linked issues), tens of KB for a real PR. Pure:
// the controller does the I/O. The object is content-addressed like the status's
// (instance-content.ts), so the run reconciler writes it before it creates the instance, and a
// crash in between leaves an object that the re-mined page writes again under the same key.
import type { PrContentRef, SWEInstanceSpec, SWEInstanceSpecInput } from '../api/index.ts';
import { type ContentObject, sha256Hex } from './instance-content.ts';

/** The spec fields that make an instance big, in object order. */
export const PR_FIELDS = ['title', 'body', 'patch', 'testPatch', 'issues'] as const;
type PrField = (typeof PR_FIELDS)[number];
export type PrContent = Pick<SWEInstanceSpec, PrField>;

/** `instances/<namespace>/<name>/pr-<sha256>.json`: beside the status's content, swept with it. */
export function prContentKey(where: { namespace: string; name: string }, sha256: string): string {
  return `instances/${where.namespace}/${where.name}/pr-${sha256}.json`;
}

/** Files and changed lines of a unified diff (for kubectl readers; the diff itself is in the store). */
export function diffStat(diff: string): { files: number; lines: number } {
  let files = 0;
  let lines = 0;
  let inHunk = false;
  for (const line of diff.split('\n')) {
    if (line.startsWith('diff --git ')) {
      files++;
      inHunk = false;
    } else if (line.startsWith('@@')) inHunk = true;
    else if (inHunk && (line.startsWith('+') || line.startsWith('-'))) lines++;
  }
  return { files, lines };
}

/**
 * The spec without its PR content, plus the object that holds it. The object's body depends
 * only on the content (fields in PR_FIELDS order), so the same PR always gives the same key.
 */
export function offloadPrContent(
  spec: SWEInstanceSpec,
  where: { namespace: string; name: string },
): { spec: SWEInstanceSpecInput; object: ContentObject } {
  const small: Partial<SWEInstanceSpec> = { ...spec };
  delete small.prContent;
  const content: Record<string, unknown> = {};
  for (const field of PR_FIELDS) {
    content[field] = spec[field];
    delete small[field];
  }
  const body = JSON.stringify(content);
  const sha256 = sha256Hex(body);
  const key = prContentKey(where, sha256);
  const patch = diffStat(spec.patch);
  const testPatch = diffStat(spec.testPatch);
  const ref: PrContentRef = {
    key,
    sha256,
    bytes: Buffer.byteLength(body),
    patchFiles: patch.files,
    patchLines: patch.lines,
    testPatchFiles: testPatch.files,
    testPatchLines: testPatch.lines,
    issues: spec.issues.length,
  };
  return {
    spec: { ...(small as Omit<SWEInstanceSpec, PrField>), prContent: ref },
    object: { key, body, sha256 },
  };
}

/** The object's fields, after checking it is the one the ref names (digest). */
export function parsePrContent(ref: PrContentRef, body: string | Uint8Array): PrContent {
  const actual = sha256Hex(body);
  if (actual !== ref.sha256)
    throw new Error(`dataset store object ${ref.key} has SHA-256 ${actual}, spec names ${ref.sha256}`);
  const text = typeof body === 'string' ? body : Buffer.from(body).toString('utf8');
  const parsed = JSON.parse(text) as Record<string, unknown>;
  const content: Record<string, unknown> = {};
  for (const field of PR_FIELDS) if (parsed[field] !== undefined) content[field] = parsed[field];
  return content as PrContent;
}

/** Spec with its PR content put back (the ref stays: it names where the content came from). */
export function restorePrContent<S extends SWEInstanceSpec>(spec: S, content: PrContent): S {
  return { ...spec, ...content };
}
