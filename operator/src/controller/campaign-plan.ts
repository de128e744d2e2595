// Pure decisions of the Campaign controller: which runs it owns, where its schedule stands,
// and its status (the funnel summed over its runs).
import { Cron } from 'croner';
import {
  type Campaign,
  type CampaignFunnel,
  type CampaignPhase,
  type CampaignStatus,
  type CurationRunSpecInput,
  type CurationRunStatus,
  campaignRunName,
  type Source,
  setCondition,
  sourceRepoKey,
} from '../api/index.ts';
import { searchQuery } from '../mining/index.ts';

type Schedule = NonNullable<CampaignStatus['schedule']>;

/** A CurationRun the campaign should own: its deterministic name, period and spec. */
export interface DesiredRun {
  name: string;
  /** The period's tick (RFC 3339), for scheduled campaigns. */
  period?: string;
  spec: CurationRunSpecInput;
}

/** Thrown for a schedule croner cannot read; the campaign fails with InvalidSchedule. */
export function parseSchedule(expression: string): Cron {
  return new Cron(expression, { timezone: 'UTC', paused: true, mode: '5-part' });
}

const iso = (d: Date) => d.toISOString();
const floorToMinute = (d: Date) => new Date(Math.floor(d.getTime() / 60_000) * 60_000);

/**
 * The schedule after `now`: the first period ends at the first reconcile (minute precision);
 * each later one starts at the previous period's end and ends at the latest tick due (ticks
 * missed while the operator was down fold into one period, as a CronJob does), so periods
 * never overlap and no PR is mined twice. `started` tells whether a new period began.
 */
export function advanceSchedule(
  cron: Cron,
  previous: CampaignStatus['schedule'],
  now: Date,
): { schedule: Schedule; started: boolean } {
  if (previous?.cursor === undefined) {
    const end = floorToMinute(now);
    return { schedule: withNext(cron, { cursor: iso(end), periods: 1 }), started: true };
  }
  let due: Date | null = cron.nextRun(new Date(previous.cursor));
  if (due === null || due > now) return { schedule: withNext(cron, previous), started: false };
  for (let next = cron.nextRun(due); next !== null && next <= now; next = cron.nextRun(due)) due = next;
  return {
    schedule: withNext(cron, {
      periodStart: previous.cursor,
      cursor: iso(due),
      periods: (previous.periods ?? 0) + 1,
    }),
    started: true,
  };
}

function withNext(cron: Cron, s: Omit<Schedule, 'nextPeriodAt'>): Schedule {
  const next = s.cursor === undefined ? null : cron.nextRun(new Date(s.cursor));
  return { ...s, ...(next && { nextPeriodAt: iso(next) }) };
}

/** The search the campaign still has to run: none, or its spec.search changed since. */
export function pendingSearch(campaign: Campaign): string | undefined {
  const search = campaign.spec.search;
  if (search === undefined) return undefined;
  const query = searchQuery(search);
  const recorded = campaign.status?.search;
  return recorded?.query === query && recorded.repositories.length <= search.maxRepositories
    ? undefined
    : query;
}

/** The campaign's repositories: those it names, then those its recorded search found. */
export function sourcesOf(campaign: Campaign): Source[] {
  const { search } = campaign.spec;
  const found = search === undefined ? [] : (campaign.status?.search?.repositories ?? []);
  return [
    ...(campaign.spec.repositories ?? []),
    ...found.map((repo) => ({
      github: {
        repo,
        ...(search?.baseURL !== undefined && { baseURL: search.baseURL }),
        ...(search?.tokenSecretRef !== undefined && { tokenSecretRef: search.tokenSecretRef }),
      },
    })),
  ];
}

/**
 * One run per repository (and, when scheduled, for the latest recorded period: earlier periods'
 * runs were created before it was recorded). A period narrows the template's merge window to
 * [periodStart, cursor); a period outside the template's own window gets no runs.
 */
export function desiredRuns(campaign: Campaign): DesiredRun[] {
  const { spec } = campaign;
  const campaignName = campaign.metadata.name ?? '';
  const schedule = campaign.status?.schedule;
  if (spec.schedule !== undefined && schedule?.cursor === undefined) return [];
  if (pendingSearch(campaign) !== undefined) return [];
  const filters = { ...spec.template.filters };
  if (spec.schedule !== undefined && schedule?.cursor !== undefined) {
    const after = latest(schedule.periodStart, filters.mergedAfter);
    const before = earliest(schedule.cursor, filters.mergedBefore);
    if (after !== undefined && Date.parse(after) >= Date.parse(before)) return [];
    if (after !== undefined) filters.mergedAfter = after;
    filters.mergedBefore = before;
  }
  const period = spec.schedule === undefined ? undefined : schedule?.cursor;
  const seen = new Set<string>();
  const runs: DesiredRun[] = [];
  for (const source of sourcesOf(campaign)) {
    const name = campaignRunName(campaignName, sourceRepoKey(source), period);
    if (seen.has(name)) continue; // the same repository listed twice: one run
    seen.add(name);
    runs.push({
      name,
      ...(period && { period }),
      spec: { ...spec.template, filters, source, suspend: spec.suspend },
    });
  }
  return runs;
}

function latest(a: string | undefined, b: string | undefined): string | undefined {
  if (a === undefined) return b;
  if (b === undefined) return a;
  return Date.parse(a) >= Date.parse(b) ? a : b;
}

function earliest(a: string, b: string | undefined): string {
  return b === undefined || Date.parse(a) <= Date.parse(b) ? a : b;
}

/** A run as the campaign sees it: its status only. */
export interface ObservedRun {
  status?: CurationRunStatus | undefined;
}

function add(into: Record<string, number>, from: Record<string, number> | undefined): void {
  for (const [reason, n] of Object.entries(from ?? {})) into[reason] = (into[reason] ?? 0) + n;
}

/** The campaign funnel: the runs' counts summed, the runs by outcome. */
export function summarizeRuns(
  repositories: number,
  runs: readonly ObservedRun[],
): {
  funnel: CampaignFunnel;
  rejectedByReason: Record<string, number>;
  failedByReason: Record<string, number>;
  runsFailedByReason: Record<string, number>;
} {
  const funnel: CampaignFunnel = {
    repositories,
    runs: runs.length,
    runsFinished: 0,
    runsFailed: 0,
    discovered: 0,
    rejected: 0,
    instances: 0,
    running: 0,
    verified: 0,
    failed: 0,
  };
  const rejectedByReason: Record<string, number> = {};
  const failedByReason: Record<string, number> = {};
  const runsFailedByReason: Record<string, number> = {};
  for (const { status } of runs) {
    const c = status?.counts;
    funnel.discovered += c?.discovered ?? 0;
    funnel.rejected += c?.rejected ?? 0;
    funnel.instances += c?.instances ?? 0;
    funnel.running += c?.running ?? 0;
    funnel.verified += c?.verified ?? 0;
    funnel.failed += c?.failed ?? 0;
    add(rejectedByReason, status?.rejectedByReason);
    add(failedByReason, status?.failedByReason);
    if (status?.phase === 'Succeeded' || status?.phase === 'Failed') funnel.runsFinished++;
    if (status?.phase === 'Failed') {
      funnel.runsFailed++;
      const reason = status.conditions?.find((c) => c.type === 'Ready')?.reason ?? 'Unknown';
      runsFailedByReason[reason] = (runsFailedByReason[reason] ?? 0) + 1;
    }
  }
  return { funnel, rejectedByReason, failedByReason, runsFailedByReason };
}

export interface CampaignObservation {
  campaign: Campaign;
  /** Every run the campaign owns (all periods). */
  runs: readonly ObservedRun[];
  /** Runs of the latest period that do not exist yet (just created, not cached). */
  missingRuns: number;
  schedule?: Schedule;
  now: Date;
}

/** The Campaign status from its runs: funnel, phase, conditions. Pure. */
export function computeCampaignStatus(obs: CampaignObservation): CampaignStatus {
  const { campaign, now } = obs;
  const previous = campaign.status ?? {};
  const generation = campaign.metadata.generation;
  const gen = generation === undefined ? {} : { observedGeneration: generation };
  const scheduled = campaign.spec.schedule !== undefined;
  const repositories = new Set(sourcesOf(campaign).map(sourceRepoKey)).size;
  const summary = summarizeRuns(repositories, obs.runs);
  const { funnel } = summary;
  funnel.runs += obs.missingRuns;

  let phase: CampaignPhase;
  if (campaign.spec.suspend) phase = 'Suspended';
  else if (funnel.runs === 0)
    phase = scheduled && obs.schedule && pendingSearch(campaign) === undefined ? 'Waiting' : 'Pending';
  else if (funnel.runsFinished < funnel.runs) phase = 'Running';
  else phase = scheduled ? 'Waiting' : 'Succeeded';

  let conditions = setCondition(
    previous.conditions ?? [],
    campaign.spec.suspend
      ? {
          type: 'Ready',
          status: 'False',
          reason: 'Suspended',
          message: 'spec.suspend is true: every run is suspended',
          ...gen,
        }
      : { type: 'Ready', status: 'True', reason: 'Reconciled', message: '', ...gen },
    now,
  );
  conditions = setCondition(
    conditions,
    phase === 'Succeeded'
      ? {
          type: 'Succeeded',
          status: 'True',
          reason: 'AllRunsFinished',
          message: `${funnel.verified} verified of ${funnel.instances} instances from ${funnel.discovered} PRs in ${funnel.runs} runs (${funnel.runsFailed} failed)`,
          ...gen,
        }
      : {
          type: 'Succeeded',
          status: 'False',
          reason: phase,
          message: `${funnel.runsFinished}/${funnel.runs} runs finished`,
          ...gen,
        },
    now,
  );
  return {
    ...previous,
    ...gen,
    phase,
    progress: `${funnel.runsFinished}/${funnel.runs}`,
    conditions,
    funnel,
    rejectedByReason: summary.rejectedByReason,
    failedByReason: summary.failedByReason,
    runsFailedByReason: summary.runsFailedByReason,
    ...(obs.schedule && { schedule: obs.schedule }),
    startedAt: previous.startedAt ?? now.toISOString(),
    completedAt: phase === 'Succeeded' ? (previous.completedAt ?? now.toISOString()) : undefined,
  };
}

/** The campaign's status after a TerminalError (an unreadable schedule): Failed, not retried. */
export function failedCampaignStatus(
  campaign: Pick<Campaign, 'status' | 'metadata'>,
  reason: string,
  message: string,
  now: Date,
): CampaignStatus {
  const gen =
    campaign.metadata.generation === undefined ? {} : { observedGeneration: campaign.metadata.generation };
  let conditions = setCondition(
    campaign.status?.conditions ?? [],
    { type: 'Ready', status: 'False', reason, message, ...gen },
    now,
  );
  conditions = setCondition(conditions, { type: 'Succeeded', status: 'False', reason, message, ...gen }, now);
  return { ...campaign.status, ...gen, phase: 'Failed', conditions };
}
