import { type InstanceRecord, STAGES } from '../api/index.ts';

export interface FunnelInput {
  runName: string;
  discovered: number;
  rejectedByReason: Record<string, number>;
  instances: readonly InstanceRecord[];
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

/** Markdown summary of a run: the funnel, reasons, stage durations, tokens, and a chart. */
export function renderReport(input: FunnelInput): string {
  const phases = countBy(input.instances, (i) => i.status?.phase ?? 'Pending');
  const instanceReasons = countBy(input.instances, (i) =>
    i.status?.phase === 'Rejected' || i.status?.phase === 'Failed' ? i.status.lastError?.reason : undefined,
  );
  const rejectedAtMining = Object.values(input.rejectedByReason).reduce((a, b) => a + b, 0);
  const verified = phases.Verified ?? 0;
  const tokens = input.instances.reduce((sum, i) => sum + (i.status?.tokensUsed ?? 0), 0);
  const durations = Object.fromEntries(
    Object.entries(stageDurations(input.instances)).map(([stage, ms]) => [
      stage,
      `${(median(ms) / 1000).toFixed(1)} s median over ${ms.length}`,
    ]),
  );
  const funnel = {
    'PRs discovered': input.discovered,
    'rejected by the candidate filter': rejectedAtMining,
    'instances curated': input.instances.length,
    verified,
    'rejected or failed in the pipeline': input.instances.length - verified - (phases.Pending ?? 0),
  };
  const chart = [
    '```mermaid',
    'pie title Outcome of discovered PRs',
    `  "verified" : ${verified}`,
    `  "rejected by filter" : ${rejectedAtMining}`,
    ...Object.entries(instanceReasons).map(([reason, n]) => `  "${reason}" : ${n}`),
    '```',
  ].join('\n');
  return [
    `# ScaleSWE run \`${input.runName}\``,
    '',
    '## Funnel',
    table(['step', 'count'], funnel),
    '',
    chart,
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
    '## Stage durations',
    table(['stage', 'duration'], durations),
    '',
    `Tokens used: ${tokens}`,
    '',
  ].join('\n');
}
