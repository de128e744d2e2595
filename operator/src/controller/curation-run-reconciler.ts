import {
  CURATIONRUNS,
  CurationRun,
  type CurationRunStatus,
  formatIssues,
  instanceIdFor,
  instanceObjectName,
  SWEINSTANCES,
  SWEInstance,
} from '../api/index.ts';
import {
  errorMessage,
  isAlreadyExists,
  isNotFound,
  type Logger,
  type ReconcileResult,
  TerminalError,
  updateStatus,
} from '../kube/index.ts';
import type { MiningPage, PrSource } from '../mining/types.ts';
import { buildSandboxNetworkPolicy, LABEL_RUN, labelValue, networkPolicyName } from '../sandbox/index.ts';
import { offloadPrContent, type PrContent } from '../store/pr-content.ts';
import { CampaignBudget } from './campaign-budget.ts';
import { campaignOf } from './campaign-reconciler.ts';
import type { ControllerContext } from './controller-context.ts';
import { controllerRef, key, NETWORKPOLICIES, type RawObject, splitKey } from './resources.ts';
import {
  computeRunStatus,
  failedRunStatus,
  type MinedPage,
  miningCapacity,
  runCostOf,
  sourceKindOf,
  summarizeInstances,
} from './run-plan.ts';
import { InvalidSourceError } from './sources.ts';
import { recordTerminal } from './terminal.ts';

const CREATE_CONCURRENCY = 16;
/** PRs examined per page: the cursor and counts reach status at least this often. */
const MAX_PAGE = 200;

/**
 * Instances we created that the cache has not shown yet (controller-runtime's
 * "expectations"): counted as in flight, so a lagging cache never lets a run exceed
 * maxParallel or maxPRs.
 */
export class CreationExpectations {
  private readonly pending = new Map<string, Set<string>>();

  expect(runKey: string, name: string): void {
    let names = this.pending.get(runKey);
    if (!names) {
      names = new Set();
      this.pending.set(runKey, names);
    }
    names.add(name);
  }

  observed(runKey: string, name: string): void {
    this.pending.get(runKey)?.delete(name);
  }

  /** Names still expected after dropping those the cache now has. */
  outstanding(runKey: string, cached: { has(name: string): boolean }): number {
    const names = this.pending.get(runKey);
    if (!names) return 0;
    for (const n of names) if (cached.has(n)) names.delete(n);
    return names.size;
  }
}

export interface RunReconcilerState {
  expectations: CreationExpectations;
  /** One source per run generation: git clones and GitHub ETag caches are reused across pages. */
  sources: Map<string, { generation: number | undefined; source: Promise<PrSource> }>;
  /** The NetworkPolicy spec last written per run (skips the API when nothing changed). */
  policies?: Map<string, string>;
  /** Room shared by the runs of each campaign. */
  campaignBudget?: CampaignBudget;
  /** Wakes the other runs of a campaign: room this run took and did not use is free again. */
  wakeCampaign?: (campaignKey: string) => void;
}

/** Creates or updates the run's sandbox NetworkPolicy (owned by the run). */
async function ensureNetworkPolicy(
  ctx: ControllerContext,
  state: RunReconcilerState,
  run: CurationRun,
  raw: RawObject,
): Promise<void> {
  const namespace = run.metadata.namespace ?? '';
  const runName = run.metadata.name ?? '';
  const net = ctx.sandboxNetwork;
  const source = run.spec.source;
  const desired = buildSandboxNetworkPolicy({
    runName,
    namespace,
    owner: controllerRef(raw),
    egress: run.spec.sandbox?.egress ?? { allowCIDRs: [], allowAll: false },
    ...((source.git?.url ?? source.github?.baseURL) && {
      repositoryURL: source.git?.url ?? source.github?.baseURL,
    }),
    ...(net?.gateway && { gateway: net.gateway }),
    denyCIDRs: net?.denyCIDRs ?? [],
  });
  state.policies ??= new Map();
  const k = key(namespace, runName);
  const fingerprint = JSON.stringify([raw.metadata.uid, desired.spec]);
  if (state.policies.get(k) === fingerprint) return;
  const name = networkPolicyName(runName);
  let existing: (RawObject & { spec?: unknown }) | undefined;
  try {
    existing = await ctx.kube.get<RawObject>(NETWORKPOLICIES, namespace, name);
  } catch (err) {
    if (!isNotFound(err)) throw err;
  }
  if (!existing) {
    try {
      await ctx.kube.create(NETWORKPOLICIES, namespace, desired);
    } catch (err) {
      if (!isAlreadyExists(err)) throw err;
      return; // written meanwhile: the next reconcile compares it
    }
  } else if (JSON.stringify(existing.spec) !== JSON.stringify(desired.spec)) {
    await ctx.kube.replace(NETWORKPOLICIES, {
      ...desired,
      metadata: { ...desired.metadata, resourceVersion: existing.metadata.resourceVersion },
    });
  }
  state.policies.set(k, fingerprint);
}

function parseRun(raw: RawObject): CurationRun {
  const parsed = CurationRun.safeParse(raw);
  if (!parsed.success)
    throw new TerminalError('InvalidSpec', formatIssues(parsed.error.issues).slice(0, 5).join('; '));
  return parsed.data;
}

function sourceFor(ctx: ControllerContext, state: RunReconcilerState, run: CurationRun): Promise<PrSource> {
  const k = key(run.metadata.namespace, run.metadata.name);
  const cached = state.sources.get(k);
  if (cached && cached.generation === run.metadata.generation) return cached.source;
  const source = ctx.sourceFactory(run, {
    readSecret: (namespace, name, secretKey) => ctx.kube.readSecretKey(namespace, name, secretKey),
    ...(ctx.gitCacheDir && { gitCacheDir: ctx.gitCacheDir }),
  });
  source.catch(() => state.sources.delete(k));
  state.sources.set(k, { generation: run.metadata.generation, source });
  return source;
}

/** Instance objects for a page's candidates: deterministic names, owned by the run. */
function instancesFor(run: CurationRun, runRaw: RawObject, page: MiningPage): SWEInstance[] {
  const runName = run.metadata.name ?? '';
  return page.candidates.map((candidate) => {
    const instanceId = candidate.instanceId ?? instanceIdFor(candidate.repo, candidate.pullNumber);
    return SWEInstance.parse({
      apiVersion: 'scaleswe.dev/v1alpha1',
      kind: 'SWEInstance',
      metadata: {
        name: instanceObjectName(runName, instanceId),
        namespace: run.metadata.namespace,
        labels: { [LABEL_RUN]: labelValue(runName) },
        ownerReferences: [controllerRef(runRaw)],
      },
      spec: { ...candidate, instanceId, runRef: runName },
    });
  });
}

/** The store refused or could not be reached: retried with backoff, never the source's fault. */
class StoreWriteError extends Error {}

/**
 * With a dataset store, the instance as created: its PR content written to the store first (the
 * same key on every try: a crash before the create leaves an object the re-mined page writes
 * again), the spec naming it. Without one, the instance whole.
 */
async function withPrContentStored(ctx: ControllerContext, instance: SWEInstance): Promise<object> {
  if (!ctx.datasetStore) return instance;
  const where = { namespace: instance.metadata.namespace ?? '', name: instance.metadata.name ?? '' };
  const { spec, object } = offloadPrContent(instance.spec, where);
  try {
    await ctx.datasetStore.put(object.key, object.body);
  } catch (err) {
    throw new StoreWriteError(`dataset store (${ctx.datasetStore.where}): ${errorMessage(err)}`);
  }
  // The instance's first reconcile finds it here instead of reading it back.
  ctx.contentCache.set(object.sha256, JSON.parse(object.body) as PrContent, Buffer.byteLength(object.body));
  return { ...instance, spec };
}

/**
 * validate → count instances → mine one page when there is room (create its instances,
 * then persist the cursor) → write status. Creating before persisting the cursor means a
 * crash in between re-mines the same page and meets AlreadyExists: nothing is lost and
 * nothing is duplicated.
 */
export async function reconcileRun(
  ctx: ControllerContext,
  state: RunReconcilerState,
  k: string,
  log: Logger,
): Promise<ReconcileResult | undefined> {
  const { namespace, name } = splitKey(k);
  const raw = ctx.runOverlay.resolve(ctx.runs.get(namespace, name));
  if (!raw || raw.metadata.deletionTimestamp) return undefined;
  // Failed is final for a generation: only a spec edit (new generation) makes it worth another try.
  const recorded = raw.status as CurationRunStatus | undefined;
  if (recorded?.phase === 'Failed' && recorded.observedGeneration === raw.metadata.generation)
    return undefined;
  let run = parseRun(raw);
  let base = raw;
  await ensureNetworkPolicy(ctx, state, run, raw);

  const cachedInstances = ctx.instances.byIndex('run', k);
  const names = new Set(cachedInstances.map((i) => i.metadata.name ?? ''));
  const outstanding = state.expectations.outstanding(k, names);
  const statuses = cachedInstances.map((i) => ({ status: i.status as SWEInstance['status'] }));
  const summary = summarizeInstances(statuses, run.spec.solve !== undefined);
  const cost = runCostOf(run, statuses);
  summary.instances += outstanding;
  summary.running += outstanding;

  let mined: MinedPage | undefined;
  let sourceError: { reason: string; message: string } | undefined;
  let requeueAfterMs: number | undefined;
  let capacity = miningCapacity(run, summary);
  // A campaign's runs share its maxParallel: take room before the first await, give it back
  // once the created instances are counted as expectations.
  const campaignKey = campaignOf(raw);
  let reserved = 0;
  if (campaignKey && capacity > 0) {
    state.campaignBudget ??= new CampaignBudget();
    capacity = reserved = state.campaignBudget.take(ctx, state.expectations, campaignKey, capacity);
  }
  try {
    if (capacity > 0) {
      // The cursor must be the stored one, not a cached copy: re-read before mining.
      base = await ctx.kube.get<RawObject>(CURATIONRUNS, namespace, name);
      run = parseRun(base);
      const fromCursor = run.status?.cursor?.[sourceKindOf(run)];
      try {
        const source = await sourceFor(ctx, state, run);
        const page = await source.nextPage(fromCursor, Math.min(capacity, MAX_PAGE));
        const pending = instancesFor(run, base, page);
        let created = 0;
        // A few creates at a time: a page of 1,000 candidates must not take 1,000 round trips in a row.
        const createNext = async (): Promise<void> => {
          for (let instance = pending.shift(); instance; instance = pending.shift()) {
            const instanceName = instance.metadata.name ?? '';
            state.expectations.expect(k, instanceName);
            try {
              await ctx.kube.create(SWEINSTANCES, namespace, await withPrContentStored(ctx, instance));
              created++;
            } catch (err) {
              if (isAlreadyExists(err)) continue;
              // Not created (its PR content not stored, or the create refused): not in flight,
              // or the run would wait for an instance that never comes (controller-runtime lowers
              // its expectations on a failed create the same way).
              state.expectations.observed(k, instanceName);
              throw err;
            }
          }
        };
        try {
          await Promise.all(Array.from({ length: CREATE_CONCURRENCY }, createNext));
        } finally {
          // Only new ones: a page mined again after a crash meets AlreadyExists and adds nothing.
          ctx.pipelineMetrics.mined(namespace, name, created);
        }
        mined = {
          fromCursor,
          page: {
            cursor: page.cursor,
            exhausted: page.exhausted,
            rejected: page.rejected,
            candidates: page.candidates.length,
          },
        };
        summary.instances += page.candidates.length;
        summary.running += page.candidates.length;
        log.info(
          { candidates: page.candidates.length, rejected: page.rejected.length, exhausted: page.exhausted },
          'mined a page',
        );
        // Room left and more to mine: continue without waiting for an event.
        if (!page.exhausted) requeueAfterMs = 0;
      } catch (err) {
        if (err instanceof InvalidSourceError) throw new TerminalError('InvalidSource', err.message);
        // Instances wait for the store (no cursor written: the page is mined again), as stages do.
        if (err instanceof StoreWriteError) throw err;
        sourceError = { reason: 'SourceError', message: errorMessage(err).slice(0, 1000) };
      }
    }
  } finally {
    if (campaignKey && reserved > 0) {
      state.campaignBudget?.release(campaignKey, reserved);
      if ((mined?.page.candidates ?? 0) < reserved) state.wakeCampaign?.(campaignKey);
    }
  }

  const now = ctx.now();
  let before: CurationRunStatus | undefined;
  const write = await updateStatus(
    ctx.kube,
    CURATIONRUNS,
    base,
    (fresh) => {
      const freshRun = fresh === base ? run : parseRun(fresh);
      before = freshRun.status;
      return computeRunStatus({
        run: freshRun,
        summary,
        now,
        ...(cost && { cost }),
        ...(mined && { mined }),
        ...(sourceError && { sourceError }),
      });
    },
    {
      overlay: ctx.runOverlay,
      onConflict: () => ctx.metrics.statusConflicts.inc({ controller: 'curationrun' }),
    },
  );
  const after = write.object.status as CurationRunStatus | undefined;
  if (write.written && after?.phase !== before?.phase) {
    log.info({ phase: after?.phase, progress: after?.progress }, 'run phase changed');
    ctx.events.record(
      write.object,
      'Normal',
      after?.phase ?? 'Unknown',
      'Reconcile',
      `run is ${after?.phase}: ${after?.progress ?? ''} instances finished`,
    );
  }
  // A failing source is retried with the controller's backoff, keeping the condition. The
  // Warning is recorded when the condition changes (a new or different error), not per retry.
  if (sourceError) {
    const ready = before?.conditions?.find((c) => c.type === 'Ready');
    if (write.written && (ready?.reason !== sourceError.reason || ready.message !== sourceError.message))
      ctx.events.record(write.object, 'Warning', sourceError.reason, 'Mine', sourceError.message);
    throw new Error(`${sourceError.reason}: ${sourceError.message}`);
  }
  return requeueAfterMs === undefined ? undefined : { requeueAfterMs };
}

export function recordRunTerminal(ctx: ControllerContext, k: string, err: TerminalError): Promise<void> {
  return recordTerminal(
    ctx,
    {
      resource: CURATIONRUNS,
      cache: ctx.runs,
      overlay: ctx.runOverlay,
      failed: (fresh, reason, message, now) =>
        failedRunStatus(
          {
            status: fresh.status as CurationRunStatus | undefined,
            metadata: fresh.metadata as CurationRun['metadata'],
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
