// What the informer caches keep of each object (kube/informer.ts `transform`): the operator's
// memory grows with the objects it caches, so each cache holds only the fields the
// reconcilers, indexers and event handlers read. Pure; unit tests check that the readers
// decide the same on a slim copy as on the full object.
import { TERMINAL_PHASES } from '../api/index.ts';
import { STAGE_INPUT_ANNOTATION } from '../sandbox/stage-input.ts';
import type { RawPod } from './controller-context.ts';
import type { RawObject } from './resources.ts';

/** kubectl apply keeps a whole copy of the applied object here; nothing of ours reads it. */
export const LAST_APPLIED = 'kubectl.kubernetes.io/last-applied-configuration';

function withoutLastApplied<T extends RawObject>(obj: T): T {
  const annotations = obj.metadata.annotations;
  if (!annotations || !(LAST_APPLIED in annotations)) return obj;
  const { [LAST_APPLIED]: _dropped, ...rest } = annotations;
  return { ...obj, metadata: { ...obj.metadata, annotations: rest } };
}

type PodContainerStatus = NonNullable<NonNullable<RawPod['status']>['containerStatuses']>[number];

/** Name and state: what classify.ts and the result readers look at (the envelope is in state). */
function slimContainerStatuses(statuses: readonly PodContainerStatus[] | undefined) {
  return statuses?.map((c) => ({ name: c.name, ...(c.state && { state: c.state }) }));
}

/**
 * A sandbox pod as the operator reads it: metadata (names, labels, owners, uid, timestamps; an
 * input carried in its annotation dropped, the key kept) and
 * the status fields the stage and grading planners classify (phase, reason, message, start
 * time, container states with their termination messages). The spec (containers, volumes,
 * security context: most of a pod's bytes) is never read back: pods are built, not patched.
 */
export function slimPod(pod: RawPod): RawPod {
  const status = pod.status;
  const annotations = pod.metadata.annotations;
  // An input carried in the pod is read by its agent only; the key says it is there.
  const metadata = annotations?.[STAGE_INPUT_ANNOTATION]
    ? { ...pod.metadata, annotations: { ...annotations, [STAGE_INPUT_ANNOTATION]: '' } }
    : pod.metadata;
  const containerStatuses = slimContainerStatuses(status?.containerStatuses);
  const initContainerStatuses = slimContainerStatuses(status?.initContainerStatuses);
  return {
    ...(pod.apiVersion && { apiVersion: pod.apiVersion }),
    ...(pod.kind && { kind: pod.kind }),
    metadata,
    ...(status && {
      status: {
        ...(status.phase !== undefined && { phase: status.phase }),
        ...(status.reason !== undefined && { reason: status.reason }),
        ...(status.message !== undefined && { message: status.message }),
        ...(status.startTime !== undefined && { startTime: status.startTime }),
        ...(containerStatuses && { containerStatuses }),
        ...(initContainerStatuses && { initContainerStatuses }),
      },
    }),
  };
}

/** The PR and issue text: only the prompt stage reads it (through its stage input). */
const PR_TEXT = ['title', 'body', 'issues'] as const;

/**
 * The PR text (title, body, linked issues' text) only feeds the stage inputs of an instance
 * still in flight; once the instance is finished nothing reads it from the cache (recipe
 * memory and environment image donors read repo, ids, commits and dates; evaluations grade
 * with patches and status; the export reads the API server). A user retry changes the status,
 * and the watch then delivers the whole object again. The status is never slimmed: status
 * writes replace it whole.
 */
export function slimInstance(obj: RawObject): RawObject {
  const lean = withoutLastApplied(obj);
  const phase = (lean.status as { phase?: string } | undefined)?.phase;
  const spec = lean.spec as Record<string, unknown> | undefined;
  if (!spec || phase === undefined || !TERMINAL_PHASES.has(phase as never)) return lean;
  if (!PR_TEXT.some((field) => field in spec)) return lean;
  const rest = { ...spec };
  for (const field of PR_TEXT) delete rest[field];
  return { ...lean, spec: rest };
}

/** Runs, campaigns, evaluations: everything the reconcilers parse, but kubectl's copy. */
export function slimOwnedResource(obj: RawObject): RawObject {
  return withoutLastApplied(obj);
}
