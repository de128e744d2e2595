import type { KubeObject } from './client.ts';
import { deepEqualJson } from './status.ts';

/**
 * controller-runtime's update predicates, pure. A controller that writes its object's status
 * must not be woken by that write: the status subresource never bumps metadata.generation,
 * so filtering updates on these fields lets the controller's own writes pass silently and
 * keeps a failing object on its backoff schedule instead of re-queueing it at once.
 */
export function generationChanged(old: KubeObject, next: KubeObject): boolean {
  return old.metadata.generation !== next.metadata.generation;
}

export function annotationsChanged(old: KubeObject, next: KubeObject): boolean {
  return !deepEqualJson(old.metadata.annotations ?? {}, next.metadata.annotations ?? {});
}

export function labelsChanged(old: KubeObject, next: KubeObject): boolean {
  return !deepEqualJson(old.metadata.labels ?? {}, next.metadata.labels ?? {});
}

export function deletionStarted(old: KubeObject, next: KubeObject): boolean {
  return !old.metadata.deletionTimestamp && !!next.metadata.deletionTimestamp;
}

/**
 * An update a reconciler of the object's spec must see: generation, annotations, labels or
 * deletion. Status-only writes (ours or anyone's) and resourceVersion bumps are not; the
 * periodic resync still hands every object over. Without the previous copy, let it through.
 */
export function specOrMetadataChanged(old: KubeObject | undefined, next: KubeObject): boolean {
  if (old === undefined) return true;
  return (
    generationChanged(old, next) ||
    annotationsChanged(old, next) ||
    labelsChanged(old, next) ||
    deletionStarted(old, next)
  );
}
