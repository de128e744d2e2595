import { z } from 'zod';
import { Agents, type InstanceRecord, type Language, type Recipe } from '../api/index.ts';
import { evalScript, HARNESS_FORMATS } from './swebench-harness.ts';

/** F2P/P2P: JSON-encoded strings as in the HF datasets and `swebench.types.SWEbenchInstance`, or arrays. */
const TestList = z.union([z.string(), z.array(z.string())]);

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
    FAIL_TO_PASS: TestList,
    PASS_TO_PASS: TestList,
    environment_setup_commit: z.string().regex(/^[0-9a-f]{40}$/),
    // What the SWE-bench 5.x harness (make_test_spec, run_evaluation, grading) reads.
    image: z.string().min(1),
    docker_image: z.string().min(1),
    eval_script: z.string().min(1),
    log_parser: z.string(),
    eval_type: z.enum(['pass_and_fail', 'fail_only']),
    // Extras, under names SWE-bench does not use.
    setup_script: z.string(),
    test_command: z.string(),
    result_format: z.string(),
    language: z.string(),
    pull_number: z.number().int(),
    issue_numbers: z.array(z.number().int()),
    toolchain: z.record(z.string(), z.string()),
    environment_key: z.string(),
    environment_lock: z.string(),
    /** Our own test ids (import paths, describe blocks, full pytest parameters), before the parser's cut. */
    scaleswe_FAIL_TO_PASS: z.array(z.string()),
    scaleswe_PASS_TO_PASS: z.array(z.string()),
    tests_source: z.enum(['pr', 'generated']),
    generated_test_patch: z.string(),
    problem_statement_source: z.enum(['issue', 'pr', 'llm']),
    /** Gold-patch mutants the tests kill, killed / (killed + survived); only where measured. */
    mutation_score: z.number().min(0).max(1).optional(),
    /** Executable lines of the gold patch its FAIL_TO_PASS tests run, covered / total; only where measured. */
    diff_coverage: z.number().min(0).max(1).optional(),
    /** The solve stage's solve rate (resolved / graded attempts); only where measured. */
    difficulty: z.number().min(0).max(1).optional(),
    /** The solve stage's pass@k estimate and its k; only where attempts >= k. */
    pass_at_k: z.number().min(0).max(1).optional(),
    solve_k: z.number().int().min(1).optional(),
  })
  .strict();
export type SweBenchRecord = z.infer<typeof SweBenchRecord>;

export interface SweBenchOptions {
  /** F2P/P2P as JSON arrays instead of JSON-encoded strings. */
  lists?: boolean;
}

/**
 * The SWE-bench record of a Verified instance; undefined for any other phase.
 * `test_patch` is what evaluation applies: every test change the labels need, the PR's tests
 * plus generated ones, as one patch at base (`generated_test_patch` keeps the generated part
 * apart, taken on top of the PR's tests). Test ids are the keys the chosen upstream log parser
 * produces (ours stay under `scaleswe_*`).
 */
export function toSweBenchRecord(
  { spec, status }: InstanceRecord,
  options: SweBenchOptions = {},
): SweBenchRecord | undefined {
  if (status?.phase !== 'Verified' || !status.recipe) return undefined;
  const recipe = status.recipe;
  const testsSource = status.testsSource ?? 'pr';
  const testPatch = status.fullTestPatch ?? spec.testPatch;
  const format = HARNESS_FORMATS[recipe.resultFormat];
  const labels = harnessLabels(recipe.resultFormat, status.FAIL_TO_PASS ?? [], status.PASS_TO_PASS ?? []);
  const encode = (ids: string[]) => (options.lists ? ids : JSON.stringify(ids));
  const image = instanceImage(spec.language, status.environment?.image);
  return SweBenchRecord.parse({
    repo: spec.repo,
    instance_id: spec.instanceId,
    base_commit: spec.baseCommit,
    patch: spec.patch,
    test_patch: testPatch,
    problem_statement: status.problemStatement ?? '',
    hints_text: status.hintsText ?? '',
    created_at: spec.createdAt,
    version: environmentVersion(spec.language, recipe),
    FAIL_TO_PASS: encode(labels.FAIL_TO_PASS),
    PASS_TO_PASS: encode(labels.PASS_TO_PASS),
    environment_setup_commit: spec.baseCommit,
    image,
    docker_image: image,
    eval_script: evalScript({
      baseCommit: spec.baseCommit,
      testPatch,
      testCommand: format.evalCommand(recipe.testCommand),
    }),
    // No upstream parser, or none of our F2P ids has a key in its output: an empty log_parser
    // makes the harness refuse the instance; an empty FAIL_TO_PASS would grade any patch resolved.
    log_parser: labels.FAIL_TO_PASS.length > 0 ? (format.logParser ?? '') : '',
    eval_type: format.evalType,
    setup_script: recipe.setupScript,
    test_command: recipe.testCommand,
    result_format: recipe.resultFormat,
    language: spec.language,
    pull_number: spec.pullNumber,
    issue_numbers: spec.issues.map((i) => i.number),
    toolchain: recipe.toolchain ?? {},
    environment_key: status.environment?.key ?? '',
    environment_lock: status.environment?.lock ?? '',
    scaleswe_FAIL_TO_PASS: status.FAIL_TO_PASS ?? [],
    scaleswe_PASS_TO_PASS: status.PASS_TO_PASS ?? [],
    tests_source: testsSource,
    generated_test_patch: status.generatedTestPatch ?? '',
    problem_statement_source: status.problemStatementSource ?? 'pr',
    ...(status.mutation?.score !== undefined && { mutation_score: status.mutation.score }),
    ...(status.mutation?.diffCoverage?.ratio !== undefined && {
      diff_coverage: status.mutation.diffCoverage.ratio,
    }),
    ...(status.solve?.solveRate !== undefined && { difficulty: status.solve.solveRate }),
    ...(status.solve?.passAtK !== undefined && { pass_at_k: status.solve.passAtK, solve_k: status.solve.k }),
  });
}

/**
 * Our labels in the keys of the format's upstream parser: mapped, unnameable ids dropped,
 * duplicates merged (two of ours can cut to one key), and a key in both lists kept in
 * FAIL_TO_PASS only (gold passes it either way; without gold it must fail).
 */
export function harnessLabels(
  format: Recipe['resultFormat'],
  failToPass: readonly string[],
  passToPass: readonly string[],
): { FAIL_TO_PASS: string[]; PASS_TO_PASS: string[] } {
  const { toId } = HARNESS_FORMATS[format];
  const map = (ids: readonly string[]) => [
    ...new Set(ids.map(toId).filter((id): id is string => id !== undefined)),
  ];
  const f2p = map(failToPass);
  const inF2p = new Set(f2p);
  return { FAIL_TO_PASS: f2p, PASS_TO_PASS: map(passToPass).filter((id) => !inF2p.has(id)) };
}

/**
 * The image the harness runs: the environment image built for the instance when there is one;
 * otherwise the language's default sandbox image (the CurationRun default), which has the
 * toolchain but neither the checkout nor the installed environment: build an image from it with
 * `setup_script` run in /testbed at `base_commit` before grading.
 */
export function instanceImage(language: Language, environmentImage: string | undefined): string {
  return environmentImage ?? DEFAULT_IMAGES[language];
}
const DEFAULT_IMAGES = Agents.parse({}).images;

/**
 * SWE-bench's `version` names the environment an instance needs ((repo, version) → one
 * environment image): here the language and the toolchain the recipe chose, e.g.
 * `python3.11.7` or `java-maven3.9.9-temurin17`. A commit hash would give every instance its own.
 */
export function environmentVersion(language: Language, recipe: Recipe): string {
  const tools = Object.entries(recipe.toolchain ?? {}).sort(([a], [b]) => a.localeCompare(b));
  if (tools.length === 1 && tools[0]![0] === language) return `${language}${tools[0]![1]}`;
  return [language, ...tools.map(([tool, version]) => `${tool}${version}`)].join('-');
}

export function toJsonl(rows: readonly unknown[]): string {
  return rows.map((r) => `${JSON.stringify(r)}\n`).join('');
}
