// Runs the real operator (node operator/src/operator.ts) as a child process against the test
// cluster, and plays the kubelet's part for its sandbox pods (no kubelet in control-plane
// mode): a pod is marked Succeeded with the result envelope as its termination message.
import { type ChildProcess, spawn } from 'node:child_process';
import { join } from 'node:path';
import type { V1Pod } from '@kubernetes/client-node';
import { afterEach } from 'vitest';
import { StageInput, type StageResultArg } from '../../operator/src/api/index.ts';
import type { Kube } from '../../operator/src/kube/index.ts';
import { runStageProcess } from '../../operator/src/local/executor.ts';
import {
  decodeStageInputFile,
  encodeResultEnvelope,
  LABEL_MANAGED_BY,
  LABEL_STAGE,
  MANAGED_BY,
  STAGE_INPUT_ANNOTATION,
  STAGE_INPUT_KEY,
  stageInputSecretName,
} from '../../operator/src/sandbox/index.ts';
import { cluster } from './support.ts';

const ROOT = join(import.meta.dirname, '../..');
/** Where the operators of this tier keep bare clones of git sources (--git-cache-dir). */
export const GIT_CACHE_DIR = join(ROOT, 'node_modules/.cache/scaleswe-it-git');

export interface OperatorProcess {
  proc: ChildProcess;
  identity: string;
  /** Date.now() when it was spawned. */
  startedAt: number;
  logs: Array<Record<string, unknown>>;
  /** Waits for a matching line; the default timeout is generous (a liveness bound, not a speed bound). */
  waitForLog(
    pred: (line: Record<string, unknown>) => boolean,
    timeoutMs?: number,
  ): Promise<Record<string, unknown>>;
  /** Resolves with the exit code (or signal) when the process ends. */
  exited: Promise<number | string>;
}

export function startOperator(opts: {
  kubeconfig: string;
  namespace: string;
  identity: string;
  leaseDurationSeconds?: number;
  extraArgs?: string[];
  /** More environment (e.g. the dataset store's AWS_* credentials). */
  env?: Record<string, string>;
}): OperatorProcess {
  const args = [
    join(ROOT, 'operator/src/operator.ts'),
    '--kubeconfig',
    opts.kubeconfig,
    '--namespace',
    opts.namespace,
    '--leader-election-namespace',
    opts.namespace,
    '--identity',
    opts.identity,
    '--metrics-port',
    '0',
    '--lease-duration',
    String(opts.leaseDurationSeconds ?? 4),
    '--renew-deadline',
    String(Math.max(1, (opts.leaseDurationSeconds ?? 4) - 1)),
    '--retry-period',
    '0.5',
    '--git-cache-dir',
    GIT_CACHE_DIR,
    ...(opts.extraArgs ?? []),
  ];
  const startedAt = Date.now();
  const proc = spawn(process.execPath, args, {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, LOG_LEVEL: 'debug', ...opts.env },
  });
  const logs: Array<Record<string, unknown>> = [];
  const waiters: Array<{
    pred: (l: Record<string, unknown>) => boolean;
    resolve: (l: Record<string, unknown>) => void;
  }> = [];
  let buffer = '';
  proc.stdout?.on('data', (chunk: Buffer) => {
    buffer += chunk.toString();
    const lines = buffer.split('\n');
    buffer = lines.pop() ?? '';
    for (const text of lines) {
      if (!text.trim()) continue;
      let line: Record<string, unknown>;
      try {
        line = JSON.parse(text);
      } catch {
        line = { msg: text };
      }
      logs.push(line);
      for (const w of [...waiters]) {
        if (w.pred(line)) {
          waiters.splice(waiters.indexOf(w), 1);
          w.resolve(line);
        }
      }
    }
  });
  let stderr = '';
  proc.stderr?.on('data', (chunk: Buffer) => {
    stderr += chunk.toString();
  });
  const exited = new Promise<number | string>((resolve) =>
    proc.on('exit', (code, signal) => resolve(code ?? signal ?? -1)),
  );
  return {
    proc,
    identity: opts.identity,
    startedAt,
    logs,
    exited,
    waitForLog(pred, timeoutMs = 180_000) {
      const hit = logs.find(pred);
      if (hit) return Promise.resolve(hit);
      return new Promise((resolve, reject) => {
        const timer = setTimeout(
          () =>
            reject(
              new Error(
                `operator ${opts.identity}: no matching log line in ${timeoutMs} ms; stderr: ${stderr.slice(-2000)}`,
              ),
            ),
          timeoutMs,
        );
        waiters.push({
          pred,
          resolve: (l) => {
            clearTimeout(timer);
            resolve(l);
          },
        });
      });
    },
  };
}

/** A StageResult an agent would return for `stage`, succeeding with plausible data. */
export function succeededResult(stage: string): StageResultArg {
  const base = { outcome: 'succeeded' as const, reason: 'Done', message: `${stage} done`, durationMs: 5 };
  switch (stage) {
    case 'env':
      return {
        ...base,
        stage: 'env',
        recipe: { setupScript: 'pip install -e .', testCommand: 'pytest -rA', resultFormat: 'pytest' },
      };
    case 'tests':
      return {
        ...base,
        stage: 'tests',
        testsSource: 'pr',
        FAIL_TO_PASS: ['tests/test_m.py::test_f'],
        PASS_TO_PASS: [],
      };
    case 'prompt':
      return {
        ...base,
        stage: 'prompt',
        problemStatement: 'f returns the wrong value',
        problemStatementSource: 'pr',
      };
    default:
      return { ...base, stage: 'verify', FAIL_TO_PASS: ['tests/test_m.py::test_f'], PASS_TO_PASS: [] };
  }
}

export type PodVerdict =
  | { phase: 'Succeeded'; result: StageResultArg }
  /** A pod whose result is a raw termination message of `container` (an environment image build). */
  | { phase: 'Succeeded'; container: string; terminationMessage: string }
  | { phase: 'Failed'; reason?: string; exitCode?: number; message?: string }
  | 'skip';

/**
 * Plays the kubelet: every pending sandbox pod gets the verdict `decide` returns. Runs until
 * stopped; returns how many pods it finished.
 */
export function fakeKubelet(
  kube: Kube,
  namespace: string,
  decide: (pod: { name: string; stage: string }) => PodVerdict = (p) => ({
    phase: 'Succeeded',
    result: succeededResult(p.stage),
  }),
  intervalMs = 100,
  /** A pod `decide` chose whose status write failed (the API server was down): it is decided again later. */
  onWriteFailed: (pod: { name: string }) => void = () => {},
): { stop: () => Promise<number>; finished: () => number; pods: V1Pod[] } {
  let running = true;
  let finished = 0;
  const seenPods: V1Pod[] = [];
  const seen = new Set<string>();
  const loop = (async () => {
    while (running) {
      const pods = await kube
        .listPods(namespace, `${LABEL_MANAGED_BY}=${MANAGED_BY}`)
        .catch(() => ({ items: [] }));
      await Promise.all(
        pods.items.map(async (pod) => {
          const name = pod.metadata?.name ?? '';
          if (seen.has(name) || pod.status?.phase === 'Succeeded' || pod.status?.phase === 'Failed') return;
          if (pod.metadata?.deletionTimestamp) return;
          const verdict = decide({ name, stage: pod.metadata?.labels?.[LABEL_STAGE] ?? '' });
          if (verdict === 'skip') return;
          seen.add(name);
          seenPods.push(pod);
          const now = new Date();
          const terminated =
            verdict.phase === 'Succeeded'
              ? {
                  exitCode: 0,
                  reason: 'Completed',
                  message:
                    'result' in verdict ? encodeResultEnvelope(verdict.result) : verdict.terminationMessage,
                  startedAt: now,
                  finishedAt: now,
                }
              : {
                  exitCode: verdict.exitCode ?? 1,
                  reason: verdict.reason ?? 'Error',
                  message: verdict.message ?? 'agent crashed',
                  startedAt: now,
                  finishedAt: now,
                };
          await kube
            .setPodStatus(namespace, name, {
              phase: verdict.phase,
              startTime: now,
              containerStatuses: [
                {
                  name: 'container' in verdict ? verdict.container : 'agent',
                  image: 'x',
                  imageID: '',
                  ready: false,
                  restartCount: 0,
                  state: { terminated },
                },
              ],
            })
            .then(
              () => {
                finished++;
              },
              () => {
                seen.delete(name);
                onWriteFailed({ name });
              },
            );
        }),
      );
      await new Promise((r) => setTimeout(r, intervalMs));
    }
  })();
  return {
    finished: () => finished,
    pods: seenPods,
    stop: async () => {
      running = false;
      await loop;
      return finished;
    },
  };
}

/**
 * Registers an afterEach that SIGKILLs every operator a test started; returns the starter
 * (one operator process per call, against the tier's cluster).
 */
export function useOperators(): (
  namespace: string,
  identity: string,
  extraArgs?: string[],
) => OperatorProcess {
  const running: OperatorProcess[] = [];
  afterEach(async () => {
    for (const op of running.splice(0)) {
      op.proc.kill('SIGKILL');
      await op.exited;
    }
  });
  return (namespace, identity, extraArgs) => {
    const op = startOperator({
      kubeconfig: cluster().kubeconfig,
      namespace,
      identity,
      ...(extraArgs && { extraArgs }),
    });
    running.push(op);
    return op;
  };
}

/**
 * Plays a kubelet that really runs its pods' work: each sandbox pod's input (its Secret, or
 * its annotation when the pod carries it) is read and the agent runs as the local mode runs it (runStageProcess: bubblewrap, tests without
 * network), `parallel` at a time; the result envelope becomes the termination message.
 * Pods without their Secret yet wait (a kubelet holds them in ContainerCreating too).
 */
export function agentKubelet(
  kube: Kube,
  namespace: string,
  opts: { workRoot: string; cacheDir: string; parallel?: number; intervalMs?: number },
): { stop: () => Promise<number>; pods: V1Pod[]; inputs: Map<string, StageInput> } {
  let running = true;
  let finished = 0;
  let active = 0;
  const pods: V1Pod[] = [];
  const inputs = new Map<string, StageInput>();
  const seen = new Set<string>();
  const work: Promise<void>[] = [];
  const runPod = async (pod: V1Pod, input: StageInput) => {
    const name = pod.metadata?.name ?? '';
    const startTime = new Date();
    await kube.setPodStatus(namespace, name, { phase: 'Running', startTime });
    const result = await runStageProcess(input, {
      workDir: join(opts.workRoot, name),
      cacheDir: opts.cacheDir,
      timeoutSeconds: pod.spec?.activeDeadlineSeconds ?? 600,
      isolation: 'bwrap',
    });
    const now = new Date();
    await kube.setPodStatus(namespace, name, {
      phase: 'Succeeded',
      startTime,
      containerStatuses: [
        {
          name: 'agent',
          image: pod.spec?.containers[0]?.image ?? 'x',
          imageID: '',
          ready: false,
          restartCount: 0,
          state: {
            terminated: {
              exitCode: 0,
              reason: 'Completed',
              message: encodeResultEnvelope(result),
              startedAt: startTime,
              finishedAt: now,
            },
          },
        },
      ],
    });
    finished++;
  };
  const loop = (async () => {
    while (running) {
      const list = await kube
        .listPods(namespace, `${LABEL_MANAGED_BY}=${MANAGED_BY}`)
        .catch(() => ({ items: [] as V1Pod[] }));
      for (const pod of list.items) {
        const name = pod.metadata?.name ?? '';
        if (active >= (opts.parallel ?? 2)) break;
        const phase = pod.status?.phase;
        if (seen.has(name) || pod.metadata?.deletionTimestamp || (phase && phase !== 'Pending')) continue;
        const inline = pod.metadata?.annotations?.[STAGE_INPUT_ANNOTATION];
        const secret =
          inline === undefined
            ? await kube.readSecret(namespace, stageInputSecretName(name)).catch(() => undefined)
            : undefined;
        const data = inline ?? secret?.data?.[STAGE_INPUT_KEY];
        if (!data) continue;
        seen.add(name);
        pods.push(pod);
        const input = StageInput.parse(JSON.parse(decodeStageInputFile(Buffer.from(data, 'base64'))));
        inputs.set(name, input);
        active++;
        work.push(
          runPod(pod, input)
            .catch((err) => {
              process.stderr.write(`agentKubelet: ${name}: ${err}\n`);
            })
            .finally(() => {
              active--;
            }),
        );
      }
      await new Promise((r) => setTimeout(r, opts.intervalMs ?? 200));
    }
  })();
  return {
    pods,
    inputs,
    stop: async () => {
      running = false;
      await loop;
      await Promise.all(work);
      return finished;
    },
  };
}
