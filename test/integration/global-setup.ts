// Integration tier: one real control plane (etcd + kube-apiserver built from source) per run,
// with crds/ installed. Tests get its kubeconfig through inject('cluster').
// SCALESWE_KEEP_CLUSTER=1 leaves it running afterwards; a cluster that was already up before
// the run is reused and left running.
import type { TestProject } from 'vitest/node';
import { down, readState, status, up } from '../cluster/cluster.ts';
import { installCrds } from '../cluster/crds.ts';
import { bin } from '../cluster/lib.ts';
import type { ClusterContext } from './provided.ts';

const OWNER = 'vitest-integration';

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const name = process.env.SCALESWE_IT_CLUSTER ?? 'scaleswe-it';
  // A cluster started by hand (cluster.ts up) is reused and left running; one that a killed
  // test run left behind is replaced, so every run starts from a clean cluster.
  if (readState(name)?.owner === OWNER) await down(name);
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
