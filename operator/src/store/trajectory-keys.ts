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
