import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { XMLParser, XMLValidator } from 'fast-xml-parser';
import { afterAll, describe, expect, it } from 'vitest';
import { StageContext } from '../agents/stage-context.ts';
import { runTestsStage } from '../agents/test-agent.ts';
import {
  type InstanceRecord,
  type Stage,
  StageInput,
  type StageResultArg,
  StageResult as StageResultSchema,
  type SWEInstanceSpec,
  type SWEInstanceStatus,
} from '../api/index.ts';
import { writeExport } from '../cli/export.ts';
import { SCALESWE_VERSION } from '../cli/version.ts';
import { applyStageResult, initialStatus } from '../pipeline/pipeline.ts';
import { EXPORT_FILES, type RunRecord, renderExport } from './export-run.ts';
import {
  costSection,
  describeSource,
  diffCoverageLine,
  envFunnel,
  funnelSteps,
  mutationLine,
  REPORT_CHART_FILE,
  renderReport,
} from './report.ts';

const spec = { instanceId: 'o__r-1', repo: 'o/r', pullNumber: 1, language: 'python' } as SWEInstanceSpec;
const ATTEMPTED = { env: 1, tests: 0, prompt: 0, verify: 0 };
const recipe = { setupScript: '', testCommand: 't', resultFormat: 'pytest' as const };
const at = (status: SWEInstanceStatus): InstanceRecord => ({ spec, status });
const rejected = (stage: 'env' | 'tests', reason: string, phase: 'Rejected' | 'Failed' = 'Rejected') =>
  at({
    phase,
    attempts: ATTEMPTED,
    ...(stage === 'tests' && { recipe }),
    lastError: { stage, reason, message: '', time: '' },
  });
const about = { exportedAt: new Date('2026-12-04T10:00:00Z'), version: '9.9.9' };

describe('report: env stage funnel', () => {
  const instances = [
    at({ phase: 'Verified', attempts: ATTEMPTED, recipe }),
    rejected('tests', 'NoFailToPass'),
    rejected('env', 'InterpreterUnsupported'),
    rejected('env', 'DependencyResolutionFailed'),
    rejected('env', 'DependencyResolutionFailed'),
    rejected('env', 'SetupReplayFailed', 'Failed'),
    at({ phase: 'Env', attempts: ATTEMPTED }),
    at({ phase: 'Pending' }),
  ];

  it('breaks the instances that did not come up down by the env reason', () => {
    expect(envFunnel(instances)).toEqual({
      'entered the env stage': 7,
      EnvReady: 2,
      'rejected: DependencyResolutionFailed': 2,
      'failed: SetupReplayFailed': 1,
      'in progress': 1,
      'rejected: InterpreterUnsupported': 1,
    });
  });

  it('is a section of report.md', () => {
    const text = renderReport({
      runName: 'r',
      discovered: 8,
      rejectedByReason: {},
      instances,
      source: undefined,
      ...about,
    });
    expect(text).toContain('## Env stage');
    expect(text).toContain('| rejected: DependencyResolutionFailed | 2 |');
    expect(text).toContain('| EnvReady | 2 |');
  });
});

// A run as the pipeline records it: each instance's status folded from real stage results.
const now = new Date('2026-12-04T09:00:00Z');
const opts = { now, maxAttempts: 1 };
const instanceSpec = (pullNumber: number, language: SWEInstanceSpec['language']): SWEInstanceSpec => ({
  instanceId: `acme__calc-${pullNumber}`,
  runRef: 'nightly',
  repo: 'acme/calc',
  cloneURL: 'https://github.com/acme/calc.git',
  pullNumber,
  title: 'Fix add',
  body: '',
  baseCommit: 'a'.repeat(40),
  patch: 'diff --git a/calc.py b/calc.py\n',
  testPatch: '',
  issues: [],
  createdAt: '2026-01-01T00:00:00Z',
  language,
});
const result = (stage: Stage, over: Partial<StageResultArg> = {}) =>
  StageResultSchema.parse({
    stage,
    outcome: 'succeeded',
    reason: 'Done',
    message: '',
    durationMs: 60_000,
    ...over,
  });
const fold = (...results: ReturnType<typeof result>[]) =>
  results.reduce((status, r) => applyStageResult(status, r, opts), initialStatus(opts));

const root = mkdtempSync(join(tmpdir(), 'scaleswe-report-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

/**
 * The tests stage's real verdict on a PR without tests, with generateTests on (the default) and
 * no llm in the run: what report.md must name truthfully.
 */
async function noTestsNoLlm(): Promise<ReturnType<typeof result>> {
  const out = await runTestsStage(
    new StageContext(
      StageInput.parse({ stage: 'tests', instance: instanceSpec(3, 'go'), previous: { recipe } }),
      join(root, 'tests-stage'),
    ),
  );
  return result('tests', { ...out, durationMs: 1_500 });
}

async function sampleRun(): Promise<RunRecord> {
  const verified = fold(
    result('env', { recipe, durationMs: 90_000 }),
    result('tests', { FAIL_TO_PASS: ['t::a', 't::b'], PASS_TO_PASS: ['t::c'], durationMs: 30_000 }),
    result('prompt', { problemStatement: 'add is wrong', durationMs: 6_000 }),
    result('verify', { FAIL_TO_PASS: ['t::a', 't::b'], PASS_TO_PASS: ['t::c'], durationMs: 45_000 }),
  );
  const noFailToPass = fold(
    result('env', { recipe }),
    result('tests', { outcome: 'rejected', reason: 'NoFailToPass', durationMs: 120_000 }),
  );
  const noLlm = fold(result('env', { recipe, durationMs: 12_000 }), await noTestsNoLlm());
  return {
    runName: 'nightly',
    source: { github: { repo: 'acme/calc' } },
    discovered: 7,
    rejectedByReason: { DocsOrLockfileOnly: 3, NoTestsAndNoLlm: 1 },
    instances: [
      { spec: instanceSpec(3, 'go'), status: noLlm },
      { spec: instanceSpec(1, 'python'), status: verified },
      { spec: instanceSpec(2, 'node'), status: noFailToPass },
    ],
    trajectories: [],
  };
}

describe('report.md', () => {
  it('has a header: run, source, export date, scaleswe version', async () => {
    const { files } = await renderExport(await sampleRun(), about);
    const lines = files.report.split('\n');
    expect(lines.slice(0, 6)).toEqual([
      '# ScaleSWE run `nightly`',
      '',
      '- Run: `nightly`',
      '- Source: https://github.com/acme/calc',
      '- Exported: 2026-12-04T10:00:00.000Z',
      '- scaleswe version: 9.9.9',
    ]);
  });

  it('names the source a reader can open, never a credential in a git URL', () => {
    expect(describeSource({ github: { repo: 'o/r', baseURL: 'https://ghe.example.com/api/v3' } })).toBe(
      'https://ghe.example.com/o/r',
    );
    expect(
      describeSource({
        git: { url: 'https://bot:s3cret@git.example.com/o/r.git', ref: 'main', history: 'merges' },
      }),
    ).toBe('https://git.example.com/o/r.git (ref main)');
    expect(describeSource({ git: { url: '/srv/git/r', ref: 'HEAD', history: 'merges' } })).toBe(
      '/srv/git/r (ref HEAD)',
    );
    expect(describeSource(undefined)).toBe('unknown');
  });

  it('has one row per instance: phase, reason, language, F2P/P2P counts, minutes per stage', async () => {
    const { files } = await renderExport(await sampleRun(), about);
    const table = files.report.slice(files.report.indexOf('## Instances\n'));
    expect(table.split('\n').slice(1, 6)).toEqual([
      '| instance | phase | reason | language | F2P | P2P | env min | tests min | prompt min | verify min |',
      '| --- | --- | --- | --- | ---: | ---: | ---: | ---: | ---: | ---: |',
      '| acme__calc-1 | Verified |  | python | 2 | 1 | 1.5 | 0.5 | 0.1 | 0.8 |',
      '| acme__calc-2 | Rejected | NoFailToPass | node | 0 | 0 | 1.0 | 2.0 | - | - |',
      '| acme__calc-3 | Rejected | NoTestsAndNoLlm | go | 0 | 0 | 0.2 | 0.0 | - | - |',
    ]);
  });

  it('says a PR without tests was rejected for want of an LLM when generateTests was on', async () => {
    const { files } = await renderExport(await sampleRun(), about);
    expect(files.report).toContain('| NoTestsAndNoLlm | 1 |');
    expect(files.report).not.toContain('NoTestsAndGenerationDisabled');
  });

  it('embeds the funnel as an SVG image, with the numbers in its alternative text; no mermaid', async () => {
    const { files } = await renderExport(await sampleRun(), about);
    expect(files.report).toContain(
      `![Funnel of run nightly: 7 PRs discovered, 3 kept by the candidate filter, 3 EnvReady, 1 TestsReady, 1 PromptReady, 1 Verified](${REPORT_CHART_FILE})`,
    );
    expect(files.report).not.toContain('```');
  });

  it('the chart is valid SVG that draws every funnel step with its count', async () => {
    const run = await sampleRun();
    const { files } = await renderExport(run, about);
    expect(XMLValidator.validate(files.reportChart)).toBe(true);
    const svg = new XMLParser({ ignoreAttributes: false }).parse(files.reportChart).svg;
    expect(svg['@_xmlns']).toBe('http://www.w3.org/2000/svg');
    expect(Number(svg['@_width'])).toBeGreaterThan(0);
    const texts = new Set<string>();
    const collect = (node: unknown): void => {
      if (Array.isArray(node)) node.forEach(collect);
      else if (node && typeof node === 'object')
        for (const [k, v] of Object.entries(node)) {
          if (k === 'text')
            for (const t of [v].flat()) texts.add(String(typeof t === 'object' ? t['#text'] : t));
          collect(v);
        }
    };
    collect(svg);
    const steps = funnelSteps(run);
    expect(steps.map((s) => [s.step, s.count])).toEqual([
      ['PRs discovered', 7],
      ['kept by the candidate filter', 3],
      ['EnvReady', 3],
      ['TestsReady', 1],
      ['PromptReady', 1],
      ['Verified', 1],
    ]);
    for (const s of steps) {
      expect(texts, s.step).toContain(s.step);
      expect(texts, `${s.step} count`).toContain(String(s.count));
    }
    expect(texts).toContain('Funnel of run nightly');
  });

  it('scaleswe export writes the chart next to report.md, which names it', async () => {
    const out = join(root, 'export');
    const summary = await writeExport(out, await sampleRun());
    expect(summary.reportChart).toBe(join(out, EXPORT_FILES.reportChart));
    expect(existsSync(summary.reportChart)).toBe(true);
    expect(XMLValidator.validate(readFileSync(summary.reportChart, 'utf8'))).toBe(true);
    const report = readFileSync(summary.report, 'utf8');
    expect(report).toContain(`](${EXPORT_FILES.reportChart})`);
    expect(report).toContain(`- scaleswe version: ${SCALESWE_VERSION}`);
  });
});

describe('report: mutation score distribution chart', () => {
  const scored = async (scores: number[]): Promise<RunRecord> => {
    const run = await sampleRun();
    const base = run.instances[1]!;
    const mutation = (score: number) => ({
      tried: 4,
      killed: 0,
      survived: 0,
      notCompiling: 0,
      errored: 0,
      equivalent: 0,
      score,
      survivors: [],
    });
    return {
      ...run,
      instances: scores.map((score, i) => ({
        spec: instanceSpec(10 + i, 'python'),
        status: { ...base.status!, mutation: mutation(score) },
      })),
    };
  };

  it('an export with scored instances embeds and writes report-mutation.svg: one bar per occupied bin with its count', async () => {
    const out = join(root, 'export-mutation');
    const summary = await writeExport(out, await scored([1, 1, 1, 0.667, 0, 0.75]));
    expect(summary.mutationChart).toBe(join(out, EXPORT_FILES.mutationChart));
    const svgText = readFileSync(summary.mutationChart!, 'utf8');
    expect(XMLValidator.validate(svgText)).toBe(true);
    // Each bar carries an aria description of its bin and count (1.0 falls in the last bin).
    const bars = [...svgText.matchAll(/aria-label="[^"]*: (\d\.\d – \d\.\d); instances: (\d+)"/g)]
      .map((m) => [m[1], Number(m[2])])
      .sort();
    expect(bars).toEqual([
      ['0.0 – 0.1', 1],
      ['0.6 – 0.7', 1],
      ['0.7 – 0.8', 1],
      ['0.9 – 1.0', 3],
    ]);
    expect(readFileSync(summary.report, 'utf8')).toContain(
      `![Mutation scores of 6 instance(s)](${EXPORT_FILES.mutationChart})`,
    );
  });

  it('no scored instance: no chart written, none embedded', async () => {
    const out = join(root, 'export-no-mutation');
    const summary = await writeExport(out, await sampleRun());
    expect(summary.mutationChart).toBeUndefined();
    expect(existsSync(join(out, EXPORT_FILES.mutationChart))).toBe(false);
    expect(readFileSync(summary.report, 'utf8')).not.toContain(EXPORT_FILES.mutationChart);
  });
});

describe('report: mutation score line', () => {
  const m = (score: number | undefined, skipped?: string) => ({
    tried: 2,
    killed: 1,
    survived: 1,
    notCompiling: 0,
    errored: 0,
    equivalent: 0,
    survivors: [],
    ...(score !== undefined && { score }),
    ...(skipped !== undefined && { skipped }),
  });
  it('median and lowest of the measured scores; skipped ones apart; absent without mutation testing', () => {
    expect(mutationLine([at({ phase: 'Verified' })])).toBeUndefined();
    expect(
      mutationLine([
        at({ phase: 'Verified', mutation: m(1) }),
        at({ phase: 'Rejected', mutation: m(0.5) }),
        at({ phase: 'Verified', mutation: m(0.8) }),
        at({ phase: 'Verified', mutation: m(undefined, 'nothing to mutate') }),
      ]),
    ).toBe(
      'Mutation score (gold-patch mutants the tests kill): median 0.8 over 3 instance(s), lowest 0.5; 1 skipped (nothing to mutate), 0 without a countable mutant',
    );
  });

  it('diff coverage: median of the measured ratios, instances running none of the patch, skipped apart', () => {
    const c = (covered: number, total: number, skipped?: string) => ({
      ...m(1),
      diffCoverage: {
        covered,
        total,
        ...(total > 0 && { ratio: covered / total }),
        uncovered: [],
        ...(skipped !== undefined && { skipped }),
      },
    });
    expect(diffCoverageLine([at({ phase: 'Verified', mutation: m(1) })])).toBeUndefined();
    expect(
      diffCoverageLine([
        at({ phase: 'Verified', mutation: c(2, 2) }),
        at({ phase: 'Verified', mutation: c(0, 2) }),
        at({ phase: 'Verified', mutation: c(1, 2) }),
        at({ phase: 'Verified', mutation: c(0, 0, 'no coverage engine for this test command (cargo)') }),
        at({ phase: 'Verified', mutation: c(0, 0) }),
      ]),
    ).toBe(
      'Diff coverage (gold-patch lines the FAIL_TO_PASS tests run): median 0.5 over 3 instance(s), 1 running none of it; 1 skipped (no coverage engine or report), 1 without an executable line',
    );
  });
});

describe('report: cost section', () => {
  const verified = at({
    phase: 'Verified',
    tokensUsed: 400_000,
    inputTokens: 300_000,
    outputTokens: 100_000,
  });
  const rejectedRun = at({
    phase: 'Rejected',
    tokensUsed: 400_000,
    inputTokens: 300_000,
    outputTokens: 100_000,
  });
  const oldRecord = at({ phase: 'Rejected', tokensUsed: 5_000 });
  const attempt = (n: number, resolved: boolean) => ({
    instanceId: 'o__r-1',
    attempt: n,
    patch: 'diff',
    tokensUsed: 110_000,
    inputTokens: 100_000,
    outputTokens: 10_000,
    durationMs: 1,
    grade: { resolved, failToPassPassed: 0, failToPassTotal: 1, passToPassBroken: 0, reason: 'Graded' },
  });
  const solves = [attempt(1, true), attempt(2, false)];

  it('with spec.llm.price: $ in all, per Verified instance and per resolved solve attempt', () => {
    const text = costSection([verified, rejectedRun, oldRecord], solves, {
      inputPerMillion: 2.5,
      outputPerMillion: 10,
    });
    expect(text.split('\n')).toEqual([
      '## Cost',
      'Price: $2.50 per 1M input tokens, $10.00 per 1M output tokens (spec.llm.price).',
      '',
      '| item | value |',
      '| --- | ---: |',
      '| curation tokens | 600000 in / 200000 out + 5000 without a split (not priced) |',
      '| curation cost | $3.50 |',
      '| per Verified instance (1) | $3.50 |',
      '| solve attempts (1 of 2 resolved) tokens | 200000 in / 20000 out |',
      '| solve cost | $0.70 |',
      '| per resolved solve attempt | $0.70 |',
    ]);
  });

  it('without a price table: token counts only, never a dollar figure', () => {
    const text = costSection([verified], solves, undefined);
    expect(text).toContain('No price table (spec.llm.price): token counts only.');
    expect(text).toContain('| curation tokens | 300000 in / 100000 out |');
    expect(text).toContain('| solve attempts (1 of 2 resolved) tokens | 200000 in / 20000 out |');
    expect(text).not.toContain('$');
  });

  it('report.md of an export carries it, priced by the run record', async () => {
    const run: RunRecord = {
      runName: 'r',
      source: undefined,
      discovered: 1,
      rejectedByReason: {},
      instances: [verified],
      trajectories: [],
      solves,
      price: { inputPerMillion: 1, outputPerMillion: 1 },
    };
    const { files } = await renderExport(run, about);
    expect(files.report).toContain('| per Verified instance (1) | $0.40 |');
    expect(files.report).toContain('| per resolved solve attempt | $0.22 |');
  });
});
