import { setTimeout as sleep } from 'node:timers/promises';
import {
  CURATIONRUNS,
  type CurationRunSpec,
  CurationRunStatus,
  type InstanceRecord,
  instanceObjectName,
  Price,
  runCostLine,
  runCostOfInstances,
  type SolveAttempt,
  Source,
  STAGE_CONDITION,
  STAGES,
  SWEINSTANCES,
  SWEInstanceSpec,
  SWEInstanceStatus,
  type Trajectory,
} from '../api/index.ts';
import type { ExportOptions } from '../export/export-run.ts';
import { errorMessage, isNotFound, Kube, type KubeObject, statusCodeOf } from '../kube/index.ts';
import {
  decodeTrajectory,
  decodeTrajectoryBytes,
  LABEL_TRAJECTORY,
  TRAJECTORY_KEY,
  type TrajectoryPayload,
  trajectoriesOf,
} from '../llm/trajectory-config-map.ts';
import { retryFailed } from '../pipeline/pipeline.ts';
import { solveAttemptOf, solveGrant, solveOfGrant } from '../pipeline/solve.ts';
import { LABEL_CAMPAIGN, LABEL_INSTANCE, LABEL_PERIOD, LABEL_RUN, labelValue } from '../sandbox/index.ts';
import { type DatasetStore, loadContent, loadRecordContent } from '../store/dataset-store.ts';
import { parseTrajectoryKey, type TrajectoryKeyParts, trajectoryPrefix } from '../store/trajectory-keys.ts';
import { writeExport } from './export.ts';
import { UserError } from './user-error.ts';

interface RawObject extends KubeObject {
  spec?: unknown;
  status?: unknown;
}

export interface ClusterRun {
  name: string;
  /** The run's spec.source; undefined when it does not parse (a newer or older CRD). */
  source?: CurationRunSpec['source'] | undefined;
  /** spec.llm.price: status and report price tokens only with it. */
  price?: Price | undefined;
  status: CurationRunStatus;
  instances: InstanceRecord[];
}

/** A CurationRun and its SWEInstances as the cluster holds them now. */
export async function readClusterRun(kube: Kube, namespace: string, name: string): Promise<ClusterRun> {
  const run = await kube.get<RawObject>(CURATIONRUNS, namespace, name);
  const list = await kube.list<RawObject>(SWEINSTANCES, namespace, {
    labelSelector: `${LABEL_RUN}=${labelValue(name)}`,
  });
  const instances: InstanceRecord[] = [];
  for (const item of list.items) {
    const spec = SWEInstanceSpec.safeParse(item.spec);
    if (!spec.success || spec.data.runRef !== name) continue;
    const status = SWEInstanceStatus.safeParse(item.status ?? {});
    instances.push({ spec: spec.data, status: status.success ? status.data : undefined });
  }
  instances.sort((a, b) => a.spec.pullNumber - b.spec.pullNumber);
  const status = CurationRunStatus.safeParse(run.status ?? {});
  const source = Source.safeParse((run.spec as { source?: unknown } | undefined)?.source);
  const price = Price.safeParse((run.spec as { llm?: { price?: unknown } } | undefined)?.llm?.price);
  return {
    name,
    source: source.success ? source.data : undefined,
    ...(price.success && { price: price.data }),
    status: status.success ? status.data : {},
    instances,
  };
}

/** Pure: the text `scaleswe status` shows for a run. */
export function renderStatus(run: ClusterRun): string {
  const { status } = run;
  const counts = status.counts;
  const lines = [
    `CurationRun ${run.name}: ${status.phase ?? 'Pending'}${status.progress ? ` (${status.progress})` : ''}`,
    counts
      ? `  discovered ${counts.discovered}, rejected ${counts.rejected}, instances ${counts.instances}, running ${counts.running}, verified ${counts.verified}, failed ${counts.failed}`
      : '  no counts yet',
  ];
  const rejects = Object.entries(status.rejectedByReason ?? {});
  if (rejects.length) lines.push(`  rejected by reason: ${rejects.map(([r, n]) => `${r}=${n}`).join(', ')}`);
  const failures = Object.entries(status.failedByReason ?? {});
  if (failures.length) lines.push(`  failed by reason: ${failures.map(([r, n]) => `${r}=${n}`).join(', ')}`);
  const ready = status.conditions?.map((c) => `${c.type}=${c.status} (${c.reason})`).join(', ');
  if (ready) lines.push(`  conditions: ${ready}`);
  // Solving's tokens and counts from status.solve: the cluster keeps no attempt records here.
  const cost = runCostOfInstances(run.instances, run.price);
  if (cost.curation.totalTokens + cost.solve.totalTokens > 0)
    lines.push(`  ${runCostLine(cost, run.price !== undefined)}`);
  if (run.instances.length) {
    const width = Math.max(...run.instances.map((i) => i.spec.instanceId.length), 11);
    lines.push('', `  ${'INSTANCE'.padEnd(width)}  ${'PHASE'.padEnd(9)}  REASON`);
    for (const i of run.instances) {
      const reason = i.status?.phase === 'Verified' ? '' : (i.status?.lastError?.reason ?? '');
      lines.push(
        `  ${i.spec.instanceId.padEnd(width)}  ${(i.status?.phase ?? 'Pending').padEnd(9)}  ${reason}`,
      );
    }
  }
  return lines.join('\n');
}

const TERMINAL = new Set(['Succeeded', 'Failed']);

/** Prints the run's status; with `watch`, redraws until the run ends or the signal aborts. */
export async function statusCommand(
  kube: Kube,
  namespace: string,
  name: string,
  opts: {
    watch: boolean;
    intervalMs: number;
    signal: AbortSignal;
    write: (text: string) => void;
    tty: boolean;
  },
): Promise<ClusterRun> {
  for (;;) {
    const run = await readClusterRun(kube, namespace, name);
    opts.write(`${opts.tty && opts.watch ? '\x1b[2J\x1b[H' : ''}${renderStatus(run)}\n`);
    if (!opts.watch || TERMINAL.has(run.status.phase ?? '') || opts.signal.aborted) return run;
    await sleep(opts.intervalMs, undefined, { signal: opts.signal }).catch(() => undefined);
    if (opts.signal.aborted) return run;
  }
}

/**
 * Where a run's LLM exchanges are: the trajectory ConfigMaps the operator's gateway writes (one
 * per instance, stage and attempt; read with their list) and, with a dataset store, its objects
 * there (listed here, read one at a time: the export streams them). Each part is ordered by
 * instance, stage, attempt.
 */
interface RunTrajectories {
  configMapPayloads: TrajectoryPayload[];
  /** The store's objects, each key parsed once. */
  stored: Array<TrajectoryKeyParts & { key: string }>;
  store: DatasetStore | undefined;
}

const STAGE_ORDER: readonly string[] = STAGES;

async function listRunTrajectories(
  kube: Kube,
  namespace: string,
  name: string,
  store?: DatasetStore,
): Promise<RunTrajectories> {
  const list = await kube.listConfigMaps(
    namespace,
    `${LABEL_RUN}=${labelValue(name)},${LABEL_TRAJECTORY}=true`,
  );
  const configMapPayloads = list.items.flatMap((cm) => {
    const payload = decodeTrajectory(cm.data?.[TRAJECTORY_KEY]);
    return payload ? [payload] : [];
  });
  configMapPayloads.sort(
    (a, b) =>
      a.instanceId.localeCompare(b.instanceId) ||
      STAGE_ORDER.indexOf(a.stage) - STAGE_ORDER.indexOf(b.stage) ||
      a.attempt - b.attempt,
  );
  // With a dataset store the gateway writes objects there (ConfigMaps of earlier runs still count).
  const keyed = (store ? await store.list(trajectoryPrefix(namespace, name)) : []).flatMap((key) => {
    const parts = parseTrajectoryKey(key);
    return parts ? [{ key, ...parts }] : [];
  });
  keyed.sort(
    (a, b) =>
      a.instance.localeCompare(b.instance) ||
      STAGE_ORDER.indexOf(a.stage) - STAGE_ORDER.indexOf(b.stage) ||
      a.attempt - b.attempt,
  );
  return { configMapPayloads, stored: keyed, store };
}

/** The solve attempts' payloads (few per instance): read whole, for solves.jsonl. */
async function solvePayloads(source: RunTrajectories): Promise<TrajectoryPayload[]> {
  const out = source.configMapPayloads.filter(isSolveGrant);
  for (const stored of source.stored) {
    if (!isSolveGrant(stored)) continue;
    const payload = await readStoredTrajectory(source.store, stored.key);
    if (payload) out.push(payload);
  }
  return out;
}

/** The stages' trajectories (no solve attempt's), one stored object in memory at a time. */
async function* stageTrajectories(sources: readonly RunTrajectories[]): AsyncGenerator<Trajectory> {
  for (const source of sources) {
    for (const payload of source.configMapPayloads)
      if (!isSolveGrant(payload)) yield* trajectoriesOf(payload);
    for (const stored of source.stored) {
      if (isSolveGrant(stored)) continue;
      const payload = await readStoredTrajectory(source.store, stored.key);
      if (payload) yield* trajectoriesOf(payload);
    }
  }
}

async function readStoredTrajectory(
  store: DatasetStore | undefined,
  key: string,
): Promise<TrajectoryPayload | undefined> {
  const body = await store?.get(key);
  return body && decodeTrajectoryBytes(body);
}

/**
 * A solve attempt's exchanges (spec.solve): the verify stage's grants numbered by solveGrant.
 * They go to solves.jsonl with their attempt's grade, never to trajectories.jsonl.
 */
const isSolveGrant = (p: { stage: string; attempt: number }) =>
  p.stage === 'verify' && solveOfGrant(p.attempt) !== undefined;

/**
 * The run's solve attempts that are Done (status.solveAttempts), each with the trajectory of
 * the agent pod that produced its patch, as the local driver records them. Pure.
 */
export function clusterSolveAttempts(
  instances: readonly InstanceRecord[],
  payloads: readonly TrajectoryPayload[],
): SolveAttempt[] {
  const byGrant = new Map(payloads.filter(isSolveGrant).map((p) => [`${p.instanceId}\0${p.attempt}`, p]));
  return instances.flatMap((i) =>
    (i.status?.solveAttempts ?? []).flatMap((recorded) => {
      const payload = byGrant.get(
        `${i.spec.instanceId}\0${solveGrant(recorded.attempt, recorded.solveTry ?? 1)}`,
      );
      // One conversation per agent pod: the first group is the SolveAgent's.
      const attempt = solveAttemptOf(i.spec.instanceId, recorded, payload && trajectoriesOf(payload)[0]);
      return attempt ? [attempt] : [];
    }),
  );
}

/** One instance with the content its spec and status name read back from the dataset store. */
const storedContent =
  (store: DatasetStore | undefined) =>
  (r: InstanceRecord): Promise<InstanceRecord> =>
    loadRecordContent(store, r);

/**
 * The instances whose solve attempts' patches are in the dataset store, with their status
 * content read back (the others as they are): solves.jsonl needs the patches.
 */
async function withSolvePatches(
  store: DatasetStore | undefined,
  instances: readonly InstanceRecord[],
): Promise<InstanceRecord[]> {
  const out: InstanceRecord[] = [];
  for (const i of instances)
    out.push(
      i.status?.content?.fields.includes('solvePatches')
        ? { ...i, status: await loadContent(store, i.status) }
        : i,
    );
  return out;
}

/**
 * The record of a cluster run: its status counts, its SWEInstances (their PR content, test-id
 * lists, patches and statements from the dataset store when the operator keeps them there), the
 * gateway's trajectories.
 */
export async function exportCluster(
  kube: Kube,
  namespace: string,
  name: string,
  outDir: string,
  options: ExportOptions = {},
  store?: DatasetStore,
) {
  const run = await readClusterRun(kube, namespace, name);
  const trajectories = await listRunTrajectories(kube, namespace, name, store);
  return writeExport(
    outDir,
    {
      runName: name,
      source: run.source,
      price: run.price,
      discovered: run.status.counts?.discovered ?? run.instances.length,
      rejectedByReason: run.status.rejectedByReason ?? {},
      instances: run.instances,
      trajectories: [],
      streamTrajectories: () => stageTrajectories([trajectories]),
      solves: clusterSolveAttempts(
        await withSolvePatches(store, run.instances),
        await solvePayloads(trajectories),
      ),
      // The dataset streams: content is read per instance as dataset.jsonl is written.
      contentOf: storedContent(store),
    },
    options,
  );
}

/**
 * One export of a campaign's runs, or of one period's runs (its dated snapshot): their instances
 * and trajectories together, their mining funnels summed.
 */
export async function exportCampaign(
  kube: Kube,
  namespace: string,
  campaign: string,
  period: string | undefined,
  outDir: string,
  options: ExportOptions = {},
  store?: DatasetStore,
) {
  const selector = [
    `${LABEL_CAMPAIGN}=${labelValue(campaign)}`,
    ...(period === undefined ? [] : [`${LABEL_PERIOD}=${period}`]),
  ].join(',');
  const runs = (await kube.list<RawObject>(CURATIONRUNS, namespace, { labelSelector: selector })).items
    .filter((r) => r.metadata.ownerReferences?.some((o) => o.kind === 'Campaign' && o.name === campaign))
    .map((r) => r.metadata.name ?? '')
    .sort();
  if (runs.length === 0)
    throw new UserError(
      `campaign "${campaign}" has no runs${period === undefined ? '' : ` in period ${period}`}`,
    );
  const rejectedByReason: Record<string, number> = {};
  let discovered = 0;
  const instances: InstanceRecord[] = [];
  const trajectories: RunTrajectories[] = [];
  const solves: SolveAttempt[] = [];
  for (const name of runs) {
    const run = await readClusterRun(kube, namespace, name);
    discovered += run.status.counts?.discovered ?? run.instances.length;
    for (const [reason, n] of Object.entries(run.status.rejectedByReason ?? {}))
      rejectedByReason[reason] = (rejectedByReason[reason] ?? 0) + n;
    instances.push(...run.instances);
    const source = await listRunTrajectories(kube, namespace, name, store);
    trajectories.push(source);
    solves.push(
      ...clusterSolveAttempts(await withSolvePatches(store, run.instances), await solvePayloads(source)),
    );
  }
  return writeExport(
    outDir,
    {
      runName: period === undefined ? campaign : `${campaign} ${period}`,
      source: undefined,
      discovered,
      rejectedByReason,
      instances,
      trajectories: [],
      streamTrajectories: () => stageTrajectories(trajectories),
      solves,
      contentOf: storedContent(store),
    },
    options,
  );
}

export function connect(kubeconfig: string | undefined): Kube {
  return new Kube(kubeconfig ? { kubeconfig } : {});
}

/** -n as given, else the kubeconfig context's namespace, else default (kubectl's order). */
export function resolveNamespace(flag: string | undefined, kube: Kube): string {
  return flag ?? kube.contextNamespace ?? 'default';
}

/** A cluster call's failure in words a user acts on (no client header dump). */
export function describeClusterError(err: unknown, what: string, namespace: string, server: string): string {
  if (isNotFound(err)) return `${what} not found in namespace "${namespace}"`;
  const code = statusCodeOf(err);
  if (code === 401 || code === 403)
    return `not allowed to read ${what} in namespace "${namespace}" (HTTP ${code}): check your kubeconfig's user`;
  const text = errorMessage(err);
  const network = networkCause(err);
  if (network || /ECONNREFUSED|ENOTFOUND|EHOSTUNREACH|ETIMEDOUT|socket hang up/.test(text))
    return `cannot reach the API server at ${server || '(no server in kubeconfig)'}: ${network ?? text}`;
  return `${what}: ${text}`;
}

/**
 * The network failure under a client error, if it is one: fetch reports every transport
 * failure (refused, unresolvable, TLS, a port it will not dial) as "fetch failed" with the
 * reason as its cause.
 */
function networkCause(err: unknown): string | undefined {
  let e = err as { code?: unknown; message?: unknown; cause?: unknown } | undefined;
  for (let depth = 0; e && depth < 5; depth++) {
    if (typeof e.code === 'string' && /^E[A-Z_]+$/.test(e.code)) return e.code;
    if (e.message === 'fetch failed') {
      const cause = e.cause as { code?: unknown; message?: unknown } | undefined;
      return String(cause?.code ?? cause?.message ?? 'fetch failed');
    }
    e = e.cause as typeof e;
  }
  return undefined;
}

interface RunRow {
  name: string;
  phase: string;
  progress: string;
  verified: number;
  failed: number;
  reason: string;
}

/** Pure: `scaleswe list`'s table. */
export function renderRunList(rows: RunRow[]): string {
  if (!rows.length) return 'No CurationRuns.';
  const header = ['NAME', 'PHASE', 'PROGRESS', 'VERIFIED', 'FAILED', 'REASON'];
  const cells = rows.map((r) => [
    r.name,
    r.phase,
    r.progress,
    String(r.verified),
    String(r.failed),
    r.reason,
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...cells.map((c) => c[i]!.length)));
  return [header, ...cells]
    .map((c) =>
      c
        .map((v, i) => v.padEnd(widths[i]!))
        .join('  ')
        .trimEnd(),
    )
    .join('\n');
}

export async function listRuns(kube: Kube, namespace: string): Promise<RunRow[]> {
  const list = await kube.list<RawObject>(CURATIONRUNS, namespace);
  return list.items
    .map((item) => {
      const parsed = CurationRunStatus.safeParse(item.status ?? {});
      const status = parsed.success ? parsed.data : {};
      const ready = status.conditions?.find((c) => c.type === 'Ready');
      return {
        name: item.metadata?.name ?? '',
        phase: status.phase ?? 'Pending',
        progress: status.progress ?? '',
        verified: status.counts?.verified ?? 0,
        failed: status.counts?.failed ?? 0,
        reason: ready?.status === 'True' ? '' : (ready?.reason ?? ''),
      };
    })
    .sort((a, b) => a.name.localeCompare(b.name));
}

/** Pure: what an instance's stages recorded (conditions, attempts, durations, last error). */
export function renderInstanceRecord(record: InstanceRecord): string {
  const status = record.status;
  const lines = [`SWEInstance ${record.spec.instanceId}: ${status?.phase ?? 'Pending'}`];
  for (const stage of STAGES) {
    const c = status?.conditions?.find((x) => x.type === STAGE_CONDITION[stage]);
    const attempts = status?.attempts?.[stage] ?? 0;
    const ms = status?.stageDurationsMs?.[stage];
    lines.push(
      `  ${stage.padEnd(7)} ${(c?.status ?? 'Unknown').padEnd(7)} ${c?.reason ?? ''}  attempts ${attempts}${ms === undefined ? '' : `, ${(ms / 1000).toFixed(1)}s`}`,
    );
    if (c?.message) lines.push(...c.message.split('\n').map((l) => `          ${l}`));
  }
  const err = status?.lastError;
  if (err) lines.push(`  last error (${err.stage}, ${err.reason}): ${err.message}`);
  return lines.join('\n');
}

/**
 * An instance's logs: the live log of its running stage pod(s), else what its stages
 * recorded (pods are deleted once their result is in status).
 */
export async function instanceLogs(
  kube: Kube,
  namespace: string,
  run: string,
  instanceId: string,
  limitBytes = 256 * 1024,
): Promise<string> {
  const objectName = instanceObjectName(run, instanceId);
  const record = await kube.get<RawObject>(SWEINSTANCES, namespace, objectName);
  const spec = SWEInstanceSpec.parse(record.spec);
  const status = SWEInstanceStatus.safeParse(record.status ?? {});
  const text = [renderInstanceRecord({ spec, status: status.success ? status.data : undefined })];
  const pods = await kube.listPods(namespace, `${LABEL_INSTANCE}=${labelValue(objectName)}`);
  for (const pod of pods.items) {
    const name = pod.metadata?.name ?? '';
    const log = await kube.readPodLog(namespace, name, 'agent', limitBytes).catch((e: unknown) => {
      return `(no log: ${errorMessage(e)})`;
    });
    text.push('', `--- pod ${name} (${pod.status?.phase ?? 'Unknown'}) ---`, log.trimEnd());
  }
  return text.join('\n');
}

/**
 * `scaleswe retry` in the cluster: each Failed instance of the run (or those named) gets its
 * failed stage back with a fresh attempt budget; the operator starts it on its next reconcile.
 * Returns the instance ids retried.
 */
export async function retryClusterInstances(
  kube: Kube,
  namespace: string,
  run: string,
  only: readonly string[],
  now: Date,
): Promise<string[]> {
  await kube.get<RawObject>(CURATIONRUNS, namespace, run);
  const list = await kube.list<RawObject>(SWEINSTANCES, namespace, {
    labelSelector: `${LABEL_RUN}=${labelValue(run)}`,
  });
  const retried: string[] = [];
  for (const item of list.items) {
    const spec = SWEInstanceSpec.safeParse(item.spec);
    const status = SWEInstanceStatus.safeParse(item.status ?? {});
    if (!spec.success || !status.success || spec.data.runRef !== run) continue;
    if (only.length && !only.includes(spec.data.instanceId)) continue;
    const next = retryFailed(status.data, now);
    if (next === status.data) continue;
    // resourceVersion is in the body: a concurrent write by the operator fails this one (409).
    await kube.replaceStatus(SWEINSTANCES, { ...item, status: next });
    retried.push(spec.data.instanceId);
  }
  return retried.sort();
}
