import { z } from 'zod';
import type { InstanceRecord } from '../api/index.ts';

/** One SWE-bench record: the exact upstream field names, then our extras. */
export const SweBenchRecord = z
  .object({
    repo: z.string(),
    instance_id: z.string(),
    base_commit: z.string().regex(/^[0-9a-f]{40}$/),
    patch: z.string().min(1),
    test_patch: z.string(),
    problem_statement: z.string().min(1),
    hints_text: z.string(),
    created_at: z.string(),
    version: z.string(),
    FAIL_TO_PASS: z.array(z.string()).min(1),
    PASS_TO_PASS: z.array(z.string()),
    environment_setup_commit: z.string().regex(/^[0-9a-f]{40}$/),
    // Extras, under names SWE-bench does not use.
    setup_script: z.string(),
    test_command: z.string(),
    result_format: z.string(),
    language: z.string(),
    pull_number: z.number().int(),
    issue_numbers: z.array(z.number().int()),
    tests_source: z.enum(['pr', 'generated']),
    generated_test_patch: z.string(),
    problem_statement_source: z.enum(['issue', 'pr', 'llm']),
  })
  .strict();
export type SweBenchRecord = z.infer<typeof SweBenchRecord>;

/**
 * The SWE-bench record of a Verified instance; undefined for any other phase.
 * `test_patch` is what evaluation applies: every test change the labels need, the PR's tests
 * plus generated ones, as one patch at base (`generated_test_patch` keeps the generated part
 * apart, taken on top of the PR's tests). `version` has no upstream meaning for an arbitrary repo; the short base
 * commit keeps (repo, version) unique per environment, which is what the harness keys on.
 */
export function toSweBenchRecord({ spec, status }: InstanceRecord): SweBenchRecord | undefined {
  if (status?.phase !== 'Verified' || !status.recipe) return undefined;
  const testsSource = status.testsSource ?? 'pr';
  return SweBenchRecord.parse({
    repo: spec.repo,
    instance_id: spec.instanceId,
    base_commit: spec.baseCommit,
    patch: spec.patch,
    test_patch: status.fullTestPatch ?? spec.testPatch,
    problem_statement: status.problemStatement ?? '',
    hints_text: status.hintsText ?? '',
    created_at: spec.createdAt,
    version: spec.baseCommit.slice(0, 7),
    FAIL_TO_PASS: status.FAIL_TO_PASS ?? [],
    PASS_TO_PASS: status.PASS_TO_PASS ?? [],
    environment_setup_commit: spec.baseCommit,
    setup_script: status.recipe.setupScript,
    test_command: status.recipe.testCommand,
    result_format: status.recipe.resultFormat,
    language: spec.language,
    pull_number: spec.pullNumber,
    issue_numbers: spec.issues.map((i) => i.number),
    tests_source: testsSource,
    generated_test_patch: status.generatedTestPatch ?? '',
    problem_statement_source: status.problemStatementSource ?? 'pr',
  });
}

export function toJsonl(rows: readonly unknown[]): string {
  return rows.map((r) => `${JSON.stringify(r)}\n`).join('');
}
