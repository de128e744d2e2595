import { describe, expect, it } from 'vitest';
import type { SWEInstanceSpec, SWEInstanceStatus, Trajectory } from '../api/index.ts';
import { renderExport } from './export-run.ts';
import { renderReport } from './report.ts';
import { toScaleSweRecord } from './scaleswe-format.ts';
import { SweBenchRecord, toJsonl, toSweBenchRecord } from './swebench.ts';
import {
  evalScript,
  goTestId,
  goVerboseCommand,
  HARNESS_FORMATS,
  jestId,
  pytestId,
} from './swebench-harness.ts';
import { labelledExamples, loopStatus, toChatExample } from './trajectories.ts';

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
      FAIL_TO_PASS: '["test_calc.py::test_add"]',
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

  it('mutation_score where the gold patch was mutation-tested and scored, absent otherwise', () => {
    const mutation = {
      tried: 4,
      killed: 3,
      survived: 1,
      notCompiling: 0,
      errored: 0,
      equivalent: 0,
      score: 0.75,
      survivors: [],
    };
    expect(toSweBenchRecord({ spec, status: { ...verified, mutation } })?.mutation_score).toBe(0.75);
    expect(toSweBenchRecord({ spec, status: verified })).not.toHaveProperty('mutation_score');
    const skipped = { ...mutation, tried: 0, killed: 0, survived: 0, score: undefined, skipped: 'nothing' };
    expect(toSweBenchRecord({ spec, status: { ...verified, mutation: skipped } })).not.toHaveProperty(
      'mutation_score',
    );
  });

  it('diff_coverage where the gold patch coverage was measured, absent when skipped', () => {
    const mutation = {
      tried: 1,
      killed: 1,
      survived: 0,
      notCompiling: 0,
      errored: 0,
      equivalent: 0,
      score: 1,
      survivors: [],
    };
    const diffCoverage = { covered: 1, total: 4, ratio: 0.25, engine: 'coverage.py', uncovered: ['a.py:3'] };
    expect(
      toSweBenchRecord({ spec, status: { ...verified, mutation: { ...mutation, diffCoverage } } }),
    ).toMatchObject({ mutation_score: 1, diff_coverage: 0.25 });
    const skipped = { covered: 0, total: 0, uncovered: [], skipped: 'no coverage engine' };
    expect(
      toSweBenchRecord({ spec, status: { ...verified, mutation: { ...mutation, diffCoverage: skipped } } }),
    ).not.toHaveProperty('diff_coverage');
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
    expect(Object.keys(example!)).toEqual(['messages']);
    const [labelled] = labelledExamples([trajectory], []);
    expect(labelled?.labels).toMatchObject({
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
      source: { github: { repo: 'acme/calc' } },
      exportedAt: new Date(0),
      version: 'test',
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
    expect(text).toContain('- Source: https://github.com/acme/calc');
    expect(text).toContain('](report-funnel.svg)');
    expect(text).toContain('| env | 1.0 s median over 2 |');
    expect(text).toContain('| tests | 0.5 s median over 1 |');
  });
});

describe('what the SWE-bench 5.x harness reads', () => {
  const record = (status: Partial<SWEInstanceStatus> = {}, over: Partial<SWEInstanceSpec> = {}) =>
    toSweBenchRecord({ spec: { ...spec, ...over }, status: { ...verified, ...status } })!;

  it('carries image, docker_image, eval_script, log_parser and eval_type (make_test_spec: KeyError otherwise)', () => {
    const r = record();
    for (const key of ['image', 'docker_image', 'eval_script', 'log_parser', 'eval_type'])
      expect(r, key).toHaveProperty(key);
    expect(r.log_parser).toBe('parse_log_pytest');
    expect(r.eval_type).toBe('pass_and_fail');
    // No environment image built (local runs): the language's default sandbox image.
    expect(r.image).toBe('scaleswe/sandbox-python:0.1.0');
    expect(r.docker_image).toBe(r.image);
  });

  it("uses the instance's environment image when one was built", () => {
    const image = `registry.example/env/acme-calc@sha256:${'b'.repeat(64)}`;
    const r = record({ environment: { key: 'k1', image, lock: 'pytest==8.3.0' } });
    expect(r).toMatchObject({
      image,
      docker_image: image,
      environment_key: 'k1',
      environment_lock: 'pytest==8.3.0',
    });
  });

  it('F2P/P2P are JSON-encoded strings by default (SWEbenchInstance), arrays with lists', () => {
    const r = record();
    expect(typeof r.FAIL_TO_PASS).toBe('string');
    expect(JSON.parse(r.FAIL_TO_PASS as string)).toEqual(['test_calc.py::test_add']);
    expect(JSON.parse(r.PASS_TO_PASS as string)).toEqual(['test_calc.py::test_sub']);
    const lists = toSweBenchRecord({ spec, status: verified }, { lists: true })!;
    expect(lists.FAIL_TO_PASS).toEqual(['test_calc.py::test_add']);
  });

  it('version names the environment (language and toolchain), not a commit', () => {
    expect(record().version).toBe('python');
    const python = { ...verified.recipe!, toolchain: { python: '3.11.7' } };
    expect(record({ recipe: python }).version).toBe('python3.11.7');
    const java = { ...verified.recipe!, toolchain: { maven: '3.9.9', java: '17' } };
    expect(record({ recipe: java }, { language: 'java' }).version).toBe('java-java17-maven3.9.9');
    expect(record().version).not.toContain(spec.baseCommit.slice(0, 7));
  });

  it('Go ids lose the import path, as parse_log_gotest reads `go test -v`', () => {
    const go = {
      recipe: {
        setupScript: '',
        testCommand: 'go test -json -count=1 ./...',
        resultFormat: 'go-test-json' as const,
      },
      FAIL_TO_PASS: ['example.com/shapes/geom/TestArea/unit_square'],
      PASS_TO_PASS: ['example.com/shapes/geom/TestPerimeter', 'example.com/shapes/geom'],
    };
    const r = record(go, { language: 'go' });
    expect(JSON.parse(r.FAIL_TO_PASS as string)).toEqual(['TestArea/unit_square']);
    expect(JSON.parse(r.PASS_TO_PASS as string)).toEqual(['TestPerimeter']);
    expect(r.log_parser).toBe('parse_log_gotest');
    expect(r.eval_script).toContain('\ngo test -v -count=1 ./...\n');
    expect(r.scaleswe_FAIL_TO_PASS).toEqual(go.FAIL_TO_PASS);
    // Only a package-level id: nothing the parser names, so no parser (never "resolved" by default).
    expect(record({ ...go, FAIL_TO_PASS: ['example.com/shapes/geom'] }, { language: 'go' }).log_parser).toBe(
      '',
    );
  });

  it('pytest ids are cut where parse_log_pytest cuts them (first blank); F2P wins a shared key', () => {
    const r = record({
      FAIL_TO_PASS: ['t.py::test_words[a b]'],
      PASS_TO_PASS: ['t.py::test_words[a c]', 't.py::test_ok'],
    });
    expect(JSON.parse(r.FAIL_TO_PASS as string)).toEqual(['t.py::test_words[a']);
    expect(JSON.parse(r.PASS_TO_PASS as string)).toEqual(['t.py::test_ok']);
  });

  it('jest ids are the title alone (jest --verbose), vitest ids stay whole (vitest --reporter=verbose)', () => {
    expect(jestId('test/range.test.js > inRange > accepts x')).toBe('accepts x');
    expect(HARNESS_FORMATS['vitest-json'].toId('test/a.test.ts > s > t')).toBe('test/a.test.ts > s > t');
    expect(
      HARNESS_FORMATS['jest-json'].evalCommand('npx jest --ci --json --outputFile="$SCALESWE_RESULTS"'),
    ).toBe('npx jest --ci --verbose');
    expect(
      HARNESS_FORMATS['vitest-json'].evalCommand(
        'npx vitest run --reporter=json --outputFile="$SCALESWE_RESULTS"',
      ),
    ).toBe('npx vitest run --reporter=verbose');
  });

  it('maps ids per format as pure functions', () => {
    expect(pytestId('tests/a.py::t[x - y]')).toBe('tests/a.py::t[x');
    expect(goTestId('github.com/o/r/v2/pkg/TestX/sub_case')).toBe('TestX/sub_case');
    expect(goTestId('github.com/o/r/pkg')).toBeUndefined();
    expect(goVerboseCommand('cd mod && go test -json -count=1 ./... 2>&1')).toBe(
      'cd mod && go test -v -count=1 ./... 2>&1',
    );
  });

  it("eval_script: SWE-bench's shape, markers around exactly the test command, test patch applied and reset", () => {
    const testPatch =
      'diff --git a/tests/test_a.py b/tests/test_a.py\n--- a/tests/test_a.py\n+++ b/tests/test_a.py\n';
    const script = evalScript({ baseCommit: spec.baseCommit, testPatch, testCommand: 'pytest -rA' });
    const lines = script.trimEnd().split('\n');
    expect(lines.slice(0, 3)).toEqual(['#!/bin/bash', 'set -uxo pipefail', 'cd /testbed']);
    const start = lines.indexOf(": '>>>>> Start Test Output'");
    expect(lines[start + 1]).toBe('pytest -rA');
    expect(lines[start + 2]).toBe(": '>>>>> End Test Output'");
    expect(script).toContain(`git checkout ${spec.baseCommit} -- tests/test_a.py\n`);
    expect(script).toContain(`${testPatch}EOF_SCALESWE_TEST_PATCH\n`);
    expect(lines.at(-1)).toBe(`git checkout ${spec.baseCommit} -- tests/test_a.py`);
  });

  it('eval_script resets files new in the test patch with rm, not git checkout (which would refuse every path)', () => {
    const testPatch =
      'diff --git a/tests/test_a.py b/tests/test_a.py\n--- a/tests/test_a.py\n+++ b/tests/test_a.py\n' +
      'diff --git a/tests/test_new.py b/tests/test_new.py\nnew file mode 100644\n--- /dev/null\n+++ b/tests/test_new.py\n';
    const script = evalScript({ baseCommit: spec.baseCommit, testPatch, testCommand: 'pytest -rA' });
    expect(script).toContain(
      `\ngit checkout ${spec.baseCommit} -- tests/test_a.py\nrm -f tests/test_new.py\ngit apply`,
    );
    expect(script.trimEnd().endsWith(`-- tests/test_a.py\nrm -f tests/test_new.py`)).toBe(true);
  });
});

describe('export formats', () => {
  it('--format scaleswe writes the released Scale-SWE schema', () => {
    const r = toScaleSweRecord({ spec: { ...spec, mergeCommit: 'c'.repeat(40) }, status: verified })!;
    expect(Object.keys(r).sort()).toEqual(
      [
        'instance_id',
        'user',
        'repo',
        'language',
        'workdir',
        'image_url',
        'patch',
        'pr_commit',
        'parent_commit',
        'problem_statement',
        'f2p_patch',
        'f2p_script',
        'FAIL_TO_PASS',
        'PASS_TO_PASS',
        'github_url',
        'pre_commands',
      ].sort(),
    );
    expect(r).toMatchObject({
      instance_id: 'acme_calc_pr7',
      user: 'acme',
      repo: 'calc',
      parent_commit: spec.baseCommit,
      pr_commit: 'c'.repeat(40),
      f2p_patch: spec.testPatch,
      github_url: 'https://github.com/acme/calc',
    });
  });
});

describe('labelled trajectories', () => {
  const step = (message: Record<string, unknown>, finish = 'stop') => ({
    request: { model: 'm', messages: [{ role: 'user', content: 'go' }] },
    response: { choices: [{ message, finish_reason: finish }] },
    startedAt: '2026-01-01T00:00:00Z',
    durationMs: 1,
  });
  const finished = step(
    {
      role: 'assistant',
      content: null,
      refusal: null,
      tool_calls: [{ id: '1', type: 'function', function: { name: 'finish', arguments: '{}' } }],
    },
    'tool_calls',
  );
  const cutOff = step(
    {
      role: 'assistant',
      content: null,
      tool_calls: [{ id: '2', type: 'function', function: { name: 'run_command', arguments: '{}' } }],
    },
    'tool_calls',
  );
  const other = { ...spec, instanceId: 'acme__calc-8', pullNumber: 8 };
  const leaked = { ...spec, instanceId: 'acme__calc-9', pullNumber: 9 };
  const instances = [
    {
      spec,
      status: {
        ...verified,
        conditions: ['EnvReady', 'TestsReady', 'PromptReady', 'Verified'].map((type) => ({
          type,
          status: 'True' as const,
          reason: type,
          message: '',
          lastTransitionTime: '2026-01-01T00:00:00Z',
        })),
      },
    },
    {
      spec: other,
      status: {
        phase: 'Rejected' as const,
        lastError: { stage: 'env' as const, reason: 'EnvSetupFailed', message: '', time: '' },
      },
    },
    {
      spec: leaked,
      status: {
        phase: 'Rejected' as const,
        lastError: { stage: 'prompt' as const, reason: 'StatementLeaksSolution', message: '', time: '' },
      },
    },
  ];
  const trajectories: Trajectory[] = [
    { instanceId: spec.instanceId, stage: 'env', agent: 'EnvAgent', steps: [finished] },
    { instanceId: other.instanceId, stage: 'env', agent: 'EnvAgent', steps: [cutOff] },
    {
      instanceId: leaked.instanceId,
      stage: 'prompt',
      agent: 'PromptAgent',
      steps: [step({ role: 'assistant', content: 'statement' })],
    },
  ];

  it('labels every example: instance phase, stage outcome, loop status, reason', () => {
    const labels = labelledExamples(trajectories, instances, { includeLeaked: true }).map((e) => e.labels);
    expect(
      labels.map(({ instance_phase, stage_outcome, loop_status, reason }) => ({
        instance_phase,
        stage_outcome,
        loop_status,
        reason,
      })),
    ).toEqual([
      { instance_phase: 'Verified', stage_outcome: 'succeeded', loop_status: 'finished', reason: 'EnvReady' },
      {
        instance_phase: 'Rejected',
        stage_outcome: 'rejected',
        loop_status: 'unfinished',
        reason: 'EnvSetupFailed',
      },
      {
        instance_phase: 'Rejected',
        stage_outcome: 'rejected',
        loop_status: 'finished',
        reason: 'StatementLeaksSolution',
      },
    ]);
    expect(loopStatus({ ...trajectories[0]!, steps: [{ ...finished, response: {} }] })).toBe('error');
  });

  it('drops leaked statements by default, keeps only Verified instances with onlyPhase', () => {
    expect(labelledExamples(trajectories, instances).map((e) => e.labels.instance_id)).toEqual([
      spec.instanceId,
      other.instanceId,
    ]);
    expect(
      labelledExamples(trajectories, instances, { onlyPhase: 'Verified' }).map((e) => e.labels.instance_id),
    ).toEqual([spec.instanceId]);
  });

  it('the SFT file holds only messages/tools, no null keys; labels in the side file, same order', async () => {
    const { files } = await renderExport(
      { runName: 'r', source: undefined, discovered: 3, rejectedByReason: {}, instances, trajectories },
      { exportedAt: new Date(0), version: 'test' },
    );
    const examples = files.trajectories
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    const meta = files.trajectoriesMeta
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    expect(examples).toHaveLength(2);
    expect(meta.map((m) => m.instance_id)).toEqual([spec.instanceId, other.instanceId]);
    for (const e of examples) {
      expect(Object.keys(e).every((k) => k === 'messages' || k === 'tools')).toBe(true);
      expect(JSON.stringify(e)).not.toContain('null');
    }
  });
});
