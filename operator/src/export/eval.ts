import { z } from 'zod';
import {
  type InstanceRecord,
  Language,
  type PatchGrade,
  ResultFormat,
  type StageResult,
  SWEInstanceSpec,
} from '../api/index.ts';

/**
 * `scaleswe eval`: the decisions of grading anyone's patches against our dataset, pure —
 * reading the two input files, pairing predictions with instances, turning a grading run
 * into a verdict and the verdicts into a SWE-bench-style report. The shell (local/eval.ts,
 * cli/) only reads files, runs sandboxed processes and writes the results.
 */

/** One prediction in SWE-bench's format. */
export interface Prediction {
  instance_id: string;
  /** null or absent: no patch (graded as an empty patch). */
  model_patch: string | null;
  model_name_or_path: string;
}

export type Parsed<T> = { ok: true; value: T } | { ok: false; error: string };

/** A JSON list, or JSON Lines (blank lines skipped); the error names the file and line. */
function jsonItems(text: string, file: string): Parsed<{ line: number; item: unknown }[]> {
  const trimmed = text.trim();
  if (trimmed === '') return { ok: false, error: `${file}: empty file` };
  if (trimmed.startsWith('[')) {
    try {
      const list = JSON.parse(trimmed) as unknown;
      if (!Array.isArray(list)) return { ok: false, error: `${file}: not a JSON list` };
      return { ok: true, value: list.map((item, i) => ({ line: i + 1, item })) };
    } catch (error) {
      return { ok: false, error: `${file}: not valid JSON: ${(error as Error).message}` };
    }
  }
  const items: { line: number; item: unknown }[] = [];
  const lines = text.split('\n');
  for (const [i, raw] of lines.entries()) {
    if (!raw.trim()) continue;
    try {
      items.push({ line: i + 1, item: JSON.parse(raw) });
    } catch (error) {
      return { ok: false, error: `${file} line ${i + 1}: not valid JSON: ${(error as Error).message}` };
    }
  }
  return { ok: true, value: items };
}

const PredictionEntry = z.looseObject({
  instance_id: z.string().min(1, 'instance_id must be a non-empty string'),
  model_patch: z.string().nullish(),
  model_name_or_path: z.string().nullish(),
});

/**
 * Predictions in SWE-bench's format (JSON Lines or a JSON list of objects with
 * `instance_id`, `model_patch`, `model_name_or_path`). An entry without an instance id cannot
 * be reported per instance: the file is refused. Anything else about an entry (a missing or
 * empty patch, an unknown or repeated id) is the instance's verdict (planEval).
 */
export function parsePredictions(text: string, file: string): Parsed<Prediction[]> {
  const items = jsonItems(text, file);
  if (!items.ok) return items;
  const out: Prediction[] = [];
  for (const { line, item } of items.value) {
    const where = `${file} ${text.trim().startsWith('[') ? 'entry' : 'line'} ${line}`;
    if (typeof item !== 'object' || item === null || Array.isArray(item))
      return { ok: false, error: `${where}: not an object` };
    const parsed = PredictionEntry.safeParse(item);
    if (!parsed.success) return { ok: false, error: `${where}: ${issueText(parsed.error)}` };
    out.push({
      instance_id: parsed.data.instance_id,
      model_patch: parsed.data.model_patch ?? null,
      model_name_or_path: parsed.data.model_name_or_path ?? '',
    });
  }
  return { ok: true, value: out };
}

const TestIds = z.union([
  z.array(z.string()),
  z.string().transform((s, ctx) => {
    try {
      const list = JSON.parse(s) as unknown;
      if (Array.isArray(list) && list.every((x) => typeof x === 'string')) return list as string[];
    } catch {
      // reported below
    }
    ctx.addIssue({ code: 'custom', message: 'must be a list of test ids (or its JSON encoding)' });
    return z.NEVER;
  }),
]);

/**
 * What grading reads of a dataset row (`scaleswe export`, SWE-bench format): the instance,
 * its recorded recipe and lock, the test patch and the labels. Other keys are ignored.
 */
export const DatasetRow = z.looseObject({
  instance_id: SWEInstanceSpec.shape.instanceId,
  repo: SWEInstanceSpec.shape.repo,
  base_commit: SWEInstanceSpec.shape.baseCommit,
  patch: z.string(),
  test_patch: z.string(),
  created_at: z.string(),
  pull_number: z.number().int().min(1),
  language: Language,
  setup_script: z.string(),
  test_command: z.string().min(1),
  result_format: ResultFormat,
  toolchain: z.record(z.string(), z.string()).optional(),
  environment_key: z.string().optional(),
  environment_lock: z.string().optional(),
  tests_source: z.enum(['pr', 'generated']).optional(),
  FAIL_TO_PASS: TestIds,
  PASS_TO_PASS: TestIds,
  /** Our own test ids (what our parsers produce); preferred over the harness keys when present. */
  scaleswe_FAIL_TO_PASS: z.array(z.string()).optional(),
  scaleswe_PASS_TO_PASS: z.array(z.string()).optional(),
});
export type DatasetRow = z.infer<typeof DatasetRow>;

/** dataset.jsonl as `scaleswe export` writes it (SWE-bench format; a JSON list is read too). */
export function parseDataset(text: string, file: string): Parsed<DatasetRow[]> {
  const items = jsonItems(text, file);
  if (!items.ok) return items;
  const rows: DatasetRow[] = [];
  const seen = new Set<string>();
  for (const { line, item } of items.value) {
    const parsed = DatasetRow.safeParse(item);
    if (!parsed.success)
      return {
        ok: false,
        error: `${file} line ${line}: ${issueText(parsed.error)} (a dataset of \`scaleswe export\` in the SWE-bench format is needed: it records the recipe)`,
      };
    if (seen.has(parsed.data.instance_id))
      return { ok: false, error: `${file} line ${line}: instance ${parsed.data.instance_id} appears twice` };
    seen.add(parsed.data.instance_id);
    rows.push(parsed.data);
  }
  return { ok: true, value: rows };
}

function issueText(error: z.ZodError): string {
  const issue = error.issues[0]!;
  return `${issue.path.length ? `${issue.path.join('.')}: ` : ''}${issue.message}`;
}

/**
 * The instance a dataset row describes, as the stages know it: spec (cloned from `cloneURL`)
 * and the status fields grading needs (recipe, environment key and lock, test patch, labels).
 */
export function instanceFromRow(row: DatasetRow, cloneURL: string): InstanceRecord {
  const key = row.environment_key;
  return {
    spec: SWEInstanceSpec.parse({
      instanceId: row.instance_id,
      runRef: 'eval',
      repo: row.repo,
      cloneURL,
      pullNumber: row.pull_number,
      baseCommit: row.base_commit,
      patch: row.patch,
      testPatch: row.test_patch,
      createdAt: row.created_at,
      language: row.language,
    }),
    status: {
      recipe: {
        setupScript: row.setup_script,
        testCommand: row.test_command,
        resultFormat: row.result_format,
        ...(row.toolchain && { toolchain: row.toolchain }),
      },
      ...(key &&
        /^[0-9a-f]{64}$/.test(key) && {
          environment: { key, ...(row.environment_lock && { lock: row.environment_lock }) },
        }),
      ...(row.tests_source && { testsSource: row.tests_source }),
      fullTestPatch: row.test_patch,
      FAIL_TO_PASS: row.scaleswe_FAIL_TO_PASS ?? row.FAIL_TO_PASS,
      PASS_TO_PASS: row.scaleswe_PASS_TO_PASS ?? row.PASS_TO_PASS,
    },
  };
}

/**
 * Where the sandbox fetches an instance's base commit: `--repo` when given, else the clone URL
 * the producing run recorded (`--state-dir`), else the repository on GitHub.
 */
export function cloneUrlFor(
  row: DatasetRow,
  given: { repo?: string | undefined; recorded?: string | undefined },
) {
  return given.repo ?? given.recorded ?? `https://github.com/${row.repo}.git`;
}

export type EvalStatus = 'resolved' | 'unresolved' | 'empty_patch' | 'error';

/** One instance's outcome; `tests` when a test run graded it. */
export interface InstanceVerdict {
  instanceId: string;
  modelName: string;
  status: EvalStatus;
  /** CamelCase: Resolved, FailToPassFailed, PassToPassBroken, EmptyPatch, UnknownInstance, … */
  reason: string;
  message: string;
  patch: string;
  patchApplied: boolean;
  tests?: Omit<PatchGrade, 'testOutput'> | undefined;
}

/** A prediction to run, or its verdict decided without running anything. */
export type PlannedPrediction<Row = DatasetRow> =
  | { kind: 'grade'; row: Row; prediction: Prediction & { model_patch: string } }
  | { kind: 'decided'; verdict: InstanceVerdict };

/**
 * Pairs predictions with dataset rows, in the predictions' order (one entry per instance id):
 * an id the dataset lacks is an error (UnknownInstance), an id given more than once an error
 * for that instance (DuplicatePrediction: which one to grade is not ours to guess), a missing
 * or blank patch an empty patch. The rest are graded.
 */
export function planEval(
  rows: readonly DatasetRow[],
  predictions: readonly Prediction[],
): PlannedPrediction[] {
  return pairPredictions(new Map(rows.map((r) => [r.instance_id, r])), predictions);
}

/** planEval over any kind of instance (a dataset row locally, an SWEInstance in the cluster). */
export function pairPredictions<Row>(
  byId: ReadonlyMap<string, Row>,
  predictions: readonly Prediction[],
): PlannedPrediction<Row>[] {
  const count = new Map<string, number>();
  for (const p of predictions) count.set(p.instance_id, (count.get(p.instance_id) ?? 0) + 1);
  const planned: PlannedPrediction<Row>[] = [];
  const done = new Set<string>();
  for (const p of predictions) {
    if (done.has(p.instance_id)) continue;
    done.add(p.instance_id);
    const decided = (status: EvalStatus, reason: string, message: string): PlannedPrediction<Row> => ({
      kind: 'decided',
      verdict: {
        instanceId: p.instance_id,
        modelName: p.model_name_or_path,
        status,
        reason,
        message,
        patch: p.model_patch ?? '',
        patchApplied: false,
      },
    });
    const row = byId.get(p.instance_id);
    const n = count.get(p.instance_id)!;
    if (n > 1)
      planned.push(decided('error', 'DuplicatePrediction', `${n} predictions for this instance: give one`));
    else if (!row) planned.push(decided('error', 'UnknownInstance', 'no instance of this id in the dataset'));
    else if (!p.model_patch?.trim())
      planned.push(decided('empty_patch', 'EmptyPatch', 'the prediction has no patch'));
    else planned.push({ kind: 'grade', row, prediction: { ...p, model_patch: p.model_patch } });
  }
  return planned;
}

/**
 * The verdict of a grading run (SWE-bench's rule: resolved when every FAIL_TO_PASS and every
 * PASS_TO_PASS test passes). A patch that does not apply is an error of the prediction; an
 * infrastructure failure (setup replay, a run cut off or crashed, the sandbox) is an error,
 * never "unresolved": nothing was learnt about the patch.
 */
export function verdictOf(
  prediction: Prediction & { model_patch: string },
  result: StageResult,
): InstanceVerdict {
  const base = {
    instanceId: prediction.instance_id,
    modelName: prediction.model_name_or_path,
    patch: prediction.model_patch,
    message: result.message,
  };
  if (result.outcome !== 'succeeded' || !result.grade)
    return {
      ...base,
      status: 'error',
      reason: result.outcome === 'succeeded' ? 'GradeMissing' : result.reason,
      patchApplied: result.outcome === 'failed' ? false : result.reason !== 'PatchDoesNotApply',
    };
  const { FAIL_TO_PASS, PASS_TO_PASS } = result.grade;
  const f2pOk = FAIL_TO_PASS.failure.length === 0 && FAIL_TO_PASS.success.length > 0;
  const p2pOk = PASS_TO_PASS.failure.length === 0;
  return {
    ...base,
    status: f2pOk && p2pOk ? 'resolved' : 'unresolved',
    reason: f2pOk ? (p2pOk ? 'Resolved' : 'PassToPassBroken') : 'FailToPassFailed',
    patchApplied: true,
    tests: { FAIL_TO_PASS, PASS_TO_PASS },
  };
}

/** An instance id as a directory name under logs/, or undefined when it is not one (unknown ids). */
export function logSegment(instanceId: string): string | undefined {
  return SWEInstanceSpec.shape.instanceId.safeParse(instanceId).success ? instanceId : undefined;
}

const emptySplit = () => ({ success: [] as string[], failure: [] as string[] });

/** logs/<id>/report.json: SWE-bench's per-instance report, plus our status and reason. */
export function instanceReport(v: InstanceVerdict): Record<string, unknown> {
  return {
    [v.instanceId]: {
      patch_is_None: v.status === 'empty_patch' && v.patch === '',
      patch_exists: v.patch.trim() !== '',
      patch_successfully_applied: v.patchApplied,
      resolved: v.status === 'resolved',
      status: v.status,
      reason: v.reason,
      message: v.message,
      model_name_or_path: v.modelName,
      tests_status: {
        FAIL_TO_PASS: v.tests?.FAIL_TO_PASS ?? emptySplit(),
        PASS_TO_PASS: v.tests?.PASS_TO_PASS ?? emptySplit(),
        FAIL_TO_FAIL: emptySplit(),
        PASS_TO_FAIL: emptySplit(),
      },
    },
  };
}

/**
 * report.json: SWE-bench's run report (schema_version 2 field names: counts, then id lists),
 * plus `errors` (why each error id is one) and the model names seen.
 */
export function evalReport(datasetIds: readonly string[], verdicts: readonly InstanceVerdict[]) {
  const ids = (status: EvalStatus) =>
    verdicts
      .filter((v) => v.status === status)
      .map((v) => v.instanceId)
      .sort();
  const submitted = verdicts.map((v) => v.instanceId).sort();
  const resolved = ids('resolved');
  const unresolved = ids('unresolved');
  const completed = [...resolved, ...unresolved].sort();
  const submittedSet = new Set(submitted);
  const incomplete = datasetIds.filter((id) => !submittedSet.has(id)).sort();
  return {
    total_instances: datasetIds.length,
    submitted_instances: submitted.length,
    completed_instances: completed.length,
    resolved_instances: resolved.length,
    unresolved_instances: unresolved.length,
    empty_patch_instances: ids('empty_patch').length,
    error_instances: ids('error').length,
    completed_ids: completed,
    incomplete_ids: incomplete,
    empty_patch_ids: ids('empty_patch'),
    submitted_ids: submitted,
    resolved_ids: resolved,
    unresolved_ids: unresolved,
    error_ids: ids('error'),
    errors: Object.fromEntries(
      verdicts
        .filter((v) => v.status === 'error')
        .sort((a, b) => a.instanceId.localeCompare(b.instanceId))
        .map((v) => [v.instanceId, { reason: v.reason, message: v.message }]),
    ),
    model_names: [...new Set(verdicts.map((v) => v.modelName).filter(Boolean))].sort(),
    schema_version: 2,
  };
}
export type EvalReport = ReturnType<typeof evalReport>;
