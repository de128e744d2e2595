// Where the LLM gateway keeps trajectories in the dataset store: one object per (instance,
// stage, attempt), under its run, so the export lists a run's with one prefix. Pure.

/** `trajectories/<namespace>/<run>/` */
export function trajectoryPrefix(namespace: string, run: string): string {
  return `trajectories/${namespace}/${run}/`;
}

/** `trajectories/<namespace>/<run>/<instance>/<stage>-<attempt>.json.gz`: attempt-keyed, rewritten as steps arrive. */
export function trajectoryKey(t: {
  namespace: string;
  run: string;
  instance: string;
  stage: string;
  attempt: number;
}): string {
  return `${trajectoryPrefix(t.namespace, t.run)}${t.instance}/${t.stage}-${t.attempt}.json.gz`;
}

export interface TrajectoryKeyParts {
  instance: string;
  stage: string;
  attempt: number;
}

/** The parts of a trajectoryKey (undefined for any other key): what the export sorts and filters by before reading. */
export function parseTrajectoryKey(key: string): TrajectoryKeyParts | undefined {
  const match = /^trajectories\/[^/]+\/[^/]+\/([^/]+)\/([a-z]+)-(\d+)\.json\.gz$/.exec(key);
  if (!match) return undefined;
  return { instance: match[1]!, stage: match[2]!, attempt: Number(match[3]) };
}
