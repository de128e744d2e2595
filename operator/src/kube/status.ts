import type { GroupResource, Kube, KubeObject } from './client.ts';
import { isConflict } from './errors.ts';
import { objectKey } from './informer.ts';

/** JSON with sorted keys and no undefined members: equal data compares equal. */
export function canonicalJson(value: unknown): string {
  return JSON.stringify(value, (_key, v) =>
    v && typeof v === 'object' && !Array.isArray(v)
      ? Object.fromEntries(
          Object.keys(v)
            .sort()
            .filter((k) => v[k] !== undefined)
            .map((k) => [k, v[k]]),
        )
      : v,
  );
}

export function deepEqualJson(a: unknown, b: unknown): boolean {
  return canonicalJson(a ?? null) === canonicalJson(b ?? null);
}

/**
 * Read-your-writes over an informer cache. After we write an object the cache may still
 * hold the version we wrote over; reconciling that stale copy would redo work (a pod for a
 * stage already recorded). We remember which versions our writes superseded and answer
 * with our write until the cache moves past them.
 */
export class WriteOverlay<T extends KubeObject> {
  private readonly entries = new Map<string, { superseded: Set<string>; object: T }>();

  record(base: T, written: T): void {
    const key = objectKey(written);
    const previous = this.entries.get(key);
    const superseded = new Set<string>();
    if (previous && previous.object.metadata.resourceVersion === base.metadata.resourceVersion)
      for (const rv of previous.superseded) superseded.add(rv);
    if (base.metadata.resourceVersion) superseded.add(base.metadata.resourceVersion);
    this.entries.set(key, { superseded, object: written });
  }

  resolve(cached: T): T;
  resolve(cached: T | undefined): T | undefined;
  resolve(cached: T | undefined): T | undefined {
    if (!cached) return cached;
    const key = objectKey(cached);
    const entry = this.entries.get(key);
    if (!entry) return cached;
    if (cached.metadata.resourceVersion && entry.superseded.has(cached.metadata.resourceVersion))
      return entry.object;
    this.entries.delete(key);
    return cached;
  }

  forget(obj: KubeObject): void {
    this.entries.delete(objectKey(obj));
  }
}

export interface StatusWriteResult<T> {
  written: boolean;
  object: T;
  conflicts: number;
}

/**
 * Writes `compute(object)` to the status subresource when it differs from the current
 * status (deep compare; an unchanged status costs no request). The PUT carries the
 * resourceVersion, so a concurrent writer makes it fail with 409: then we re-read the
 * object and apply `compute` to the fresh copy — `compute` must be a pure function of the
 * object it is given, never of the stale one.
 */
export async function updateStatus<T extends KubeObject & { status?: unknown }>(
  kube: Kube,
  resource: GroupResource,
  current: T,
  compute: (obj: T) => T['status'] | undefined,
  opts: { overlay?: WriteOverlay<T>; maxConflicts?: number; onConflict?: () => void } = {},
): Promise<StatusWriteResult<T>> {
  const maxConflicts = opts.maxConflicts ?? 5;
  let object = current;
  for (let conflicts = 0; ; conflicts++) {
    const next = compute(object);
    if (next === undefined || deepEqualJson(object.status, next))
      return { written: false, object, conflicts };
    try {
      const written = await kube.replaceStatus<T>(resource, { ...object, status: next });
      opts.overlay?.record(object, written);
      return { written: true, object: written, conflicts };
    } catch (err) {
      if (!isConflict(err) || conflicts >= maxConflicts) throw err;
      opts.onConflict?.();
      const { namespace = '', name = '' } = object.metadata;
      object = await kube.get<T>(resource, namespace, name);
    }
  }
}
