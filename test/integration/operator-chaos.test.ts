// Chaos: the operator is SIGKILLed at least 10 times and the kube-apiserver restarted once
// during a run; no instance is lost or duplicated and no stage runs twice. Recovery times are
// printed, never asserted (they measure the machine as much as the operator). The duration is
// dominated by the ten operator starts (a fresh node process each) and five lease expiries,
// not by the instance count: SCALESWE_CHAOS_INSTANCES sets it (default 60);
// bench/operator-chaos.ts runs 200.
import { describe, expect, it } from 'vitest';
import { runChaos, spread } from './chaos.ts';
import { cluster, useTestNamespace } from './support.ts';

const ns = useTestNamespace('chaos');
const INSTANCES = Number(process.env.SCALESWE_CHAOS_INSTANCES ?? 60);
const KILLS = 10;

describe('chaos', () => {
  it(`${INSTANCES} instances survive ${KILLS} SIGKILLs of the operator and an API server restart`, {
    timeout: 600_000,
  }, async () => {
    const { name: namespace } = ns();
    const lines: string[] = [];
    const result = await runChaos({
      kubeconfig: cluster().kubeconfig,
      namespace,
      clusterName: cluster().clusterName,
      instances: INSTANCES,
      kills: KILLS,
      say: (line) => {
        lines.push(line);
        process.stderr.write(`${line}\n`);
      },
      timeoutMs: 540_000,
    });
    const kills = result.recoveries.filter((r) => r.leaderMs !== undefined);
    process.stderr.write(
      `[chaos] ${INSTANCES} instances in ${(result.wallMs / 1000).toFixed(1)} s, ${result.operatorStarts} operator starts, ` +
        `${result.stageRuns} stage runs; recovery after SIGKILL: leader ${spread(kills.map((r) => r.leaderMs!))}; ` +
        `progress ${spread(kills.map((r) => r.progressMs))}\n`,
    );

    expect(result.kills).toBeGreaterThanOrEqual(10);
    expect(result.apiServerRestarts).toBe(1);
    // 0 lost, 0 duplicated: exactly one instance per PR, each Verified.
    const ids = result.instances.map((i) => i.spec.instanceId).sort();
    expect(ids).toEqual(Array.from({ length: INSTANCES }, (_, k) => `acme__widgets-${k + 1}`).sort());
    expect(
      result.instances.filter((i) => i.status?.phase !== 'Verified').map((i) => i.metadata.name),
    ).toEqual([]);
    expect(result.run.status?.counts).toMatchObject({
      discovered: INSTANCES,
      instances: INSTANCES,
      verified: INSTANCES,
      running: 0,
    });
    // No stage ran twice: restarts adopt the pods their predecessors created.
    for (const i of result.instances)
      expect(i.status?.attempts, i.metadata.name).toEqual({ env: 1, tests: 1, prompt: 1, verify: 1 });
    expect(result.stageRuns).toBe(4 * INSTANCES);
  });
});
