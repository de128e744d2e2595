// A chaos run, shared by the integration test (operator-chaos.test.ts) and the benchmark
// (bench/operator-chaos.ts): the real operator curates a run mined from a real git repository
// while it is SIGKILLed again and again and the kube-apiserver is restarted once. The test
// process plays the kubelet (control-plane mode runs no pods) and, like a Deployment, keeps an
// operator running: a killed or exited operator is replaced. Every other replacement keeps the
// identity (a container restarted in its pod: it takes its own lease back at once); the others
// get a new one (a new pod: it waits for the dead leader's lease to expire).
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { CurationRun, SWEInstance } from '../../operator/src/api/index.ts';
import { CURATIONRUNS, SWEINSTANCES } from '../../operator/src/api/index.ts';
import type { RawObject } from '../../operator/src/controller/resources.ts';
import { collectionPath, createLogger, Informer, Kube } from '../../operator/src/kube/index.ts';
import { restartApiServer } from '../cluster/cluster.ts';
import { createSquashHistory } from './git-history.ts';
import { fakeKubelet, type OperatorProcess, startOperator, succeededResult } from './operator-harness.ts';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export interface ChaosOptions {
  kubeconfig: string;
  namespace: string;
  /** The cluster whose kube-apiserver is restarted (test/cluster state name). */
  clusterName: string;
  instances: number;
  kills: number;
  maxParallel?: number;
  leaseDurationSeconds?: number;
  /** Progress lines (the benchmark prints them; the test keeps them for its failure message). */
  say?: (line: string) => void;
  /** Gives up after this long (a stuck run must fail, not hang). */
  timeoutMs?: number;
}

export interface Recovery {
  what: string;
  /** From the fault until a new operator process holds the lease (kills only). */
  leaderMs?: number;
  /** From the fault until the first instance status write after that. */
  progressMs: number;
}

export interface ChaosResult {
  run: CurationRun;
  instances: Array<SWEInstance & { metadata: { name: string } }>;
  kills: number;
  apiServerRestarts: number;
  operatorStarts: number;
  stageRuns: number;
  recoveries: Recovery[];
  wallMs: number;
}

type Run = CurationRun & { metadata: { name: string } };

export async function runChaos(opts: ChaosOptions): Promise<ChaosResult> {
  const { kubeconfig, namespace, instances: n } = opts;
  const say = opts.say ?? (() => {});
  const kube = new Kube({ kubeconfig });
  const repo = createSquashHistory(join(mkdtempSync(join(tmpdir(), 'chaos-')), 'repo.git'), n);

  // Instance writes as the test sees them through a watch: progress and recovery.
  const instanceWrites: number[] = [];
  const watch = new Informer<RawObject>({
    name: 'chaos-instances',
    kube,
    path: collectionPath(SWEINSTANCES, namespace),
    list: () => kube.list<RawObject>(SWEINSTANCES, namespace),
    log: createLogger({ level: 'silent', name: 'chaos' }),
  });
  watch.onEvent((_obj, event) => {
    if (event === 'update') instanceWrites.push(Date.now());
  });
  await watch.start();
  await watch.waitForSync();
  const verified = () =>
    watch.list().filter((i) => (i.status as SWEInstance['status'])?.phase === 'Verified').length;

  // The "Deployment": one operator at a time, replaced when it exits.
  const operators: OperatorProcess[] = [];
  let identity = 0;
  let stopped = false;
  const launch = (): void => {
    const op = startOperator({
      kubeconfig,
      namespace,
      identity: `chaos-${identity}`,
      leaseDurationSeconds: opts.leaseDurationSeconds ?? 3,
    });
    operators.push(op);
    void op.exited.then(async () => {
      if (stopped) return;
      await sleep(300); // the kubelet's restart delay, kept short
      if (!stopped && operators.at(-1) === op) launch();
    });
  };
  const current = () => operators.at(-1)!;
  const leaderAfter = async (t: number, what: string): Promise<number> => {
    for (const deadline = Date.now() + 120_000; Date.now() < deadline; await sleep(25)) {
      const op = current();
      if (op.startedAt >= t && op.proc.exitCode === null && op.logs.some((l) => l.msg === 'became leader'))
        return Date.now();
    }
    throw new Error(`no operator became leader within 120 s after ${what}`);
  };
  const progressAfter = async (t: number, what: string): Promise<number> => {
    for (const deadline = Date.now() + 120_000; Date.now() < deadline; await sleep(25)) {
      const w = instanceWrites.find((x) => x > t);
      if (w !== undefined) return w;
    }
    throw new Error(`no instance progressed within 120 s after ${what}`);
  };

  // The kubelet finishes pods up to a quota, raised after each fault: every kill lands with
  // work left to do, however fast or slow the machine is. A grant whose status write failed
  // (the API server restarting) is given back, or the quota would never be reached.
  let allowed = 0;
  let granted = 0;
  const kubelet = fakeKubelet(
    kube,
    namespace,
    ({ stage }) => {
      if (granted >= allowed) return 'skip';
      granted++;
      return { phase: 'Succeeded', result: succeededResult(stage) };
    },
    100,
    () => {
      granted--;
    },
  );
  const stageRuns = 4 * n;
  const t0 = Date.now();
  const recoveries: Recovery[] = [];
  let kills = 0;
  let apiServerRestarts = 0;
  try {
    launch();
    await kube.create(CURATIONRUNS, namespace, {
      apiVersion: 'scaleswe.dev/v1alpha1',
      kind: 'CurationRun',
      metadata: { name: 'chaos' },
      spec: {
        source: { git: { url: repo, repo: 'acme/widgets' } },
        limits: { maxPRs: n, maxParallel: Math.min(n, opts.maxParallel ?? 40) },
      },
    });
    const deadline = t0 + (opts.timeoutMs ?? 600_000);
    // The faults in order: the kills, with the API server restart half-way as one more fault.
    const faults = opts.kills + 1;
    const restartAt = Math.ceil(faults / 2);
    const quota = (f: number) => Math.floor((f * stageRuns) / (faults + 1));
    allowed = quota(1);
    for (let f = 1, i = 0; f <= faults; f++) {
      // Spread over the run: the f-th fault once f/(faults+1) of the stage pods have finished.
      // The kubelet is held at that quota until the fault has happened, so every fault lands
      // with work left to do and its recovery is measured by work done after it.
      while (kubelet.finished() < allowed) {
        if (Date.now() > deadline)
          throw new Error(`timed out at ${kubelet.finished()}/${stageRuns} stage pods`);
        await sleep(50);
      }
      const next = f === faults ? Number.POSITIVE_INFINITY : quota(f + 1);

      if (f === restartAt) {
        const tRestart = Date.now();
        const starts = operators.length;
        const { downMs } = await restartApiServer(opts.clusterName);
        apiServerRestarts++;
        allowed = next;
        // The operator cannot renew its lease while the API is down: it exits and is replaced,
        // or (a short outage) keeps leading. Either way recovery is the first instance write.
        const tProgress = await progressAfter(tRestart + downMs, 'the API server restart');
        const a = {
          what: `kube-apiserver restart (${downMs} ms until ready again; ${operators.length - starts} operator restarts)`,
          progressMs: tProgress - tRestart,
        };
        recoveries.push(a);
        say(`[chaos] ${a.what}: progress after ${a.progressMs} ms`);
        continue;
      }

      i++;
      const victim = current();
      const sameIdentity = i % 2 === 0;
      if (!sameIdentity) identity++;
      const tKill = Date.now();
      victim.proc.kill('SIGKILL');
      await victim.exited;
      kills++;
      const tLeader = await leaderAfter(tKill, `kill ${i}`);
      allowed = next;
      const tProgress = await progressAfter(tLeader, `kill ${i}`);
      const r = {
        what: `SIGKILL ${i} at ${verified()}/${n} verified (${sameIdentity ? 'same identity' : 'new identity'})`,
        leaderMs: tLeader - tKill,
        progressMs: tProgress - tKill,
      };
      recoveries.push(r);
      say(`[chaos] ${r.what}: leader after ${r.leaderMs} ms, progress after ${r.progressMs} ms`);
    }
    const run = await (async () => {
      for (;;) {
        const r = await kube.get<Run>(CURATIONRUNS, namespace, 'chaos').catch(() => undefined);
        if (r?.status?.phase === 'Succeeded') return r;
        if (Date.now() > deadline) throw new Error(`run not Succeeded: ${JSON.stringify(r?.status?.counts)}`);
        await sleep(250);
      }
    })();
    const wallMs = Date.now() - t0;
    const instances = (await kube.list<SWEInstance & { metadata: { name: string } }>(SWEINSTANCES, namespace))
      .items;
    return {
      run,
      instances,
      kills,
      apiServerRestarts,
      operatorStarts: operators.length,
      stageRuns: kubelet.finished(),
      recoveries,
      wallMs,
    };
  } finally {
    stopped = true;
    await kubelet.stop();
    for (const op of operators) {
      op.proc.kill('SIGKILL');
      await op.exited;
    }
    await watch.stop();
  }
}

/** min / median / max of a list of milliseconds, for printing. */
export function spread(ms: readonly number[]): string {
  const s = [...ms].sort((a, b) => a - b);
  if (s.length === 0) return 'none';
  return `min ${s[0]} ms, median ${s[Math.floor(s.length / 2)]} ms, max ${s.at(-1)} ms`;
}
