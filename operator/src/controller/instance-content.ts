// The operator's side of the dataset store: the planners see whole instances (the spec's PR
// content and the status's content read back from the store), the API server gets small ones
// (content written to the store first, then the object that names it). Without a store,
// instances stay whole (in etcd).
import type { ContentRef, PrContentRef, SWEInstance, SWEInstanceStatus } from '../api/index.ts';
import { errorMessage, type Logger } from '../kube/index.ts';
import {
  type InstanceContent,
  offloadContent,
  parseContent,
  restoreContent,
} from '../store/instance-content.ts';
import { type PrContent, parsePrContent, restorePrContent } from '../store/pr-content.ts';
import type { ControllerContext } from './controller-context.ts';

/** What the cache holds: a status's content or a spec's PR content (keys are their digests). */
type CachedContent = InstanceContent | PrContent;

/**
 * Content read from or written to the store, by SHA-256, least recently used first out, at most
 * `maxBytes` of objects: a reconcile of an instance in flight reads nothing, and the operator's
 * memory does not grow with the dataset.
 */
export class ContentCache {
  private readonly entries = new Map<string, { content: CachedContent; bytes: number }>();
  private bytes = 0;
  private readonly maxBytes: number;
  constructor(maxBytes = 32 * 1024 * 1024) {
    this.maxBytes = maxBytes;
  }

  /** Keys are SHA-256 digests of the objects: a status's and a spec's never share one. */
  get<T extends CachedContent = InstanceContent>(sha256: string): T | undefined {
    const hit = this.entries.get(sha256);
    if (!hit) return undefined;
    this.entries.delete(sha256);
    this.entries.set(sha256, hit);
    return hit.content as T;
  }

  has(sha256: string): boolean {
    return this.entries.has(sha256);
  }

  set(sha256: string, content: CachedContent, bytes: number): void {
    const old = this.entries.get(sha256);
    if (old) this.bytes -= old.bytes;
    this.entries.delete(sha256);
    this.entries.set(sha256, { content, bytes });
    this.bytes += bytes;
    // Never evicts the entry just added: a reconcile's own content stays until its status write.
    for (const [key, entry] of this.entries) {
      if (this.bytes <= this.maxBytes || key === sha256) break;
      this.entries.delete(key);
      this.bytes -= entry.bytes;
    }
  }
}

/** An object the instance names, from the store, checked against its digest and cached. */
async function readStored<T extends CachedContent>(
  ctx: ControllerContext,
  ref: { key: string; sha256: string },
  where: 'status' | 'spec',
  parse: (body: Uint8Array) => T,
): Promise<T> {
  if (!ctx.datasetStore)
    throw new Error(
      `${where} names dataset store object ${ref.key}, but the operator has no dataset store configured`,
    );
  const body = await ctx.datasetStore.get(ref.key);
  if (body === undefined)
    throw new Error(`dataset store object ${ref.key} is missing (${ctx.datasetStore.where})`);
  const content = parse(body);
  ctx.contentCache.set(ref.sha256, content, body.byteLength);
  return content;
}

/**
 * The instance whole again: its spec's PR content and its status's content, from the cache or
 * the store (throws while the store is unreachable). Every operator reader of those fields
 * (stage, solve and grading inputs; the planners) gets the instance through this.
 */
export async function withContent(ctx: ControllerContext, instance: SWEInstance): Promise<SWEInstance> {
  const specRef = instance.spec.prContent;
  const statusRef = instance.status?.content;
  const [pr, content] = await Promise.all([
    specRef &&
      (ctx.contentCache.get<PrContent>(specRef.sha256) ??
        readStored(ctx, specRef, 'spec', (body) => parsePrContent(specRef, body))),
    statusRef &&
      (ctx.contentCache.get<InstanceContent>(statusRef.sha256) ??
        readStored(ctx, statusRef, 'status', (body) => parseContent(statusRef, body))),
  ]);
  return restored(instance, pr, content);
}

function restored(
  instance: SWEInstance,
  pr: PrContent | undefined,
  content: InstanceContent | undefined,
): SWEInstance {
  if (!pr && !content) return instance;
  return {
    ...instance,
    spec: pr ? restorePrContent(instance.spec, pr) : instance.spec,
    ...(instance.status && { status: content ? restoreContent(instance.status, content) : instance.status }),
  };
}

/** Same, synchronously, for an instance re-read on a write conflict: its content must be cached. */
export function withCachedContent(ctx: ControllerContext, instance: SWEInstance): SWEInstance {
  const cached = <T extends CachedContent>(ref: PrContentRef | ContentRef | undefined): T | undefined => {
    if (!ref) return undefined;
    const hit = ctx.contentCache.get<T>(ref.sha256);
    if (!hit) throw new Error(`conflict: content ${ref.sha256} not read yet; reconciling again`);
    return hit;
  };
  return restored(instance, cached<PrContent>(instance.spec.prContent), cached(instance.status?.content));
}

/**
 * Writes the status's content to the store when it differs from the stored one, before the
 * status write that names it (same content, same key: a retry after a crash rewrites it).
 */
export async function storeContent(
  ctx: ControllerContext,
  where: { namespace: string; name: string },
  current: SWEInstanceStatus | undefined,
  next: SWEInstanceStatus,
): Promise<void> {
  if (!ctx.datasetStore) return;
  const { object } = offloadContent(next, where);
  if (!object || object.sha256 === current?.content?.sha256) return;
  await ctx.datasetStore.put(object.key, object.body);
  ctx.contentCache.set(
    object.sha256,
    JSON.parse(object.body) as InstanceContent,
    Buffer.byteLength(object.body),
  );
}

/** The status as written to the API server: small with a store (its object already stored). Pure but for the cache check. */
export function statusToWrite(
  ctx: ControllerContext,
  where: { namespace: string; name: string },
  status: SWEInstanceStatus,
): SWEInstanceStatus {
  if (!ctx.datasetStore) return status;
  const offloaded = offloadContent(status, where);
  if (offloaded.object && !ctx.contentCache.has(offloaded.object.sha256))
    throw new Error(`conflict: content ${offloaded.object.sha256} not stored yet; reconciling again`);
  return offloaded.status;
}

/**
 * Most bytes a SWEInstance status may take in etcd. An object is capped at 1.5 MiB (etcd's
 * request limit); the spec (patches) needs room beside the status. With the dataset store the
 * status is ~1-2 KB whatever the repository; without it, test-id lists of a repository with
 * many thousands of tests would pass this.
 */
export const MAX_STATUS_BYTES = 512 * 1024;

/**
 * Pure: why this status cannot be written, or undefined when it fits. The API server would
 * refuse it on every retry; the instance fails with a reason that names the fix instead.
 */
export function statusTooLarge(
  status: SWEInstanceStatus,
  storeConfigured: boolean,
  limit = MAX_STATUS_BYTES,
): { reason: 'StatusTooLarge'; message: string } | undefined {
  const bytes = Buffer.byteLength(JSON.stringify(status));
  if (bytes <= limit) return undefined;
  const largest = Object.entries(status)
    .map(([field, value]) => [field, Buffer.byteLength(JSON.stringify(value) ?? '')] as const)
    .sort((a, b) => b[1] - a[1])
    .slice(0, 3)
    .map(([field, n]) => `${field} ${n}`)
    .join(', ');
  const fix = storeConfigured
    ? 'even with its content in the dataset store'
    : 'configure the dataset store (chart datasetStore.*, operator --store-bucket) to keep test-id lists, patches and statements outside etcd';
  return {
    reason: 'StatusTooLarge',
    message: `status is ${bytes} bytes, more than the ${limit} an SWEInstance may keep in etcd (largest fields: ${largest}); ${fix}`,
  };
}

/**
 * After a status write that names new content, the object it replaced is deleted (one object
 * per instance in the bucket). Best effort: a failure leaves an unreferenced object, never a
 * status naming a missing one, so it does not fail the reconcile.
 */
export async function dropReplacedContent(
  ctx: ControllerContext,
  before: ContentRef | undefined,
  after: SWEInstanceStatus | undefined,
  log: Logger,
): Promise<void> {
  if (!ctx.datasetStore || !before || after?.content?.key === before.key) return;
  try {
    await ctx.datasetStore.delete(before.key);
  } catch (err) {
    log.warn(
      { key: before.key, err: errorMessage(err) },
      'could not delete replaced content from the dataset store',
    );
  }
}
