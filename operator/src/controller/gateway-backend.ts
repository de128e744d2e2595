import { CURATIONRUNS, CurationRun, SWEINSTANCES, SWEInstance, type TrajectoryStep } from '../api/index.ts';
import {
  errorMessage,
  isAlreadyExists,
  isConflict,
  isNotFound,
  type Kube,
  type Logger,
} from '../kube/index.ts';
import type { ProviderTarget } from '../llm/gateway.ts';
import { type GatewayClaims, grantKey } from '../llm/gateway-token.ts';
import {
  ANNOTATION_DROPPED,
  decodeTrajectory,
  decodeTrajectoryBytes,
  encodeTrajectory,
  encodeTrajectoryBytes,
  LABEL_TRAJECTORY,
  TRAJECTORY_KEY,
} from '../llm/trajectory-config-map.ts';
import {
  LABEL_ATTEMPT,
  LABEL_INSTANCE,
  LABEL_MANAGED_BY,
  LABEL_RUN,
  LABEL_STAGE,
  labelValue,
  MANAGED_BY,
  stagePodName,
} from '../sandbox/index.ts';
import type { DatasetStore } from '../store/dataset-store.ts';
import { trajectoryKey } from '../store/trajectory-keys.ts';
import type { ControllerContext } from './controller-context.ts';
import type { PipelineMetrics } from './pipeline-metrics.ts';
import { controllerRef, type RawObject } from './resources.ts';

/** Name of the trajectory ConfigMap of one (instance, stage, attempt). */
export function trajectoryConfigMapName(instance: string, stage: string, attempt: number): string {
  return stagePodName(`${instance}-trajectory`, stage as never, attempt);
}

interface Entry {
  claims: GatewayClaims;
  steps: TrajectoryStep[];
  droppedSteps: number;
  /** Whether the ConfigMap's earlier steps (another process, before a restart) were merged. */
  loaded: boolean;
  resourceVersion?: string;
  writing?: Promise<void>;
  dirty: boolean;
}

export interface GatewayBackendOptions {
  kube: Kube;
  log: Logger;
  /** The operator's caches when this replica leads (a standby reads through the API). */
  ctx?: () => Pick<ControllerContext, 'instances' | 'runs'> | undefined;
  /** How long a provider key read from its Secret is reused. */
  keyTtlMs?: number;
  now?: () => number;
  /** Counts the tokens of each exchange (scaleswe_llm_tokens_total). */
  metrics?: Pick<PipelineMetrics, 'tokens'>;
  /** With a dataset store, trajectories are objects there instead of ConfigMaps (etcd). */
  store?: DatasetStore | undefined;
}

/**
 * The operator side of the LLM gateway: finds a grant's run (model, provider, limits) and
 * its provider key, and persists every exchange as a ConfigMap owned by the SWEInstance (or,
 * with a dataset store, as an object there).
 * Keys are held in memory only, never logged.
 */
export class GatewayBackend {
  private readonly opts: GatewayBackendOptions;
  private readonly keys = new Map<string, { value: string | undefined; at: number }>();
  private readonly objects = new Map<string, { obj: RawObject; at: number }>();
  private readonly entries = new Map<string, Entry>();

  constructor(opts: GatewayBackendOptions) {
    this.opts = opts;
  }

  private now(): number {
    return this.opts.now?.() ?? Date.now();
  }

  private get ttl(): number {
    return this.opts.keyTtlMs ?? 30_000;
  }

  private async object(kind: 'runs' | 'instances', namespace: string, name: string): Promise<RawObject> {
    const ctx = this.opts.ctx?.();
    const cached = ctx?.[kind].hasSynced() ? ctx[kind].get(namespace, name) : undefined;
    if (cached) return cached;
    const k = `${kind}/${namespace}/${name}`;
    const hit = this.objects.get(k);
    if (hit && this.now() - hit.at < this.ttl) return hit.obj;
    const obj = await this.opts.kube.get<RawObject>(
      kind === 'runs' ? CURATIONRUNS : SWEINSTANCES,
      namespace,
      name,
    );
    this.objects.set(k, { obj, at: this.now() });
    return obj;
  }

  private async instanceAndRun(claims: GatewayClaims): Promise<{ instance: SWEInstance; run: CurationRun }> {
    const instance = SWEInstance.safeParse(await this.object('instances', claims.namespace, claims.instance));
    if (!instance.success || instance.data.spec.instanceId !== claims.instanceId)
      throw new Error(`SWEInstance ${claims.namespace}/${claims.instance} does not match the token`);
    const run = CurationRun.safeParse(await this.object('runs', claims.namespace, instance.data.spec.runRef));
    if (!run.success)
      throw new Error(`CurationRun ${claims.namespace}/${instance.data.spec.runRef} is invalid`);
    return { instance: instance.data, run: run.data };
  }

  private async providerKey(namespace: string, name: string, key: string): Promise<string | undefined> {
    const k = `${namespace}/${name}/${key}`;
    const hit = this.keys.get(k);
    if (hit && this.now() - hit.at < this.ttl) return hit.value;
    const data = await this.opts.kube.getSecret(namespace, name);
    if (!data) throw new Error(`Secret ${namespace}/${name} with the provider key does not exist`);
    const value = data[key];
    if (value === undefined) throw new Error(`Secret ${namespace}/${name} has no key ${key}`);
    this.keys.set(k, { value, at: this.now() });
    return value;
  }

  readonly resolveProvider = async (claims: GatewayClaims): Promise<ProviderTarget> => {
    const { run } = await this.instanceAndRun(claims);
    const llm = run.spec.llm;
    if (!llm) throw new Error(`CurationRun ${claims.namespace}/${run.metadata.name} has no llm section`);
    const ref = llm.apiKeySecretRef;
    return {
      baseURL: llm.baseURL,
      model: llm.model,
      requestsPerMinute: llm.requestsPerMinute,
      apiKey: ref ? await this.providerKey(claims.namespace, ref.name, ref.key) : undefined,
    };
  };

  readonly onExchange = (claims: GatewayClaims, step: TrajectoryStep): void => {
    this.opts.metrics?.tokens(step.usage);
    const now = this.now();
    for (const [k, e] of this.entries) if (e.claims.expiresAt < now && !e.writing) this.entries.delete(k);
    const k = grantKey(claims);
    let entry = this.entries.get(k);
    if (!entry) {
      entry = { claims, steps: [], droppedSteps: 0, loaded: false, dirty: false };
      this.entries.set(k, entry);
    }
    entry.steps.push(step);
    this.schedule(entry);
  };

  /** Waits for every pending trajectory write (shutdown, tests). */
  async flush(): Promise<void> {
    for (;;) {
      const pending = [...this.entries.values()].flatMap((e) => (e.writing ? [e.writing] : []));
      if (!pending.length) return;
      await Promise.all(pending);
    }
  }

  /** One write per grant at a time; exchanges arriving meanwhile go into the next write. */
  private schedule(entry: Entry): void {
    if (entry.writing) {
      entry.dirty = true;
      return;
    }
    entry.dirty = false;
    entry.writing = this.write(entry)
      .catch((err: unknown) =>
        this.opts.log.warn(
          { instance: entry.claims.instance, stage: entry.claims.stage, err: errorMessage(err) },
          'trajectory not saved',
        ),
      )
      .finally(() => {
        entry.writing = undefined;
        if (entry.dirty) this.schedule(entry);
      });
  }

  /**
   * The attempt's object in the dataset store, rewritten whole with every new step (earlier
   * steps of another process, before a restart, merged on the first write).
   */
  private async writeToStore(entry: Entry, store: DatasetStore): Promise<void> {
    const { claims } = entry;
    const { run } = await this.instanceAndRun(claims);
    const key = trajectoryKey({ ...claims, run: run.metadata.name ?? '' });
    if (!entry.loaded) {
      const existing = await store.get(key);
      if (existing) this.mergeEarlier(entry, decodeTrajectoryBytes(existing));
      entry.loaded = true;
    }
    const payload = {
      instanceId: claims.instanceId,
      stage: claims.stage as never,
      attempt: claims.attempt,
      droppedSteps: entry.droppedSteps,
      steps: entry.steps,
    };
    await store.put(key, encodeTrajectoryBytes(payload));
  }

  private mergeEarlier(entry: Entry, earlier: ReturnType<typeof decodeTrajectory>): void {
    const seen = new Set(entry.steps.map((s) => s.startedAt + JSON.stringify(s.response)));
    const missing = (earlier?.steps ?? []).filter((s) => !seen.has(s.startedAt + JSON.stringify(s.response)));
    entry.steps = [...missing, ...entry.steps];
    entry.droppedSteps = Math.max(entry.droppedSteps, earlier?.droppedSteps ?? 0);
  }

  private async write(entry: Entry, retries = 2): Promise<void> {
    if (this.opts.store) return this.writeToStore(entry, this.opts.store);
    const { claims } = entry;
    const { kube } = this.opts;
    const name = trajectoryConfigMapName(claims.instance, claims.stage, claims.attempt);
    if (!entry.loaded) {
      try {
        const existing = await kube.getConfigMap(claims.namespace, name);
        this.mergeEarlier(entry, decodeTrajectory(existing.data?.[TRAJECTORY_KEY]));
        entry.resourceVersion = existing.metadata?.resourceVersion;
      } catch (err) {
        if (!isNotFound(err)) throw err;
        entry.resourceVersion = undefined;
      }
      entry.loaded = true;
    }
    const { instance, run } = await this.instanceAndRun(claims);
    const { data, payload } = encodeTrajectory({
      instanceId: claims.instanceId,
      stage: claims.stage as never,
      attempt: claims.attempt,
      droppedSteps: entry.droppedSteps,
      steps: entry.steps,
    });
    entry.steps = payload.steps;
    entry.droppedSteps = payload.droppedSteps;
    const body = {
      metadata: {
        name,
        namespace: claims.namespace,
        ...(entry.resourceVersion && { resourceVersion: entry.resourceVersion }),
        labels: {
          [LABEL_MANAGED_BY]: MANAGED_BY,
          [LABEL_TRAJECTORY]: 'true',
          [LABEL_RUN]: labelValue(run.metadata.name ?? ''),
          [LABEL_INSTANCE]: labelValue(claims.instance),
          [LABEL_STAGE]: claims.stage,
          [LABEL_ATTEMPT]: String(claims.attempt),
        },
        annotations: { [ANNOTATION_DROPPED]: String(payload.droppedSteps) },
        ownerReferences: [controllerRef(instance as never)],
      },
      data: { [TRAJECTORY_KEY]: data },
    };
    try {
      const written = entry.resourceVersion
        ? await kube.replaceConfigMap(claims.namespace, body)
        : await kube.createConfigMap(claims.namespace, body);
      entry.resourceVersion = written.metadata?.resourceVersion;
    } catch (err) {
      if (retries > 0 && (isConflict(err) || isAlreadyExists(err))) {
        entry.loaded = false;
        return this.write(entry, retries - 1);
      }
      throw err;
    }
  }
}
