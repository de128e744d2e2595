import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { parseTestResults } from '../../operator/src/agents/parsers/index.ts';
import { type ResultFormat, SWEInstanceSpec } from '../../operator/src/api/index.ts';
import { renderExport } from '../../operator/src/export/export-run.ts';
import { HARNESS_FORMATS } from '../../operator/src/export/swebench-harness.ts';
import { buildGoRepo, buildPythonRepo } from '../fixtures/repos.ts';
import { runPipeline } from '../support/in-process-pipeline.ts';

// The SWE-bench round trip (issue #15): the official `swebench` package from PyPI (installed
// once into a cached venv by test/swebench/install-swebench.sh; scripts/test.sh runs it, and
// a missing install fails here, never skips) loads our dataset.jsonl, builds its test spec,
// and grades the logs of our eval_script run here: gold patch resolved, empty patch not.

const scratch = mkdtempSync(join(tmpdir(), 'scaleswe-swebench-'));
afterAll(() => rmSync(scratch, { recursive: true, force: true }), 120_000);

function swebenchPython(): string {
  return execFileSync('bash', [join(import.meta.dirname, '../swebench/install-swebench.sh')], {
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'inherit'],
  }).trim();
}

const SAMPLES = join(import.meta.dirname, '../../operator/src/export/testdata');
const PARSER_SAMPLES = join(import.meta.dirname, '../../operator/src/agents/parsers/testdata');

/** One real run per runner: what our parser reads, and the console output SWE-bench's parser reads. */
const RUNS: { format: ResultFormat; ours: string; console: string; rootDir?: string }[] = [
  { format: 'pytest', ours: join(SAMPLES, 'pytest-params.txt'), console: join(SAMPLES, 'pytest-params.txt') },
  {
    format: 'go-test-json',
    ours: join(SAMPLES, 'gotest-subtests.jsonl'),
    console: join(SAMPLES, 'gotest-subtests-v.txt'),
  },
  {
    format: 'vitest-json',
    ours: join(SAMPLES, 'vitest-range.json'),
    console: join(SAMPLES, 'vitest-range-verbose.txt'),
    rootDir: '/tmp/cap/vt',
  },
  {
    format: 'jest-json',
    ours: join(SAMPLES, 'jest-range.json'),
    console: join(SAMPLES, 'jest-range-verbose.txt'),
    rootDir: '/tmp/cap/jest',
  },
  { format: 'cargo', ours: join(PARSER_SAMPLES, 'cargo.txt'), console: join(PARSER_SAMPLES, 'cargo.txt') },
];

const UPSTREAM_STATUS = { passed: 'PASSED', failed: 'FAILED', error: 'ERROR', skipped: 'SKIPPED' } as const;

describe('SWE-bench round trip', () => {
  it("swebench's log parsers name our tests exactly as our id mapping does", () => {
    const python = swebenchPython();
    const upstream = JSON.parse(
      execFileSync(
        python,
        [
          join(import.meta.dirname, '../swebench/parse_logs.py'),
          JSON.stringify(RUNS.map((r) => [HARNESS_FORMATS[r.format].logParser, r.console])),
        ],
        { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] },
      ),
    ) as Record<string, Record<string, string>>;
    for (const run of RUNS) {
      const ours = parseTestResults(run.format, readFileSync(run.ours, 'utf8'), { rootDir: run.rootDir });
      const mapped: Record<string, string> = {};
      for (const [id, status] of ours) {
        const key = HARNESS_FORMATS[run.format].toId(id);
        if (key !== undefined) mapped[key] = UPSTREAM_STATUS[status];
      }
      // Compared on what SWE-bench's parser reports as run (labels only hold tests that ran):
      // it drops some skipped tests (cargo's ignored) and keys others oddly (jest: "skipped <title>").
      const theirs = Object.entries(upstream[run.console]!).filter(([, status]) => status !== 'SKIPPED');
      expect(theirs.length, run.format).toBeGreaterThan(2);
      for (const [key, status] of theirs) expect(mapped[key], `${run.format}: ${key}`).toBe(status);
    }
  }, 120_000);

  it.each([
    { language: 'python', parser: 'parse_log_pytest', build: buildPythonRepo },
    { language: 'go', parser: 'parse_log_gotest', build: buildGoRepo },
  ] as const)(
    'swebench 5.x grades our $language instance: gold resolved, empty patch unresolved',
    async ({ language, parser, build }) => {
      const python = swebenchPython();
      const root = join(scratch, language);
      const fixture = await build(join(root, 'repo'));
      const { status, results } = await runPipeline(fixture.spec, {}, { workDir: join(root, 'pipeline') });
      expect(status.phase, results.at(-1)?.logTail).toBe('Verified');
      const { files, verified } = await renderExport(
        {
          runName: 'round-trip',
          source: undefined,
          discovered: 1,
          rejectedByReason: {},
          instances: [{ spec: SWEInstanceSpec.parse(fixture.spec), status }],
          trajectories: [],
        },
        { exportedAt: new Date(0), version: 'test' },
      );
      expect(verified).toBe(1);
      const dataset = join(root, 'dataset.jsonl');
      writeFileSync(dataset, files.dataset);

      const out = execFileSync(
        python,
        [
          join(import.meta.dirname, '../swebench/round_trip.py'),
          dataset,
          JSON.stringify({ [fixture.spec.instanceId]: fixture.dir }),
          join(root, 'harness'),
        ],
        { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'], maxBuffer: 64 << 20 },
      );
      const report = JSON.parse(out)[fixture.spec.instanceId];
      const f2p = fixture.expected.FAIL_TO_PASS.map(HARNESS_FORMATS[status.recipe!.resultFormat].toId);
      expect(report.log_parser).toBe(parser);
      expect(report.FAIL_TO_PASS).toEqual(f2p);
      expect(report.gold.resolved, JSON.stringify(report.gold)).toBe(true);
      expect(report.gold.tests_status.FAIL_TO_PASS.success).toEqual(f2p);
      expect(report.empty.resolved, JSON.stringify(report.empty)).toBe(false);
      expect(report.empty.tests_status.FAIL_TO_PASS.failure).toEqual(f2p);
    },
    600_000,
  );
});
