import { createHash } from 'node:crypto';
import { z } from 'zod';
import { Condition } from './condition.ts';
import { CurationRunSpecObject, RunCounts, SOLVE_NEEDS_LLM, Source } from './curation-run.ts';
import { API_VERSION, ObjectMeta, ObservedGeneration, SecretKeyRef, withRules } from './meta.ts';

/**
 * The CurationRun spec each repository's run gets, all but its source. A scheduled campaign
 * narrows filters.mergedAfter/mergedBefore to the period of each run.
 */
export const RunTemplate = withRules(
  CurationRunSpecObject.omit({ source: true, suspend: true }).describe(
    "The spec of each repository's CurationRun, all but source and suspend (the campaign's own)",
  ),
  [SOLVE_NEEDS_LLM],
);

// Five fields (minute hour day-of-month month day-of-week), as a CronJob's schedule; the
// operator parses it (croner) and reports an expression it cannot read as InvalidSchedule.
const CRON_FIELD = '[0-9A-Za-z*/,?-]+';
const CRON = new RegExp(`^${CRON_FIELD}( +${CRON_FIELD}){4}$`);

/** GitHub's search API returns at most 1,000 results per query. */
export const MAX_SEARCH_RESULTS = 1000;

export const RepositorySearch = z
  .object({
    language: z
      .string()
      .regex(/^[A-Za-z0-9+#. -]{1,50}$/, 'must be a language name such as python')
      .optional()
      .describe('Linguist language of the repositories, e.g. python (qualifier language:)'),
    minStars: z.number().int().min(0).optional().describe('At least this many stars (stars:>=N)'),
    pushedAfter: z.iso
      .date()
      .optional()
      .describe('Pushed to on or after this day, YYYY-MM-DD (pushed:>=DAY)'),
    topics: z
      .array(z.string().regex(/^[a-z0-9][a-z0-9-]{0,49}$/, 'must be a GitHub topic such as web-framework'))
      .max(20)
      .optional()
      .describe('Tagged with all of these topics (topic:T each)'),
    maxRepositories: z
      .number()
      .int()
      .min(1)
      .max(MAX_SEARCH_RESULTS)
      .default(100)
      .describe('Take the first this many results, most stars first'),
    baseURL: z
      .url()
      .optional()
      .describe('REST API base URL for GitHub Enterprise; default https://api.github.com'),
    tokenSecretRef: SecretKeyRef.optional().describe(
      'Secret key holding a GitHub token, or several (one per line), for the search and the runs it creates: one rate budget shared by all of them',
    ),
  })
  .strict()
  .describe(
    "Repositories found by GitHub's search API (non-fork, unarchived), searched once and recorded in status.search; each becomes a github source",
  );
export type RepositorySearch = z.infer<typeof RepositorySearch>;

export const CampaignSpecObject = z
  .object({
    repositories: z
      .array(Source)
      .min(1, 'name at least one repository, or leave repositories out and set search')
      .max(10000)
      .optional()
      .describe('The repositories of the campaign, each mined by a CurationRun the campaign owns'),
    search: RepositorySearch.optional(),
    template: RunTemplate.prefault({}),
    maxParallel: z
      .number()
      .int()
      .min(1)
      .max(100000)
      .default(16)
      .describe(
        'SWEInstances in flight at once across all runs of the campaign (each run also keeps its own template.limits.maxParallel)',
      ),
    schedule: z
      .string()
      .regex(CRON, 'must be a cron expression of 5 fields, e.g. "0 3 * * *"')
      .optional()
      .describe(
        'Cron expression (5 fields, UTC). Set: the campaign is continuous; its first period mines the history up to its first reconcile, then each tick starts a period whose runs mine only PRs merged since the previous one. Unset: one run per repository',
      ),
    suspend: z
      .boolean()
      .default(false)
      .describe('Pause every run of the campaign and start no new period; progress is kept'),
  })
  .strict()
  .describe(
    'Desired state of the campaign: its repositories, the run each gets, and how they share the cluster',
  );

export const CampaignSpec = withRules(CampaignSpecObject, [
  {
    cel: 'has(self.repositories) || has(self.search)',
    message: 'set repositories, search, or both',
    field: 'repositories',
    check: (s) => s.repositories !== undefined || s.search !== undefined,
  },
]);
export type CampaignSpec = z.infer<typeof CampaignSpec>;

export const CAMPAIGN_PHASES = ['Pending', 'Running', 'Waiting', 'Suspended', 'Succeeded', 'Failed'] as const;
export type CampaignPhase = (typeof CAMPAIGN_PHASES)[number];

const count = z.number().int().min(0);

/** A run's counts summed over the campaign's runs, and the runs themselves counted. */
export const CampaignFunnel = RunCounts.extend({
  repositories: count.default(0).describe('Repositories of the campaign'),
  runs: count.default(0).describe('CurationRuns the campaign owns (one per repository and period)'),
  runsFinished: count.default(0).describe('Runs that Succeeded or Failed'),
  runsFailed: count.default(0).describe('Runs that Failed (invalid or unusable source)'),
}).strict();
export type CampaignFunnel = z.infer<typeof CampaignFunnel>;

export const CampaignStatus = z
  .object({
    observedGeneration: ObservedGeneration,
    phase: z
      .enum(CAMPAIGN_PHASES)
      .optional()
      .describe(
        'Pending, Running (runs in flight), Waiting (scheduled: every run finished until the next period), Suspended, Succeeded (every run finished) or Failed (invalid schedule)',
      ),
    progress: z.string().optional().describe('finished/created runs, for printer columns'),
    conditions: z
      .array(Condition)
      .optional()
      .describe('Ready (False with the reason when suspended or invalid) and Succeeded'),
    funnel: CampaignFunnel.optional().describe('Repositories, runs, PRs and instances, summed over the runs'),
    rejectedByReason: z
      .record(z.string(), count)
      .optional()
      .describe('PRs rejected per reason, over all runs'),
    failedByReason: z
      .record(z.string(), count)
      .optional()
      .describe('Instance failures per reason, over all runs'),
    runsFailedByReason: z.record(z.string(), count).optional().describe('Failed runs per reason'),
    schedule: z
      .object({
        cursor: z
          .string()
          .optional()
          .describe('End of the latest period (RFC 3339): the next period mines PRs merged at or after it'),
        periodStart: z
          .string()
          .optional()
          .describe(
            'Start of the latest period (RFC 3339), the previous cursor; absent for the first period',
          ),
        periods: count.default(0).describe('Periods started so far'),
        nextPeriodAt: z.string().optional().describe('When the next period starts (RFC 3339)'),
      })
      .strict()
      .optional()
      .describe('Progress of a scheduled campaign'),
    search: z
      .object({
        query: z.string().describe('The search query sent (q=)'),
        totalCount: count.describe('Repositories GitHub reported matching the query'),
        repositories: z
          .array(z.string())
          .describe('owner/name of the repositories taken, most stars first: the campaign keeps these'),
        searchedAt: z.string().describe('When the search ran (RFC 3339)'),
      })
      .strict()
      .optional()
      .describe('The result of spec.search, recorded once so a restart never searches again'),
    startedAt: z.string().optional().describe('When the operator first reconciled the campaign (RFC 3339)'),
    completedAt: z.string().optional().describe('When the campaign Succeeded (RFC 3339)'),
  })
  .strict()
  .describe('Observed state of the campaign, written by the operator');
export type CampaignStatus = z.infer<typeof CampaignStatus>;

export const Campaign = z.object({
  apiVersion: z.literal(API_VERSION),
  kind: z.literal('Campaign'),
  metadata: ObjectMeta,
  spec: CampaignSpec,
  status: CampaignStatus.optional(),
});
export type Campaign = z.infer<typeof Campaign>;

/** The repository of a source as owner/name (git: given, or the URL's last two segments). */
export function sourceRepoKey(source: Source): string {
  return source.github?.repo ?? source.git?.repo ?? source.git?.url ?? '';
}

/** `20260102t0300`: a period's tick as a name/label segment (UTC, minute resolution). */
export function periodLabel(tick: string): string {
  return tick.slice(0, 16).replace(/[-:]/g, '').toLowerCase();
}

/**
 * The deterministic name of a campaign's run for one repository (and period): readable
 * prefix, then a hash of all three, so a restarted operator finds the runs it created and
 * two repositories whose slugs collide still get two runs.
 */
export function campaignRunName(campaign: string, repo: string, period?: string): string {
  const hash = createHash('sha256')
    .update(JSON.stringify([campaign, repo, period ?? null]))
    .digest('hex')
    .slice(0, 8);
  const slug = (s: string, max: number) =>
    s
      .toLowerCase()
      .replace(/[^a-z0-9]+/g, '-')
      .replace(/^-+|-+$/g, '')
      .slice(0, max)
      .replace(/-+$/, '');
  return [slug(campaign, 20), period && periodLabel(period), slug(repo, 24), hash].filter(Boolean).join('-');
}
