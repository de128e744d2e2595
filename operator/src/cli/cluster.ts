import { setTimeout as sleep } from 'node:timers/promises';
import {
  CURATIONRUNS,
  CurationRunStatus,
  type InstanceRecord,
  STAGES,
  SWEINSTANCES,
  SWEInstanceSpec,
  SWEInstanceStatus,
  type Trajectory,
} from '../api/index.ts';
import type { ExportOptions } from '../export/export-run.ts';
import { Kube, type KubeObject } from '../kube/index.ts';
import {
  decodeTrajectory,
  LABEL_TRAJECTORY,
  TRAJECTORY_KEY,
  trajectoriesOf,
} from '../llm/trajectory-config-map.ts';
import { LABEL_RUN, labelValue } from '../sandbox/index.ts';
import { writeExport } from './export.ts';

interface RawObject extends KubeObject {
  spec?: unknown;
  status?: unknown;
}

export interface ClusterRun {
  name: string;
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
  return { name, status: status.success ? status.data : {}, instances };
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
 * A run's LLM exchanges, from the trajectory ConfigMaps the operator's gateway writes (one
 * per instance, stage and attempt), ordered by instance, stage, attempt.
 */
export async function readClusterTrajectories(
  kube: Kube,
  namespace: string,
  name: string,
): Promise<Trajectory[]> {
  const list = await kube.listConfigMaps(
    namespace,
    `${LABEL_RUN}=${labelValue(name)},${LABEL_TRAJECTORY}=true`,
  );
  const payloads = list.items.flatMap((cm) => {
    const payload = decodeTrajectory(cm.data?.[TRAJECTORY_KEY]);
    return payload ? [payload] : [];
  });
  const order: readonly string[] = STAGES;
  payloads.sort(
    (a, b) =>
      a.instanceId.localeCompare(b.instanceId) ||
      order.indexOf(a.stage) - order.indexOf(b.stage) ||
      a.attempt - b.attempt,
  );
  return payloads.flatMap(trajectoriesOf);
}

/** The record of a cluster run: its status counts, its SWEInstances, the gateway's trajectories. */
export async function exportCluster(
  kube: Kube,
  namespace: string,
  name: string,
  outDir: string,
  options: ExportOptions = {},
) {
  const run = await readClusterRun(kube, namespace, name);
  return writeExport(
    outDir,
    {
      runName: name,
      discovered: run.status.counts?.discovered ?? run.instances.length,
      rejectedByReason: run.status.rejectedByReason ?? {},
      instances: run.instances,
      trajectories: await readClusterTrajectories(kube, namespace, name),
    },
    options,
  );
}

export function connect(kubeconfig: string | undefined): Kube {
  return new Kube(kubeconfig ? { kubeconfig } : {});
}
