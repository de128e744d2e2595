import type { InstanceRecord } from '../api/index.ts';
import { instanceImage } from './swebench.ts';
import { CONTAINER_WORKDIR } from './swebench-harness.ts';

/**
 * One record in the schema of the released Scale-SWE data (the field table of the
 * AweAI-Team/Scale-SWE data card, read 2026-12): `{user}_{repo}_pr{id}` ids, the environment
 * image as `image_url`, the base as `parent_commit`, tests as `f2p_patch`. Their `f2p_script`
 * is a single generated `test_fail_to_pass.py`; our generated tests are a patch, so they are
 * part of `f2p_patch` and `f2p_script` stays empty.
 */
export interface ScaleSweRecord {
  instance_id: string;
  user: string;
  repo: string;
  language: string;
  workdir: string;
  image_url: string;
  patch: string;
  pr_commit: string;
  parent_commit: string;
  problem_statement: string;
  f2p_patch: string;
  f2p_script: string;
  FAIL_TO_PASS: string[];
  PASS_TO_PASS: string[];
  github_url: string;
  pre_commands: string;
}

/** The Scale-SWE record of a Verified instance; undefined for any other phase. */
export function toScaleSweRecord({ spec, status }: InstanceRecord): ScaleSweRecord | undefined {
  if (status?.phase !== 'Verified' || !status.recipe) return undefined;
  const [user, repo] = spec.repo.split('/') as [string, string];
  return {
    instance_id: `${user}_${repo}_pr${spec.pullNumber}`,
    user,
    repo,
    language: spec.language,
    workdir: CONTAINER_WORKDIR,
    image_url: instanceImage(spec.language, status.environment?.image),
    patch: spec.patch,
    pr_commit: spec.mergeCommit ?? '',
    parent_commit: spec.baseCommit,
    problem_statement: status.problemStatement ?? '',
    f2p_patch: status.fullTestPatch ?? spec.testPatch,
    f2p_script: '',
    FAIL_TO_PASS: status.FAIL_TO_PASS ?? [],
    PASS_TO_PASS: status.PASS_TO_PASS ?? [],
    github_url: `https://github.com/${spec.repo}`,
    pre_commands: `cd ${CONTAINER_WORKDIR} && git checkout -f ${spec.baseCommit}`,
  };
}
