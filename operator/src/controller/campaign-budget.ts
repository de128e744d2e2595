// The concurrency limit a campaign's runs share (spec.maxParallel): instances in flight across
// all of them, counted from the caches, plus what runs mining right now have reserved. The
// count reads index sizes, one per run, never the instances: a take costs O(runs), not
// O(instances), so a campaign of 5,000 repositories asks for room as cheaply as one of 50.
import { CampaignSpecObject } from '../api/index.ts';
import type { ControllerContext } from './controller-context.ts';
import type { CreationExpectations } from './curation-run-reconciler.ts';
import { key, splitKey, UNFINISHED_BY_RUN } from './resources.ts';

export class CampaignBudget {
  /** Room taken by runs between reading the caches and registering their creations. */
  private readonly reserved = new Map<string, number>();

  /**
   * Takes up to `want` of the campaign's room and returns how much it got. Synchronous from
   * count to reservation, so two runs of one campaign never both take the last slot.
   */
  take(
    ctx: ControllerContext,
    expectations: CreationExpectations,
    campaignKey: string,
    want: number,
  ): number {
    const { namespace, name } = splitKey(campaignKey);
    const campaign = ctx.campaigns.get(namespace, name);
    if (!campaign) return 0; // not cached (yet) or deleted: its runs wait
    const limit = CampaignSpecObject.shape.maxParallel.parse(
      (campaign.spec as { maxParallel?: unknown } | undefined)?.maxParallel,
    );
    let inFlight = this.reserved.get(campaignKey) ?? 0;
    for (const run of ctx.runs.byIndex('campaign', campaignKey)) {
      const runKey = key(run.metadata.namespace, run.metadata.name);
      inFlight += ctx.instances.indexSize(UNFINISHED_BY_RUN, runKey);
      const cached = { has: (n: string) => ctx.instances.get(run.metadata.namespace ?? '', n) !== undefined };
      inFlight += expectations.outstanding(runKey, cached);
    }
    const got = Math.max(0, Math.min(want, limit - inFlight));
    if (got > 0) this.reserved.set(campaignKey, (this.reserved.get(campaignKey) ?? 0) + got);
    return got;
  }

  /** Gives back a reservation once its instances are counted as expectations (or none came). */
  release(campaignKey: string, n: number): void {
    const left = (this.reserved.get(campaignKey) ?? 0) - n;
    if (left > 0) this.reserved.set(campaignKey, left);
    else this.reserved.delete(campaignKey);
  }
}
