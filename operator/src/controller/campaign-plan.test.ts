import { describe, expect, it } from 'vitest';
import { Campaign, type CampaignStatus, campaignRunName } from '../api/index.ts';
import { advanceSchedule, computeCampaignStatus, desiredRuns, parseSchedule } from './campaign-plan.ts';

const campaign = (spec: object, status?: CampaignStatus) =>
  Campaign.parse({
    apiVersion: 'scaleswe.dev/v1alpha1',
    kind: 'Campaign',
    metadata: { name: 'c', namespace: 'ns', generation: 1 },
    spec,
    ...(status && { status }),
  });
const repos = [{ github: { repo: 'psf/requests' } }, { git: { url: '/r/x.git', repo: 'acme/x' } }];
const hourly = parseSchedule('0 * * * *');
const t = (s: string) => new Date(`2026-03-01T${s}:00.000Z`);

describe('campaign plan', () => {
  it('run names are deterministic, DNS-safe and distinct for colliding slugs', () => {
    const a = campaignRunName('big-campaign', 'psf/requests');
    expect(a).toBe(campaignRunName('big-campaign', 'psf/requests'));
    expect(a).toMatch(/^big-campaign-psf-requests-[0-9a-f]{8}$/);
    expect(campaignRunName('c', 'a.b/c')).not.toBe(campaignRunName('c', 'a-b/c'));
    expect(campaignRunName('c', 'psf/requests', '2026-03-01T10:00:00.000Z')).toMatch(
      /^c-20260301t1000-psf-requests-[0-9a-f]{8}$/,
    );
    expect(campaignRunName('x'.repeat(253), 'o'.repeat(100) + '/n').length).toBeLessThanOrEqual(63);
  });

  it('one run per repository (listed twice: once), the template as its spec', () => {
    const runs = desiredRuns(
      campaign({ repositories: [...repos, repos[0]], template: { limits: { maxPRs: 7 } }, suspend: true }),
    );
    expect(runs.map((r) => r.spec.source)).toMatchObject(repos);
    expect(runs[0]?.spec).toMatchObject({ limits: { maxPRs: 7 }, suspend: true });
  });

  it('the schedule: first period up to now, then one period per due tick, missed ticks folded', () => {
    const first = advanceSchedule(hourly, undefined, new Date('2026-03-01T09:41:30Z'));
    expect(first).toEqual({
      started: true,
      schedule: { cursor: t('09:41').toISOString(), periods: 1, nextPeriodAt: t('10:00').toISOString() },
    });
    expect(advanceSchedule(hourly, first.schedule, t('09:59'))).toEqual({
      started: false,
      schedule: first.schedule,
    });
    const late = advanceSchedule(hourly, first.schedule, new Date('2026-03-01T12:30:00Z'));
    expect(late).toEqual({
      started: true,
      schedule: {
        periodStart: t('09:41').toISOString(),
        cursor: t('12:00').toISOString(),
        periods: 2,
        nextPeriodAt: t('13:00').toISOString(),
      },
    });
    expect(() => parseSchedule('61 * * * *')).toThrow();
  });

  it("a period narrows the template's window; a period outside it gets no runs", () => {
    const status = (periodStart: string | undefined, cursor: string) => ({
      schedule: { ...(periodStart && { periodStart }), cursor, periods: 2 },
    });
    const spec = {
      repositories: repos,
      schedule: '0 * * * *',
      template: { filters: { mergedAfter: '2026-01-01T00:00:00Z' } },
    };
    expect(desiredRuns(campaign(spec))).toEqual([]); // no period recorded yet
    const [first] = desiredRuns(campaign(spec, status(undefined, '2026-03-01T09:41:00.000Z')));
    expect(first?.spec.filters).toMatchObject({
      mergedAfter: '2026-01-01T00:00:00Z',
      mergedBefore: '2026-03-01T09:41:00.000Z',
    });
    const [second] = desiredRuns(
      campaign(spec, status('2026-03-01T09:41:00.000Z', '2026-03-01T10:00:00.000Z')),
    );
    expect(second?.spec.filters).toMatchObject({
      mergedAfter: '2026-03-01T09:41:00.000Z',
      mergedBefore: '2026-03-01T10:00:00.000Z',
    });
    expect(second?.period).toBe('2026-03-01T10:00:00.000Z');
    const ended = { ...spec, template: { filters: { mergedBefore: '2026-02-01T00:00:00Z' } } };
    expect(
      desiredRuns(campaign(ended, status('2026-03-01T09:41:00.000Z', '2026-03-01T10:00:00.000Z'))),
    ).toEqual([]);
  });

  it('the funnel sums the runs; the phase follows them', () => {
    const c = campaign({ repositories: repos });
    const runs = [
      {
        status: {
          phase: 'Succeeded' as const,
          counts: { discovered: 5, rejected: 2, instances: 3, running: 0, verified: 2, failed: 1 },
          rejectedByReason: { TooManyFiles: 2 },
          failedByReason: { NoFailToPass: 1 },
        },
      },
      {
        status: {
          phase: 'Failed' as const,
          conditions: [
            {
              type: 'Ready',
              status: 'False' as const,
              reason: 'InvalidSource',
              message: 'x',
              lastTransitionTime: '2026-03-01T00:00:00Z',
            },
          ],
        },
      },
    ];
    const done = computeCampaignStatus({ campaign: c, runs, missingRuns: 0, now: t('10:00') });
    expect(done).toMatchObject({
      phase: 'Succeeded',
      progress: '2/2',
      funnel: {
        repositories: 2,
        runs: 2,
        runsFinished: 2,
        runsFailed: 1,
        discovered: 5,
        rejected: 2,
        instances: 3,
        verified: 2,
        failed: 1,
        running: 0,
      },
      rejectedByReason: { TooManyFiles: 2 },
      failedByReason: { NoFailToPass: 1 },
      runsFailedByReason: { InvalidSource: 1 },
    });
    expect(
      computeCampaignStatus({ campaign: c, runs: runs.slice(0, 1), missingRuns: 1, now: t('10:00') }),
    ).toMatchObject({ phase: 'Running', progress: '1/2' });
    expect(computeCampaignStatus({ campaign: c, runs: [], missingRuns: 0, now: t('10:00') }).phase).toBe(
      'Pending',
    );
  });
});
