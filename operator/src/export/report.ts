import {
  type Cost,
  type CurationRunSpec,
  formatUsd,
  type InstanceRecord,
  type Price,
  runCost,
  type SolveAttempt,
  STAGE_CONDITION,
  STAGES,
} from '../api/index.ts';
import type { FunnelStep } from './report-chart.ts';

/** The funnel chart, written next to report.md and embedded in it as an image. */
export const REPORT_CHART_FILE = 'report-funnel.svg';
/** The distribution of mutation scores, written and embedded only when some instance was scored. */
export const MUTATION_CHART_FILE = 'report-mutation.svg';

export interface FunnelInput {
  runName: string;
  discovered: number;
  rejectedByReason: Record<string, number>;
  instances: readonly InstanceRecord[];
}

/** What report.md says about where it came from (its header). */
export interface ReportInput extends FunnelInput {
  /** The run's spec.source; undefined when the run's spec could not be read. */
  source: CurationRunSpec['source'] | undefined;
  exportedAt: Date;
  /** The scaleswe version that wrote the export. */
  version: string;
  /** The run's spec.llm.price; without it the cost section gives token counts only. */
  price?: Price | undefined;
  /** Solve attempts (spec.solve), for their cost per resolved attempt. */
  solves?: readonly SolveAttempt[] | undefined;
}

/** Tokens as `input in / output out`, with the tokens that have no split (never priced). */
function tokenCell(cost: Cost): string {
  const unsplit = cost.unsplitTokens > 0 ? ` + ${cost.unsplitTokens} without a split (not priced)` : '';
  return `${cost.inputTokens} in / ${cost.outputTokens} out${unsplit}`;
}

/**
 * The cost section: tokens always; dollars only with spec.llm.price (never a guessed price).
 * Curation is charged to the Verified instances, solving to the resolved attempts.
 */
export function costSection(
  instances: readonly InstanceRecord[],
  solves: readonly SolveAttempt[],
  price: Price | undefined,
): string {
  const cost = runCost(instances, solves, price);
  const usd = (value: number | undefined) => (value === undefined ? 'n/a' : formatUsd(value));
  const rows: Record<string, string | number> = {
    'curation tokens': tokenCell(cost.curation),
    ...(price && {
      'curation cost': usd(cost.curation.usd),
      [`per Verified instance (${cost.verified})`]: usd(cost.usdPerVerified),
    }),
    ...(cost.solve.attempts > 0 && {
      [`solve attempts (${cost.solve.resolved} of ${cost.solve.attempts} resolved) tokens`]: tokenCell(
        cost.solve,
      ),
      ...(price && {
        'solve cost': usd(cost.solve.usd),
        'per resolved solve attempt': usd(cost.solve.usdPerResolved),
      }),
    }),
  };
  return [
    '## Cost',
    price
      ? `Price: ${formatUsd(price.inputPerMillion)} per 1M input tokens, ${formatUsd(price.outputPerMillion)} per 1M output tokens (spec.llm.price).`
      : 'No price table (spec.llm.price): token counts only.',
    '',
    table(['item', 'value'], rows),
  ].join('\n');
}

/** Each stage's recorded durations (status.stageDurationsMs), in pipeline order. */
function stageDurations(instances: readonly InstanceRecord[]): Record<string, number[]> {
  const out: Record<string, number[]> = {};
  for (const stage of STAGES) {
    const ms = instances.flatMap((i) => i.status?.stageDurationsMs?.[stage] ?? []);
    if (ms.length > 0) out[stage] = ms;
  }
  return out;
}

function countBy<T>(items: readonly T[], key: (item: T) => string | undefined): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const item of items) {
    const k = key(item);
    if (k !== undefined) counts[k] = (counts[k] ?? 0) + 1;
  }
  return counts;
}

/** A Markdown table cell: no pipe or line break may end the cell early. */
function cell(text: string): string {
  return text
    .replace(/\\/g, '\\\\')
    .replace(/\|/g, '\\|')
    .replace(/\s*\n\s*/g, ' ');
}

function table(header: [string, string], rows: Record<string, number | string>): string {
  const lines = Object.entries(rows).map(([k, v]) => `| ${k} | ${v} |`);
  return [
    `| ${header[0]} | ${header[1]} |`,
    '| --- | ---: |',
    ...(lines.length ? lines : ['| (none) | 0 |']),
  ].join('\n');
}

function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted.length === 0 ? 0 : (sorted[Math.floor((sorted.length - 1) / 2)] ?? 0);
}

/**
 * The env stage's part of the funnel: how many instances entered it, how many came up, and why
 * the others did not (the env stage's rejection and failure reasons: InterpreterUnsupported,
 * DependencyResolutionFailed, …). Pure.
 */
export function envFunnel(instances: readonly InstanceRecord[]): Record<string, number> {
  const entered = instances.filter(
    (i) =>
      (i.status?.attempts?.env ?? 0) > 0 || i.status?.stageDurationsMs?.env !== undefined || i.status?.recipe,
  );
  const ready = entered.filter((i) => i.status?.recipe !== undefined);
  const notReady = entered.filter((i) => i.status?.recipe === undefined);
  const byReason = countBy(notReady, (i) => {
    const s = i.status;
    if (s?.phase !== 'Rejected' && s?.phase !== 'Failed') return 'in progress';
    return s.lastError?.stage === undefined || s.lastError.stage === 'env'
      ? `${s.phase === 'Failed' ? 'failed' : 'rejected'}: ${s.lastError?.reason ?? 'unknown'}`
      : undefined;
  });
  const sorted = Object.entries(byReason).sort(([a, x], [b, y]) => y - x || a.localeCompare(b));
  return { 'entered the env stage': entered.length, EnvReady: ready.length, ...Object.fromEntries(sorted) };
}

/**
 * Where the run mined its PRs, as a reader finds it: the GitHub repository's web address, or the
 * git URL (any user name or password in it left out) and ref. Pure.
 */
export function describeSource(source: CurationRunSpec['source'] | undefined): string {
  if (source?.github) {
    const { repo, baseURL } = source.github;
    if (baseURL === undefined) return `https://github.com/${repo}`;
    // GitHub Enterprise serves its API at https://host/api/v3; the repository is at https://host/owner/name.
    const web = /^(https?:\/\/[^/]+)\/api\/v3\/?$/.exec(baseURL)?.[1];
    return web ? `${web}/${repo}` : `${repo} (GitHub API ${baseURL})`;
  }
  if (source?.git) return `${withoutCredentials(source.git.url)} (ref ${source.git.ref})`;
  return 'unknown';
}

function withoutCredentials(url: string): string {
  if (!URL.canParse(url)) return url; // a local path or scp-like ssh address (git@host:o/r)
  const parsed = new URL(url);
  if (parsed.username === '' && parsed.password === '') return url;
  parsed.username = '';
  parsed.password = '';
  return parsed.href;
}

function passed(instance: InstanceRecord, condition: string): boolean {
  return instance.status?.conditions?.some((c) => c.type === condition && c.status === 'True') ?? false;
}

/**
 * The funnel the chart draws: PRs examined, instances kept by the candidate filter, then how
 * many instances each stage's condition (EnvReady … Verified) holds True for. Pure.
 */
export function funnelSteps(input: FunnelInput): FunnelStep[] {
  return [
    { step: 'PRs discovered', count: input.discovered },
    { step: 'kept by the candidate filter', count: input.instances.length },
    ...STAGES.map((stage) => ({
      step: STAGE_CONDITION[stage],
      count: input.instances.filter((i) => passed(i, STAGE_CONDITION[stage])).length,
    })),
  ];
}

/** `Funnel of run r: 10 PRs discovered, …`: the chart's alternative text, the numbers without the image. */
export function funnelAltText(runName: string, steps: readonly FunnelStep[]): string {
  return `Funnel of run ${runName}: ${steps.map((s) => `${s.count} ${s.step}`).join(', ')}`;
}

const minutes = (ms: number | undefined) => (ms === undefined ? '-' : (ms / 60_000).toFixed(1));

/**
 * One row per instance: phase, the reason it was rejected or failed, language, how many
 * FAIL_TO_PASS / PASS_TO_PASS tests it has, and the minutes each stage's last attempt took.
 */
export function instanceTable(instances: readonly InstanceRecord[]): string {
  const sorted = [...instances].sort(
    (a, b) =>
      a.spec.repo.localeCompare(b.spec.repo) ||
      a.spec.pullNumber - b.spec.pullNumber ||
      a.spec.instanceId.localeCompare(b.spec.instanceId),
  );
  const rows = sorted.map((i) => {
    const s = i.status;
    const phase = s?.phase ?? 'Pending';
    const reason = phase === 'Rejected' || phase === 'Failed' ? (s?.lastError?.reason ?? 'unknown') : '';
    return [
      i.spec.instanceId,
      phase,
      reason,
      i.spec.language,
      // The lists, or their counts where the lists are in the dataset store.
      String(s?.FAIL_TO_PASS?.length ?? s?.content?.failToPass ?? 0),
      String(s?.PASS_TO_PASS?.length ?? s?.content?.passToPass ?? 0),
      ...STAGES.map((stage) => minutes(s?.stageDurationsMs?.[stage])),
    ];
  });
  const header = [
    'instance',
    'phase',
    'reason',
    'language',
    'F2P',
    'P2P',
    ...STAGES.map((st) => `${st} min`),
  ];
  const align = ['---', '---', '---', '---', '---:', '---:', ...STAGES.map(() => '---:')];
  const line = (cells: readonly string[]) => `| ${cells.map(cell).join(' | ')} |`;
  return [
    line(header),
    `| ${align.join(' | ')} |`,
    ...(rows.length ? rows.map(line) : [line(['(none)', ...header.slice(1).map(() => '')])]),
  ].join('\n');
}

/**
 * `Mutation score: median 0.75 over 3 instances …` from status.mutation (verification.mutation);
 * undefined when no instance was mutation-tested. Skipped ones are counted apart, never as strong. Pure.
 */
export function mutationLine(instances: readonly InstanceRecord[]): string | undefined {
  const tested = instances.filter((i) => i.status?.mutation !== undefined);
  if (tested.length === 0) return undefined;
  const scores = tested.flatMap((i) =>
    i.status?.mutation?.score === undefined ? [] : [i.status.mutation.score],
  );
  const skipped = tested.filter((i) => i.status?.mutation?.skipped !== undefined).length;
  const median = scores.length
    ? `median ${medianOf(scores)} over ${scores.length} instance(s)`
    : 'no instance scored';
  return `Mutation score (gold-patch mutants the tests kill): ${median}, lowest ${scores.length ? Math.min(...scores) : '-'}; ${skipped} skipped (nothing to mutate), ${tested.length - scores.length - skipped} without a countable mutant`;
}

/** The mutation scores of the instances that have one (the distribution chart's data). Pure. */
export function mutationScores(instances: readonly InstanceRecord[]): number[] {
  return instances.flatMap((i) => (i.status?.mutation?.score === undefined ? [] : [i.status.mutation.score]));
}

/**
 * `Diff coverage …` from status.mutation.diffCoverage: how much of the gold patches the
 * FAIL_TO_PASS tests run, and how many instances run none of it; skipped ones (no engine, no
 * report) counted apart, never as covered. Undefined when nothing was measured or skipped. Pure.
 */
export function diffCoverageLine(instances: readonly InstanceRecord[]): string | undefined {
  const records = instances.flatMap((i) =>
    i.status?.mutation?.diffCoverage ? [i.status.mutation.diffCoverage] : [],
  );
  if (records.length === 0) return undefined;
  const ratios = records.flatMap((c) => (c.ratio === undefined ? [] : [c.ratio]));
  const skipped = records.filter((c) => c.skipped !== undefined).length;
  const median = ratios.length
    ? `median ${medianOf(ratios)} over ${ratios.length} instance(s)`
    : 'no instance measured';
  return `Diff coverage (gold-patch lines the FAIL_TO_PASS tests run): ${median}, ${ratios.filter((r) => r === 0).length} running none of it; ${skipped} skipped (no coverage engine or report), ${records.length - ratios.length - skipped} without an executable line`;
}

function medianOf(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid]! : Math.round(((sorted[mid - 1]! + sorted[mid]!) / 2) * 1000) / 1000;
}

/**
 * Markdown summary of a run: where it came from, the funnel (with the chart written next to it
 * as report-funnel.svg), reasons, each instance, stage durations and tokens. Pure.
 */
export function renderReport(input: ReportInput): string {
  const phases = countBy(input.instances, (i) => i.status?.phase ?? 'Pending');
  const instanceReasons = countBy(input.instances, (i) =>
    i.status?.phase === 'Rejected' || i.status?.phase === 'Failed' ? i.status.lastError?.reason : undefined,
  );
  const rejectedAtMining = Object.values(input.rejectedByReason).reduce((a, b) => a + b, 0);
  const verified = phases.Verified ?? 0;
  const durations = Object.fromEntries(
    Object.entries(stageDurations(input.instances)).map(([stage, ms]) => [
      stage,
      `${(median(ms) / 1000).toFixed(1)} s median over ${ms.length}`,
    ]),
  );
  const mutation = mutationLine(input.instances);
  const coverage = diffCoverageLine(input.instances);
  const funnel = {
    'PRs discovered': input.discovered,
    'rejected by the candidate filter': rejectedAtMining,
    'instances curated': input.instances.length,
    verified,
    'rejected or failed in the pipeline': input.instances.length - verified - (phases.Pending ?? 0),
  };
  return [
    `# ScaleSWE run \`${input.runName}\``,
    '',
    `- Run: \`${input.runName}\``,
    `- Source: ${describeSource(input.source)}`,
    `- Exported: ${input.exportedAt.toISOString()}`,
    `- scaleswe version: ${input.version}`,
    '',
    '## Funnel',
    table(['step', 'count'], funnel),
    '',
    `![${funnelAltText(input.runName, funnelSteps(input))}](${REPORT_CHART_FILE})`,
    '',
    '## Env stage',
    table(['outcome', 'instances'], envFunnel(input.instances)),
    '',
    '## Rejected by the candidate filter',
    table(['reason', 'PRs'], input.rejectedByReason),
    '',
    '## Instances by phase',
    table(['phase', 'instances'], phases),
    '',
    '## Pipeline rejections and failures',
    table(['reason', 'instances'], instanceReasons),
    '',
    '## Instances',
    instanceTable(input.instances),
    '',
    '## Stage durations',
    table(['stage', 'duration'], durations),
    '',
    costSection(input.instances, input.solves ?? [], input.price),
    '',
    ...(mutation ? [mutation, ''] : []),
    ...(mutationScores(input.instances).length
      ? [
          `![Mutation scores of ${mutationScores(input.instances).length} instance(s)](${MUTATION_CHART_FILE})`,
          '',
        ]
      : []),
    ...(coverage ? [coverage, ''] : []),
  ].join('\n');
}
