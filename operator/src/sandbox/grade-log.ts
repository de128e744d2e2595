import type { OwnerReference } from '../api/index.ts';
import { gradeLogName, LABEL_EVALUATION, LABEL_MANAGED_BY, labelValue, MANAGED_BY } from './names.ts';

/**
 * A graded prediction's logs in the cluster (what `scaleswe eval` writes under
 * logs/<instance_id>/): the grading pod's log goes with the pod, so before its verdict is
 * recorded the operator keeps the patch, the test output and SWE-bench's per-instance report
 * in a ConfigMap owned by the Evaluation (`scaleswe eval-report` reads them back).
 */
export const LABEL_GRADE_LOG = 'scaleswe.dev/grade-log';
export const ANNOTATION_INSTANCE_ID = 'scaleswe.dev/instance-id';
export const ANNOTATION_PATCH_DIGEST = 'scaleswe.dev/patch-digest';
export const ANNOTATION_ATTEMPT = 'scaleswe.dev/attempt';
/**
 * SWE-bench's per-instance log names; run_instance.log is the grading run's own log tail (the
 * environment it adopted, the commands it ran): the result's logTail, kept past the pod.
 */
export const GRADE_LOG_FILES = ['patch.diff', 'test_output.txt', 'report.json', 'run_instance.log'] as const;
export type GradeLogFile = (typeof GRADE_LOG_FILES)[number];
/** A ConfigMap holds 1 MiB: the test output (already cut to 100k chars by the grader) and the patch share it. */
const MAX_FILE_CHARS = 400_000;

const cut = (text: string) =>
  text.length <= MAX_FILE_CHARS
    ? text
    : `${text.slice(0, MAX_FILE_CHARS / 2)}\n… [${text.length - MAX_FILE_CHARS} characters cut] …\n${text.slice(-MAX_FILE_CHARS / 2)}`;

export function buildGradeLogConfigMap(input: {
  namespace: string;
  podName: string;
  evaluationName: string;
  owner: Required<OwnerReference>;
  instanceId: string;
  patchDigest: string;
  attempt: number;
  files: Record<GradeLogFile, string>;
}) {
  return {
    apiVersion: 'v1' as const,
    kind: 'ConfigMap' as const,
    metadata: {
      name: gradeLogName(input.podName),
      namespace: input.namespace,
      labels: {
        [LABEL_MANAGED_BY]: MANAGED_BY,
        [LABEL_EVALUATION]: labelValue(input.evaluationName),
        [LABEL_GRADE_LOG]: 'true',
      },
      annotations: {
        [ANNOTATION_INSTANCE_ID]: input.instanceId,
        [ANNOTATION_PATCH_DIGEST]: input.patchDigest,
        [ANNOTATION_ATTEMPT]: String(input.attempt),
      },
      ownerReferences: [input.owner],
    },
    immutable: true,
    data: Object.fromEntries(GRADE_LOG_FILES.map((f) => [f, cut(input.files[f])])),
  };
}
