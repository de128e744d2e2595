// Integration tier: one real control plane (etcd + kube-apiserver built from source) per run,
// with crds/ installed. Tests get its kubeconfig through inject('cluster').
// SCALESWE_KEEP_CLUSTER=1 leaves it running afterwards.
import type { TestProject } from 'vitest/node';
import { down, pruneStoppedClusters, reapOrphans, status, up } from '../cluster/cluster.ts';
import { installCrds } from '../cluster/crds.ts';
import { bin } from '../cluster/lib.ts';
import type { ClusterContext } from './provided.ts';

const OWNER = 'vitest-integration';

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  // Clusters of killed test runs are removed; then this run gets its own control plane
  // (random ports, so concurrent runs do not meet). SCALESWE_IT_CLUSTER names a cluster to
  // use instead: one started by hand (cluster.ts up --name N) is reused and left running.
  await reapOrphans('vitest-');
  pruneStoppedClusters(/^it-\d+$/); // earlier runs' logs; the last run's stay until the next
  const name = process.env.SCALESWE_IT_CLUSTER ?? `it-${process.pid}`;
  const wasUp = (await status(name)).up;
  const t0 = Date.now();
  const s = await up({ name, mode: 'control-plane', owner: OWNER });
  const teardown = async () => {
    if (wasUp || process.env.SCALESWE_KEEP_CLUSTER === '1') return;
    await down(name);
  };
  try {
    installCrds(s);
  } catch (e) {
    await teardown();
    throw e;
  }
  process.stderr.write(`[integration] control plane '${name}' ready with CRDs in ${Date.now() - t0} ms\n`);
  const ctx: ClusterContext = {
    kubeconfig: s.kubeconfig,
    clusterName: name,
    kubectl: bin('kubectl'),
    server: s.server,
    mode: s.mode,
    images: [],
  };
  project.provide('cluster', ctx);
  return teardown;
}
