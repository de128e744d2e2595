import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CurationRunSpec, type Trajectory } from '../../operator/src/api/index.ts';
import { StateDir } from '../../operator/src/local/state.ts';
import { calcSpec as spec } from '../fixtures/calc-instance.ts';
import { runCli } from '../support/cli.ts';

// `scaleswe export` flags end to end on a local state directory: the dataset schema
// (--format, --lists) and which trajectories are training data (--only, --include-leaked).

const scratch = mkdtempSync(join(tmpdir(), 'scaleswe-export-cli-'));
const state = new StateDir(join(scratch, 'state'));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

const trajectory = (n: number, stage: Trajectory['stage']): Trajectory => ({
  instanceId: `acme__calc-${n}`,
  stage,
  agent: stage === 'prompt' ? 'PromptAgent' : 'EnvAgent',
  steps: [
    {
      request: { model: 'm', messages: [{ role: 'user', content: 'go' }] },
      response: { choices: [{ message: { role: 'assistant', content: `done ${n}`, refusal: null } }] },
      startedAt: '2026-01-01T00:00:00Z',
      durationMs: 1,
    },
  ],
});

beforeAll(async () => {
  await state.saveRun({
    name: 'r',
    spec: CurationRunSpec.parse({ source: { git: { url: '/tmp/calc' } } }),
    exhausted: true,
    rejected: [],
    startedAt: '2026-01-01T00:00:00Z',
  });
  await state.saveInstance({
    spec: spec(1),
    status: {
      phase: 'Verified',
      recipe: { setupScript: 'pip install -e .', testCommand: 'pytest -rA', resultFormat: 'pytest' },
      FAIL_TO_PASS: ['test_calc.py::test_add'],
      PASS_TO_PASS: [],
      problemStatement: 'add is wrong',
    },
  });
  await state.saveInstance({
    spec: spec(2),
    status: {
      phase: 'Rejected',
      lastError: { stage: 'prompt', reason: 'StatementLeaksSolution', message: '', time: '' },
    },
  });
  for (const [n, stage] of [
    [1, 'env'],
    [2, 'env'],
    [2, 'prompt'],
  ] as const) {
    await state.saveStageResult(`acme__calc-${n}`, 1, {
      stage,
      outcome: 'succeeded',
      reason: 'Done',
      message: '',
      tokensUsed: 0,
      durationMs: 1,
      trajectories: [trajectory(n, stage)],
    });
  }
});

const lines = (file: string) =>
  readFileSync(file, 'utf8')
    .trim()
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l));

describe('scaleswe export', () => {
  it('defaults: SWE-bench records with JSON-string labels; leaked statements left out; labels aside', async () => {
    const out = join(scratch, 'default');
    const r = await runCli(['export', '--state-dir', state.root, '--out', out]);
    expect(r.code, r.err).toBe(0);
    const [record] = lines(join(out, 'dataset.jsonl'));
    expect(record).toMatchObject({
      FAIL_TO_PASS: '["test_calc.py::test_add"]',
      log_parser: 'parse_log_pytest',
    });
    expect(lines(join(out, 'trajectories.jsonl'))).toEqual([
      {
        messages: [
          { role: 'user', content: 'go' },
          { role: 'assistant', content: 'done 1' },
        ],
      },
      {
        messages: [
          { role: 'user', content: 'go' },
          { role: 'assistant', content: 'done 2' },
        ],
      },
    ]);
    expect(lines(join(out, 'trajectories.meta.jsonl')).map((m) => [m.instance_id, m.stage])).toEqual([
      ['acme__calc-1', 'env'],
      ['acme__calc-2', 'env'],
    ]);
    // report.md embeds its funnel chart, an SVG file next to it.
    expect(readFileSync(join(out, 'report.md'), 'utf8')).toContain('](report-funnel.svg)');
    expect(readFileSync(join(out, 'report-funnel.svg'), 'utf8')).toMatch(
      /^<svg [^>]*xmlns="http:\/\/www\.w3\.org\/2000\/svg"/,
    );
    expect(r.out).toContain(`chart: ${join(out, 'report-funnel.svg')}`);
  });

  it('--only verified --include-leaked --lists --format scaleswe', async () => {
    const out = join(scratch, 'flags');
    const r = await runCli([
      'export',
      '--state-dir',
      state.root,
      '--out',
      out,
      '--only',
      'verified',
      '--format',
      'scaleswe',
    ]);
    expect(r.code, r.err).toBe(0);
    expect(lines(join(out, 'dataset.jsonl'))[0]).toMatchObject({
      instance_id: 'acme_calc_pr1',
      FAIL_TO_PASS: ['test_calc.py::test_add'],
    });
    expect(lines(join(out, 'trajectories.meta.jsonl')).map((m) => m.instance_id)).toEqual(['acme__calc-1']);

    const leaked = join(scratch, 'leaked');
    expect(
      (await runCli(['export', '--state-dir', state.root, '--out', leaked, '--include-leaked', '--lists']))
        .code,
    ).toBe(0);
    expect(lines(join(leaked, 'trajectories.meta.jsonl')).map((m) => m.stage_outcome)).toEqual([
      'pending',
      'pending',
      'rejected',
    ]);
    expect(lines(join(leaked, 'dataset.jsonl'))[0].FAIL_TO_PASS).toEqual(['test_calc.py::test_add']);
    expect((await runCli(['export', '--state-dir', state.root, '--only', 'all'])).err).toContain('--only');
  });

  it('--parquet: dataset.parquet holds the records of dataset.jsonl, as pyarrow and `datasets` read them', async () => {
    // pyarrow and Hugging Face `datasets` come with the official swebench package's venv
    // (test/swebench/install-swebench.sh; a missing install fails here, never skips).
    const python = execFileSync('bash', [join(import.meta.dirname, '../swebench/install-swebench.sh')], {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'inherit'],
    }).trim();
    const read = (file: string) =>
      JSON.parse(
        execFileSync(
          python,
          [
            '-c',
            `import json, sys, pyarrow.parquet as pq, datasets
t = pq.read_table(sys.argv[1])
json_cols = [f.name for f in t.schema if 'json' in str(f.type)]
rows = [{k: (json.loads(v) if k in json_cols and v is not None else v) for k, v in r.items() if v is not None} for r in t.to_pylist()]
d = datasets.load_dataset('parquet', data_files=sys.argv[1], split='train', cache_dir=sys.argv[2])
print(json.dumps({'rows': rows, 'num_rows': d.num_rows, 'types': {k: str(v) for k, v in d.features.items()}}))`,
            file,
            join(scratch, 'hf-cache'),
          ],
          { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] },
        ),
      );
    for (const format of ['swebench', 'scaleswe']) {
      const out = join(scratch, `parquet-${format}`);
      const r = await runCli([
        'export',
        '--state-dir',
        state.root,
        '--out',
        out,
        '--parquet',
        '--format',
        format,
      ]);
      expect(r.code, r.err).toBe(0);
      expect(r.out).toContain(`parquet:      ${join(out, 'dataset.parquet')}`);
      const parquet = read(join(out, 'dataset.parquet'));
      expect(parquet.rows).toEqual(lines(join(out, 'dataset.jsonl')));
      expect(parquet.num_rows).toBe(1);
      if (format === 'swebench')
        expect(parquet.types).toMatchObject({
          FAIL_TO_PASS: "Value('string')",
          pull_number: "Value('int64')",
          issue_numbers: "List(Value('int64'))",
        });
      else expect(parquet.types).toMatchObject({ FAIL_TO_PASS: "List(Value('string'))" });
    }
    // Without the flag, no Parquet file.
    expect(existsSync(join(scratch, 'default', 'dataset.parquet'))).toBe(false);
  });
});
