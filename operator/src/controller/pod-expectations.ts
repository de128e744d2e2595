import type { KubeObject } from '../kube/index.ts';

const EXPIRY_MS = 60_000;

/**
 * Pod creations and deletions we issued that the informer has not reflected yet
 * (controller-runtime's expectations). Without them, every event that arrives before the
 * cache catches up re-creates a pod (AlreadyExists) or re-deletes one (NotFound): at 2,000
 * instances that was a third of all API requests. Entries expire, so a lost watch event can
 * only delay, never wedge, an instance.
 */
export class PodExpectations {
  private readonly created = new Map<string, number>();
  private readonly deleted = new Map<string, number>();

  expectCreation(namespace: string, name: string): void {
    this.created.set(`${namespace}/${name}`, Date.now() + EXPIRY_MS);
  }

  expectDeletion(namespace: string, name: string): void {
    this.deleted.set(`${namespace}/${name}`, Date.now() + EXPIRY_MS);
  }

  creationPending(namespace: string, name: string): boolean {
    return live(this.created, `${namespace}/${name}`);
  }

  /** Cached pods minus those we already deleted. */
  visible<T extends KubeObject>(pods: readonly T[]): T[] {
    return pods.filter((p) => !live(this.deleted, `${p.metadata.namespace}/${p.metadata.name}`));
  }

  observe(pod: KubeObject, removed: boolean): void {
    const key = `${pod.metadata.namespace}/${pod.metadata.name}`;
    this.created.delete(key);
    if (removed) this.deleted.delete(key);
  }
}

function live(map: Map<string, number>, key: string): boolean {
  const until = map.get(key);
  if (until === undefined) return false;
  if (until > Date.now()) return true;
  map.delete(key);
  return false;
}
