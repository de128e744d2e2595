import {
  CAMPAIGNS,
  Campaign,
  type CampaignStatus,
  CURATIONRUNS,
  CurationRunSpec,
  formatIssues,
  periodLabel,
} from '../api/index.ts';
import {
  errorMessage,
  isAlreadyExists,
  type Logger,
  type ReconcileResult,
  TerminalError,
  updateStatus,
} from '../kube/index.ts';
import { searchRepositories } from '../mining/index.ts';
import { LABEL_CAMPAIGN, LABEL_PERIOD, labelValue } from '../sandbox/index.ts';
import {
  advanceSchedule,
  computeCampaignStatus,
  type DesiredRun,
  desiredRuns,
  failedCampaignStatus,
  parseSchedule,
  pendingSearch,
} from './campaign-plan.ts';
import type { ControllerContext } from './controller-context.ts';
import { controllerRef, key, type RawObject, splitKey } from './resources.ts';
import { recordTerminal } from './terminal.ts';

const CREATE_CONCURRENCY = 16;

function parseCampaign(raw: RawObject): Campaign {
  const parsed = Campaign.safeParse(raw);
  if (!parsed.success)
    throw new TerminalError('InvalidSpec', formatIssues(parsed.error.issues).slice(0, 5).join('; '));
  return parsed.data;
}

/** Parsed as the run's own schema would be: a template no run can take fails the campaign, named. */
function runSpec(run: DesiredRun): CurationRunSpec {
  const parsed = CurationRunSpec.safeParse(run.spec);
  if (!parsed.success)
    throw new TerminalError('InvalidTemplate', formatIssues(parsed.error.issues).slice(0, 5).join('; '));
  return parsed.data;
}

function runObject(campaign: Campaign, raw: RawObject, run: DesiredRun): object {
  return {
    apiVersion: 'scaleswe.dev/v1alpha1',
    kind: 'CurationRun',
    metadata: {
      name: run.name,
      namespace: campaign.metadata.namespace,
      labels: {
        [LABEL_CAMPAIGN]: labelValue(campaign.metadata.name ?? ''),
        ...(run.period && { [LABEL_PERIOD]: periodLabel(run.period) }),
      },
      ownerReferences: [controllerRef(raw)],
    },
    spec: runSpec(run),
  };
}

/**
 * Creates the runs the campaign lacks (deterministic names: a restart meets AlreadyExists),
 * carries spec.suspend to them, records a new period when the schedule says one is due (its
 * runs are created on the next pass, from status: the period is recorded before any run of
 * it exists, so a crash never starts it twice), and writes the funnel.
 */
export async function reconcileCampaign(
  ctx: ControllerContext,
  k: string,
  log: Logger,
): Promise<ReconcileResult | undefined> {
  const { namespace, name } = splitKey(k);
  const raw = ctx.campaignOverlay.resolve(ctx.campaigns.get(namespace, name));
  if (!raw || raw.metadata.deletionTimestamp) return undefined;
  const recorded = raw.status as CampaignStatus | undefined;
  if (recorded?.phase === 'Failed' && recorded.observedGeneration === raw.metadata.generation)
    return undefined;
  const campaign = parseCampaign(raw);
  let cron: ReturnType<typeof parseSchedule> | undefined;
  if (campaign.spec.schedule !== undefined) {
    try {
      cron = parseSchedule(campaign.spec.schedule);
    } catch (err) {
      throw new TerminalError('InvalidSchedule', `spec.schedule: ${errorMessage(err)}`);
    }
  }

  if (pendingSearch(campaign) !== undefined) {
    await recordSearch(ctx, raw, campaign, log);
    return { requeueAfterMs: 0 }; // create the runs from the recorded result
  }

  const desired = desiredRuns(campaign);
  const missing = desired.filter((r) => !ctx.runs.get(namespace, r.name));
  let created = 0;
  const createNext = async (): Promise<void> => {
    for (let run = missing.shift(); run; run = missing.shift()) {
      try {
        await ctx.kube.create(CURATIONRUNS, namespace, runObject(campaign, raw, run));
        created++;
      } catch (err) {
        if (!isAlreadyExists(err)) throw err;
      }
    }
  };
  await Promise.all(Array.from({ length: CREATE_CONCURRENCY }, createNext));
  if (created > 0) log.info({ created, runs: desired.length }, 'created runs');

  const owned = ctx.runs.byIndex('campaign', k);
  for (const run of owned) {
    const spec = run.spec as { suspend?: boolean } | undefined;
    if ((spec?.suspend ?? false) !== campaign.spec.suspend)
      await ctx.kube.patch(CURATIONRUNS, namespace, run.metadata.name ?? '', [
        { op: 'add', path: '/spec/suspend', value: campaign.spec.suspend },
      ]);
  }

  const now = ctx.now();
  const step =
    cron && !campaign.spec.suspend ? advanceSchedule(cron, campaign.status?.schedule, now) : undefined;
  const schedule = step?.schedule ?? campaign.status?.schedule;
  const cached = new Set(owned.map((r) => r.metadata.name));
  // The runs of a period recorded now are created on the next pass: count them as missing, so
  // the campaign never looks Waiting in between.
  const planned = step?.started
    ? desiredRuns({ ...campaign, status: { ...campaign.status, schedule } })
    : desired;
  const write = await updateStatus(
    ctx.kube,
    CAMPAIGNS,
    raw,
    (fresh) => {
      const freshCampaign = fresh === raw ? campaign : parseCampaign(fresh);
      return computeCampaignStatus({
        campaign: freshCampaign,
        runs: owned.map((r) => ({ status: r.status as never })),
        missingRuns: planned.filter((r) => !cached.has(r.name)).length,
        ...(schedule && { schedule }),
        now,
      });
    },
    { overlay: ctx.campaignOverlay },
  );
  const before = recorded?.phase;
  const after = (write.object.status as CampaignStatus | undefined)?.phase;
  if (write.written && after !== before) {
    log.info(
      { phase: after, funnel: (write.object.status as CampaignStatus).funnel },
      'campaign phase changed',
    );
    ctx.events.record(write.object, 'Normal', after ?? 'Unknown', 'Reconcile', `campaign is ${after}`);
  }
  if (step?.started) {
    log.info({ period: step.schedule.cursor, after: step.schedule.periodStart }, 'period started');
    return { requeueAfterMs: 0 }; // create the new period's runs now
  }
  const next = schedule?.nextPeriodAt;
  if (cron && next !== undefined) return { requeueAfterMs: Math.max(0, Date.parse(next) - now.getTime()) };
  return undefined;
}

/**
 * Runs spec.search once and records its result in status (the campaign keeps those
 * repositories: a restart or a later change in GitHub's ranking never adds or drops runs).
 * A query GitHub refuses (422) fails the campaign; anything else is retried.
 */
async function recordSearch(
  ctx: ControllerContext,
  raw: RawObject,
  campaign: Campaign,
  log: Logger,
): Promise<void> {
  const search = campaign.spec.search!;
  const ref = search.tokenSecretRef;
  const namespace = campaign.metadata.namespace ?? '';
  const token = ref ? await ctx.kube.readSecretKey(namespace, ref.name, ref.key) : undefined;
  if (ref && token === undefined)
    throw new Error(`secret ${ref.name} has no key ${ref.key} (search.tokenSecretRef)`);
  let result: Awaited<ReturnType<typeof searchRepositories>>;
  try {
    result = await searchRepositories(search, token);
  } catch (err) {
    if ((err as { status?: number }).status === 422)
      throw new TerminalError('InvalidSearch', `GitHub refused the search: ${errorMessage(err)}`);
    throw err;
  }
  const now = ctx.now();
  await updateStatus(
    ctx.kube,
    CAMPAIGNS,
    raw,
    (fresh) => ({
      ...(fresh.status as CampaignStatus | undefined),
      search: { ...result, searchedAt: now.toISOString() },
    }),
    { overlay: ctx.campaignOverlay },
  );
  log.info(
    { query: result.query, found: result.totalCount, taken: result.repositories.length },
    'searched repositories',
  );
}

export function recordCampaignTerminal(ctx: ControllerContext, k: string, err: TerminalError): Promise<void> {
  return recordTerminal(
    ctx,
    {
      resource: CAMPAIGNS,
      cache: ctx.campaigns,
      overlay: ctx.campaignOverlay,
      failed: (fresh, reason, message, now) =>
        failedCampaignStatus(
          {
            status: fresh.status as CampaignStatus | undefined,
            metadata: fresh.metadata as Campaign['metadata'],
          },
          reason,
          message,
          now,
        ),
      warn: true,
    },
    k,
    err,
  );
}

/** The campaign that owns a run, as a cache key. */
export function campaignOf(run: RawObject): string | undefined {
  const ref = run.metadata.ownerReferences?.find((r) => r.kind === 'Campaign' && r.controller);
  return ref ? key(run.metadata.namespace, ref.name) : undefined;
}
