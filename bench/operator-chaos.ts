/**
 * Benchmark: the chaos run of test/integration/operator-chaos.test.ts at full size — the real
 * operator curates 200 instances while it is SIGKILLed 10 times and the kube-apiserver is
 * restarted once. Prints each fault's recovery time (until a new leader, until the first
 * instance write) and checks that nothing was lost or duplicated.
 *
 *   npm run bench:operator-chaos [-- --instances 200 --kills 10]
 *
 * Starts its own control plane (test/cluster, control-plane mode) and stops it afterwards.
 */
import { parseArgs } from 'node:util';
import { Kube } from '../operator/src/kube/index.ts';
import { down, status, up } from '../test/cluster/cluster.ts';
import { installCrds } from '../test/cluster/crds.ts';
import { runChaos, spread } from '../test/integration/chaos.ts';

const { values: args } = parseArgs({
  options: {
    instances: { type: 'string', default: '200' },
    kills: { type: 'string', default: '10' },
  },
});
const instances = Number(args.instances);
const name = 'scaleswe-bench-chaos';
const wasUp = (await status(name)).up;
const state = await up({ name, mode: 'control-plane' });
try {
  installCrds(state);
  const namespace = `chaos-${Date.now().toString(36)}`;
  await new Kube({ kubeconfig: state.kubeconfig }).createNamespace(namespace);
  const result = await runChaos({
    kubeconfig: state.kubeconfig,
    namespace,
    clusterName: name,
    instances,
    kills: Number(args.kills),
    say: (line) => console.log(line),
    timeoutMs: 3_600_000,
  });
  const ids = new Set(result.instances.map((i) => i.spec.instanceId));
  const verified = result.instances.filter((i) => i.status?.phase === 'Verified').length;
  const kills = result.recoveries.filter((r) => r.leaderMs !== undefined);
  console.log(
    [
      `instances: ${result.instances.length} (${ids.size} distinct, ${instances - ids.size} lost, ${result.instances.length - ids.size} duplicated), ${verified} Verified`,
      `stage runs: ${result.stageRuns} (${4 * instances} without repeats)`,
      `faults: ${result.kills} SIGKILLs, ${result.apiServerRestarts} kube-apiserver restart; ${result.operatorStarts} operator starts`,
      `recovery after SIGKILL, until a leader: ${spread(kills.map((r) => r.leaderMs!))}`,
      `recovery after SIGKILL, until an instance progresses: ${spread(kills.map((r) => r.progressMs))}`,
      ...result.recoveries
        .filter((r) => r.leaderMs === undefined)
        .map((r) => `${r.what}: progress after ${r.progressMs} ms`),
      `wall time: ${(result.wallMs / 1000).toFixed(1)} s`,
    ].join('\n'),
  );
} finally {
  if (!wasUp) await down(name);
}
