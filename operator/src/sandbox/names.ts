import { createHash } from 'node:crypto';
import type { Stage } from '../api/index.ts';

export const LABEL_RUN = 'scaleswe.dev/run';
/** On a Campaign's runs: the campaign, and (scheduled) the period's tick, yyyymmddThhmm UTC. */
export const LABEL_CAMPAIGN = 'scaleswe.dev/campaign';
export const LABEL_PERIOD = 'scaleswe.dev/period';
export const LABEL_INSTANCE = 'scaleswe.dev/instance';
export const LABEL_STAGE = 'scaleswe.dev/stage';
export const LABEL_ATTEMPT = 'scaleswe.dev/attempt';
export const LABEL_MANAGED_BY = 'app.kubernetes.io/managed-by';
export const LABEL_EVALUATION = 'scaleswe.dev/evaluation';
/** The stage label of a grading pod (an Evaluation's): not a stage of the pipeline. */
export const GRADE_POD_STAGE = 'grade';
export const MANAGED_BY = 'scaleswe-operator';
/** The stage labels of a solve attempt's pods (spec.solve): the agent's, then its grading pod. */
export const SOLVE_POD_STAGE = 'solve';
export const SOLVE_GRADE_POD_STAGE = 'solve-grade';
export type SolvePodKind = 'solve' | 'grade';

function shortHash(text: string): string {
  return createHash('sha256').update(text).digest('hex').slice(0, 10);
}

/** Shortens `text` to `max` chars keeping it unique (hash suffix) and DNS-safe at both ends. */
function shorten(text: string, max: number): string {
  if (text.length <= max) return text;
  const hash = shortHash(text);
  const head = text.slice(0, max - hash.length - 1).replace(/[-.]+$/, '');
  return `${head}-${hash}`;
}

/** Label values are limited to 63 chars; long object names get a hashed tail. */
export function labelValue(name: string): string {
  return shorten(name, 63).replace(/^[^A-Za-z0-9]+/, '');
}

/**
 * One pod name per (instance, stage, attempt): a restarted operator that creates the pod
 * again gets AlreadyExists instead of a duplicate sandbox.
 */
export function stagePodName(instanceName: string, stage: Stage, attempt: number): string {
  return shorten(`${instanceName}-${stage}-${attempt}`, 253);
}

/**
 * Every sandbox pod of an instance (stage, environment image build and solve pods), for one
 * `deletecollection`. An Evaluation's grading pods carry the instance's label too, but belong
 * to the Evaluation: excluded.
 */
export function instancePodsSelector(instanceName: string): string {
  return `${LABEL_MANAGED_BY}=${MANAGED_BY},${LABEL_INSTANCE}=${labelValue(instanceName)},!${LABEL_EVALUATION}`;
}

/** The Secret holding a stage pod's input: one per pod, found again from the pod's name. */
export function stageInputSecretName(podName: string): string {
  return shorten(`${podName}-input`, 253);
}

/** The environment image build pod of an instance's attempt (not a stage: it runs after env). */
export function envImagePodName(instanceName: string, attempt: number): string {
  return shorten(`${instanceName}-envimage-${attempt}`, 253);
}

/**
 * The grading pod of one prediction of an Evaluation: one name per (evaluation, instance,
 * patch, attempt), so a restarted operator meets AlreadyExists instead of grading twice, and
 * an edited prediction (another digest) gets a pod of its own.
 */
export function gradePodName(
  evaluationName: string,
  instanceId: string,
  digest: string,
  attempt: number,
): string {
  const slug = instanceId
    .toLowerCase()
    .replace(/__/g, '.')
    .replace(/[^a-z0-9.-]+/g, '-')
    .replace(/^[-.]+|[-.]+$/g, '');
  return shorten(`${evaluationName}-${slug}-${digest.slice(0, 8)}-${attempt}`, 253);
}

/**
 * A solve attempt's pod: one name per (instance, agent or grading, attempt, try), so a
 * restarted operator meets AlreadyExists instead of solving or grading twice.
 */
export function solvePodName(
  instanceName: string,
  kind: SolvePodKind,
  attempt: number,
  podTry: number,
): string {
  return shorten(`${instanceName}-${kind === 'solve' ? 'solve' : 'solvegrade'}-${attempt}-${podTry}`, 253);
}

/** The ConfigMap keeping a grading pod's logs (sandbox/grade-log.ts). */
export function gradeLogName(podName: string): string {
  return shorten(`${podName}-log`, 253);
}
