import { describe, expect, it } from 'vitest';
import type { StageResult } from '../api/index.ts';
import {
  cloneUrlFor,
  type DatasetRow,
  evalReport,
  instanceFromRow,
  instanceReport,
  logSegment,
  type Prediction,
  parseDataset,
  parsePredictions,
  planEval,
  verdictOf,
} from './eval.ts';

const row = (n: number, extra: Record<string, unknown> = {}) => ({
  repo: 'acme/calc',
  instance_id: `acme__calc-${n}`,
  base_commit: 'a'.repeat(40),
  patch: 'diff --git a/calc.py b/calc.py\n',
  test_patch: 'diff --git a/test_calc.py b/test_calc.py\n',
  created_at: '2026-01-01T00:00:00Z',
  pull_number: n,
  language: 'python',
  setup_script: 'pip install -e .',
  test_command: 'pytest -rA',
  result_format: 'pytest',
  environment_key: 'b'.repeat(64),
  environment_lock: 'pytest==8.0.0\n',
  FAIL_TO_PASS: '["test_calc.py::test_add"]',
  PASS_TO_PASS: '[]',
  scaleswe_FAIL_TO_PASS: ['test_calc.py::test_add'],
  scaleswe_PASS_TO_PASS: ['test_calc.py::test_sub'],
  problem_statement: 'add is wrong',
  ...extra,
});
const jsonl = (items: unknown[]) => items.map((i) => `${JSON.stringify(i)}\n`).join('');
const rows = (...ns: number[]): DatasetRow[] => {
  const parsed = parseDataset(jsonl(ns.map((n) => row(n))), 'dataset.jsonl');
  if (!parsed.ok) throw new Error(parsed.error);
  return parsed.value;
};
const pred = (id: string, patch: string | null, model = 'm'): Prediction => ({
  instance_id: id,
  model_patch: patch,
  model_name_or_path: model,
});

describe('parsePredictions', () => {
  it('reads JSON Lines and a JSON list; a missing or null patch is no patch', () => {
    const items = [
      { instance_id: 'a__b-1', model_patch: 'diff', model_name_or_path: 'gpt' },
      { instance_id: 'a__b-2', model_patch: null },
      { instance_id: 'a__b-3', extra: true },
    ];
    const expected = [pred('a__b-1', 'diff', 'gpt'), pred('a__b-2', null, ''), pred('a__b-3', null, '')];
    expect(parsePredictions(`${jsonl(items)}\n\n`, 'p.jsonl')).toEqual({ ok: true, value: expected });
    expect(parsePredictions(JSON.stringify(items), 'p.json')).toEqual({ ok: true, value: expected });
  });
  it('refuses a file it cannot read per instance, naming the line', () => {
    expect(parsePredictions('', 'p.jsonl')).toEqual({ ok: false, error: 'p.jsonl: empty file' });
    const broken = parsePredictions('{"instance_id":"a__b-1"}\n{not json\n', 'p.jsonl');
    expect(broken.ok || broken.error).toMatch(/^p\.jsonl line 2: not valid JSON/);
    expect(parsePredictions('{"model_patch":"x"}\n', 'p.jsonl')).toEqual({
      ok: false,
      error: 'p.jsonl line 1: instance_id: Invalid input: expected string, received undefined',
    });
    expect(parsePredictions('[1]', 'p.json')).toEqual({ ok: false, error: 'p.json entry 1: not an object' });
    expect(parsePredictions('{"a":1', 'p.json').ok).toBe(false);
  });
});

describe('parseDataset', () => {
  it('reads our SWE-bench export rows', () => {
    expect(rows(1, 2).map((r) => r.instance_id)).toEqual(['acme__calc-1', 'acme__calc-2']);
  });
  it('refuses rows without a recipe (another format) and repeated ids', () => {
    const { setup_script: _, ...noRecipe } = row(1);
    const parsed = parseDataset(jsonl([noRecipe]), 'd.jsonl');
    expect(parsed.ok || parsed.error).toMatch(/^d\.jsonl line 1: setup_script: .*records the recipe\)$/);
    expect(parseDataset(jsonl([row(1), row(1)]), 'd.jsonl')).toEqual({
      ok: false,
      error: 'd.jsonl line 2: instance acme__calc-1 appears twice',
    });
  });
});

describe('instanceFromRow / cloneUrlFor', () => {
  it('rebuilds the instance with its recipe, lock, test patch and our own test ids', () => {
    const [r] = rows(1);
    const instance = instanceFromRow(r!, '/srv/calc.git');
    expect(instance.spec).toMatchObject({
      instanceId: 'acme__calc-1',
      cloneURL: '/srv/calc.git',
      pullNumber: 1,
    });
    expect(instance.status).toEqual({
      recipe: { setupScript: 'pip install -e .', testCommand: 'pytest -rA', resultFormat: 'pytest' },
      environment: { key: 'b'.repeat(64), lock: 'pytest==8.0.0\n' },
      fullTestPatch: 'diff --git a/test_calc.py b/test_calc.py\n',
      FAIL_TO_PASS: ['test_calc.py::test_add'],
      PASS_TO_PASS: ['test_calc.py::test_sub'],
    });
  });
  it('without our ids, the harness labels (JSON-encoded or lists) are graded', () => {
    const parsed = parseDataset(
      jsonl([
        {
          ...row(1),
          scaleswe_FAIL_TO_PASS: undefined,
          scaleswe_PASS_TO_PASS: undefined,
          PASS_TO_PASS: ['p'],
        },
      ]),
      'd',
    );
    if (!parsed.ok) throw new Error(parsed.error);
    const status = instanceFromRow(parsed.value[0]!, 'u').status!;
    expect([status.FAIL_TO_PASS, status.PASS_TO_PASS]).toEqual([['test_calc.py::test_add'], ['p']]);
  });
  it('--repo, else the recorded clone URL, else GitHub', () => {
    const [r] = rows(1);
    expect(cloneUrlFor(r!, { repo: '/x', recorded: '/y' })).toBe('/x');
    expect(cloneUrlFor(r!, { recorded: '/y' })).toBe('/y');
    expect(cloneUrlFor(r!, {})).toBe('https://github.com/acme/calc.git');
  });
});

describe('planEval', () => {
  it('grades known ids with a patch; unknown, repeated and empty ones are decided at once', () => {
    const planned = planEval(rows(1, 2, 3, 4), [
      pred('acme__calc-1', 'diff A'),
      pred('acme__calc-9', 'diff'),
      pred('acme__calc-2', '  \n'),
      pred('acme__calc-3', 'diff B'),
      pred('acme__calc-4', null),
      pred('acme__calc-3', 'diff C'),
    ]);
    expect(
      planned.map((p) =>
        p.kind === 'grade'
          ? ['grade', p.prediction.instance_id, p.prediction.model_patch]
          : [p.verdict.status, p.verdict.instanceId, p.verdict.reason],
      ),
    ).toEqual([
      ['grade', 'acme__calc-1', 'diff A'],
      ['error', 'acme__calc-9', 'UnknownInstance'],
      ['empty_patch', 'acme__calc-2', 'EmptyPatch'],
      ['error', 'acme__calc-3', 'DuplicatePrediction'],
      ['empty_patch', 'acme__calc-4', 'EmptyPatch'],
    ]);
  });
});

describe('verdictOf', () => {
  const p = { ...pred('acme__calc-1', 'diff'), model_patch: 'diff' };
  const result = (over: Partial<StageResult>): StageResult => ({
    stage: 'verify',
    outcome: 'succeeded',
    reason: 'Graded',
    message: 'm',
    tokensUsed: 0,
    durationMs: 1,
    trajectories: [],
    ...over,
  });
  const grade = (f2pFail: string[], p2pFail: string[]) => ({
    FAIL_TO_PASS: { success: ['f'], failure: f2pFail },
    PASS_TO_PASS: { success: ['p'], failure: p2pFail },
    testOutput: 'out',
  });
  it('resolved only when every FAIL_TO_PASS and PASS_TO_PASS test passed', () => {
    expect(verdictOf(p, result({ grade: grade([], []) }))).toMatchObject({
      status: 'resolved',
      reason: 'Resolved',
      patchApplied: true,
    });
    expect(verdictOf(p, result({ grade: grade(['g'], []) }))).toMatchObject({
      status: 'unresolved',
      reason: 'FailToPassFailed',
    });
    expect(verdictOf(p, result({ grade: grade([], ['q']) }))).toMatchObject({
      status: 'unresolved',
      reason: 'PassToPassBroken',
      tests: { PASS_TO_PASS: { success: ['p'], failure: ['q'] } },
    });
  });
  it('a patch that does not apply and every infrastructure failure are errors, never unresolved', () => {
    expect(
      verdictOf(p, result({ outcome: 'rejected', reason: 'PatchDoesNotApply', message: 'no' })),
    ).toMatchObject({ status: 'error', reason: 'PatchDoesNotApply', patchApplied: false });
    for (const reason of ['SetupReplayFailed', 'TestsTimedOut', 'TestRunCrashed', 'DeadlineExceeded'])
      expect(verdictOf(p, result({ outcome: 'failed', reason }))).toMatchObject({ status: 'error', reason });
    expect(verdictOf(p, result({}))).toMatchObject({ status: 'error', reason: 'GradeMissing' });
  });
});

describe('reports', () => {
  const planned = planEval(rows(1, 2, 3, 4), [
    pred('acme__calc-2', ''),
    pred('../../etc', 'diff'),
    pred('acme__calc-1', 'diff'),
  ]);
  const decided = planned.flatMap((p) => (p.kind === 'decided' ? [p.verdict] : []));
  const graded = verdictOf(
    { ...pred('acme__calc-1', 'diff'), model_patch: 'diff' },
    {
      stage: 'verify',
      outcome: 'succeeded',
      reason: 'Graded',
      message: '',
      tokensUsed: 0,
      durationMs: 0,
      trajectories: [],
      grade: {
        FAIL_TO_PASS: { success: ['f'], failure: [] },
        PASS_TO_PASS: { success: [], failure: [] },
        testOutput: '',
      },
    },
  );
  it("report.json: SWE-bench's counts and id lists, and why each error is one", () => {
    const report = evalReport(
      ['acme__calc-1', 'acme__calc-2', 'acme__calc-3', 'acme__calc-4'],
      [...decided, graded],
    );
    expect(report).toEqual({
      total_instances: 4,
      submitted_instances: 3,
      completed_instances: 1,
      resolved_instances: 1,
      unresolved_instances: 0,
      empty_patch_instances: 1,
      error_instances: 1,
      completed_ids: ['acme__calc-1'],
      incomplete_ids: ['acme__calc-3', 'acme__calc-4'],
      empty_patch_ids: ['acme__calc-2'],
      submitted_ids: ['../../etc', 'acme__calc-1', 'acme__calc-2'],
      resolved_ids: ['acme__calc-1'],
      unresolved_ids: [],
      error_ids: ['../../etc'],
      errors: {
        '../../etc': { reason: 'UnknownInstance', message: 'no instance of this id in the dataset' },
      },
      model_names: ['m'],
      schema_version: 2,
    });
  });
  it('per-instance report in the harness shape; ids that are no path get no log directory', () => {
    expect(instanceReport(graded)).toEqual({
      'acme__calc-1': expect.objectContaining({
        patch_exists: true,
        patch_successfully_applied: true,
        resolved: true,
        tests_status: {
          FAIL_TO_PASS: { success: ['f'], failure: [] },
          PASS_TO_PASS: { success: [], failure: [] },
          FAIL_TO_FAIL: { success: [], failure: [] },
          PASS_TO_FAIL: { success: [], failure: [] },
        },
      }),
    });
    expect(logSegment('acme__calc-1')).toBe('acme__calc-1');
    expect(logSegment('../../etc')).toBeUndefined();
  });
});
