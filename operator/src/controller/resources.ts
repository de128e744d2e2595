import type { OwnerReference } from '../api/index.ts';
import type { GroupResource, KubeObject } from '../kube/index.ts';
/** Index of the SWEInstance cache: owning run key → its instances not yet in a terminal phase. */
export const UNFINISHED_BY_RUN = 'unfinishedByRun';

export const NETWORKPOLICIES: GroupResource = {
  group: 'networking.k8s.io',
  version: 'v1',
  plural: 'networkpolicies',
  kind: 'NetworkPolicy',
};

/** Objects as the informers hold them: JSON from the API server, not yet parsed. */
export interface RawObject extends KubeObject {
  spec?: unknown;
  status?: unknown;
}

export function key(namespace: string | undefined, name: string | undefined): string {
  return `${namespace ?? ''}/${name ?? ''}`;
}

export function splitKey(k: string): { namespace: string; name: string } {
  const i = k.indexOf('/');
  return { namespace: k.slice(0, i), name: k.slice(i + 1) };
}

/** The controlling owner of `kind`, as a cache key. */
export function ownerKey(obj: KubeObject, kind: string): string | undefined {
  const ref = obj.metadata.ownerReferences?.find((r: OwnerReference) => r.kind === kind && r.controller);
  return ref ? key(obj.metadata.namespace, ref.name) : undefined;
}

export function controllerRef(owner: KubeObject & { apiVersion?: string; kind?: string }): OwnerReference {
  return {
    apiVersion: owner.apiVersion ?? '',
    kind: owner.kind ?? '',
    name: owner.metadata.name ?? '',
    uid: owner.metadata.uid ?? '',
    controller: true,
    blockOwnerDeletion: true,
  };
}
