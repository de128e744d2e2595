// Which dataset-store objects belong to deleted SWEInstances. Content objects are
// `instances/<namespace>/<name>/<sha256>.json`, trajectories
// `trajectories/<namespace>/<run>/<name>/<stage>-<attempt>.json.gz`: both name their instance.
// An instance can be missing from a cache for a moment (a watch that lags its create), so an
// object goes only when its instance was missing at two sweeps in a row. Pure.

export interface InstanceName {
  namespace: string;
  name: string;
}

/** The instance a stored object belongs to; undefined for keys of no instance. */
export function instanceOfKey(key: string): InstanceName | undefined {
  const parts = key.split('/');
  if (parts[0] === 'instances' && parts.length === 4) return { namespace: parts[1]!, name: parts[2]! };
  if (parts[0] === 'trajectories' && parts.length === 5) return { namespace: parts[1]!, name: parts[3]! };
  return undefined;
}

const nameKey = (i: InstanceName) => `${i.namespace}/${i.name}`;

export interface SweepDecision {
  /** Objects of instances missing now and at the sweep before. */
  remove: string[];
  /** Instances missing now (`namespace/name`): the next sweep removes theirs if still missing. */
  missing: Set<string>;
}

export function sweepDecision(
  keys: readonly string[],
  exists: (instance: InstanceName) => boolean,
  missingBefore: ReadonlySet<string>,
): SweepDecision {
  const remove: string[] = [];
  const missing = new Set<string>();
  for (const key of keys) {
    const instance = instanceOfKey(key);
    if (!instance || exists(instance)) continue;
    missing.add(nameKey(instance));
    if (missingBefore.has(nameKey(instance))) remove.push(key);
  }
  return { remove, missing };
}
