import { describe, expect, it } from 'vitest';
import type { SWEInstanceSpec, SWEInstanceStatus, Trajectory } from '../api/index.ts';
import { renderReport } from './report.ts';
import { SweBenchRecord, toJsonl, toSweBenchRecord } from './swebench.ts';
import { toChatExample } from './trajectories.ts';

const spec: SWEInstanceSpec = {
  instanceId: 'acme__calc-7',
  runRef: 'r',
  repo: 'acme/calc',
  cloneURL: '/tmp/calc',
  pullNumber: 7,
  title: 'Fix add',
  body: '',
  baseCommit: 'a'.repeat(40),
  patch: 'diff --git a/calc.py b/calc.py\n',
  testPatch: 'diff --git a/test_calc.py b/test_calc.py\n',
  issues: [{ number: 3, title: 't', body: 'b', hints: [] }],
  createdAt: '2026-01-01T00:00:00Z',
  language: 'python',
};

const verified: SWEInstanceStatus = {
  phase: 'Verified',
  recipe: { setupScript: 'pip install -e .', testCommand: 'pytest -rA', resultFormat: 'pytest' },
  testsSource: 'pr',
  FAIL_TO_PASS: ['test_calc.py::test_add'],
  PASS_TO_PASS: ['test_calc.py::test_sub'],
  problemStatement: 'add is wrong',
  problemStatementSource: 'issue',
  hintsText: '',
};

describe('SWE-bench export', () => {
  it('emits exactly the upstream field names plus named extras', () => {
    const record = toSweBenchRecord({ spec, status: verified });
    expect(record).toBeDefined();
    expect(Object.keys(record!).slice(0, 12)).toEqual([
      'repo',
      'instance_id',
      'base_commit',
      'patch',
      'test_patch',
      'problem_statement',
      'hints_text',
      'created_at',
      'version',
      'FAIL_TO_PASS',
      'PASS_TO_PASS',
      'environment_setup_commit',
    ]);
    expect(record).toMatchObject({
      instance_id: 'acme__calc-7',
      test_patch: spec.testPatch,
      FAIL_TO_PASS: ['test_calc.py::test_add'],
      issue_numbers: [3],
      setup_script: 'pip install -e .',
    });
    expect(() => SweBenchRecord.parse(JSON.parse(toJsonl([record]).trim()))).not.toThrow();
  });

  it("exports the full test patch (the PR's tests plus generated ones), the generated part apart", () => {
    const generated = 'diff --git a/tests/test_gen.py b/tests/test_gen.py\n+def test_new(): ...\n';
    const full = `${spec.testPatch}${generated}`;
    const record = toSweBenchRecord({
      spec,
      status: { ...verified, testsSource: 'generated', generatedTestPatch: generated, fullTestPatch: full },
    });
    expect(record).toMatchObject({
      test_patch: full,
      generated_test_patch: generated,
      tests_source: 'generated',
    });
    // A PR whose own tests gave the labels: its test patch, nothing generated.
    expect(toSweBenchRecord({ spec, status: verified })).toMatchObject({
      test_patch: spec.testPatch,
      generated_test_patch: '',
    });
  });

  it('exports only verified instances', () => {
    expect(toSweBenchRecord({ spec, status: { ...verified, phase: 'Rejected' } })).toBeUndefined();
    expect(toSweBenchRecord({ spec })).toBeUndefined();
  });
});

describe('trajectory export', () => {
  it('turns the last step into one chat example with the final reply', () => {
    const trajectory: Trajectory = {
      instanceId: 'acme__calc-7',
      stage: 'env',
      agent: 'EnvAgent',
      steps: [1, 2].map((n) => ({
        request: {
          model: 'm',
          messages: Array.from({ length: n }, (_, i) => ({ role: 'user', content: `${i}` })),
        },
        response: { choices: [{ message: { role: 'assistant', content: `reply ${n}` } }] },
        usage: { prompt_tokens: 10, completion_tokens: 5, total_tokens: 15 },
        startedAt: '2026-01-01T00:00:00Z',
        durationMs: 1,
      })),
    };
    const example = toChatExample(trajectory);
    expect(example?.messages).toEqual([
      { role: 'user', content: '0' },
      { role: 'user', content: '1' },
      { role: 'assistant', content: 'reply 2' },
    ]);
    expect(example?.metadata).toEqual({
      instance_id: 'acme__calc-7',
      stage: 'env',
      agent: 'EnvAgent',
      steps: 2,
      total_tokens: 30,
    });
    expect(toChatExample({ ...trajectory, steps: [] })).toBeUndefined();
  });
});

describe('report', () => {
  it('shows the funnel and reasons', () => {
    const text = renderReport({
      runName: 'r',
      discovered: 5,
      rejectedByReason: { DocsOrLockfileOnly: 1 },
      instances: [
        { spec, status: { ...verified, stageDurationsMs: { env: 1000 } } },
        {
          spec,
          status: {
            phase: 'Rejected',
            stageDurationsMs: { env: 3000, tests: 500 },
            lastError: { reason: 'NoFailToPass', message: '', time: '' },
          },
        },
      ],
    });
    expect(text).toContain('| PRs discovered | 5 |');
    expect(text).toContain('| verified | 1 |');
    expect(text).toContain('| NoFailToPass | 1 |');
    expect(text).toContain('"rejected by filter" : 1');
    expect(text).toContain('| env | 1.0 s median over 2 |');
    expect(text).toContain('| tests | 0.5 s median over 1 |');
  });
});
