// e2e tier: a real single-node cluster (kubelet + containerd + runc + bridge CNI + kube-proxy)
// with crds/ installed and the sandbox images built locally and imported into containerd.
// SCALESWE_SANDBOX_IMAGES=all also builds go/rust/java (default: python,node).
// SCALESWE_KEEP_CLUSTER=1 leaves the cluster running; one started by hand under the same name
// (cluster.ts up --mode node --name scaleswe-e2e) is reused and left running.
import type { TestProject } from 'vitest/node';
import { down, readState, reapOrphans, status, up } from '../cluster/cluster.ts';
import { installCrds } from '../cluster/crds.ts';
import { ensureSandboxImages, langsFromEnv } from '../cluster/images.ts';
import { alive, bin } from '../cluster/lib.ts';
import type { ClusterContext } from '../integration/provided.ts';

const OWNER = 'vitest-e2e';

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  // There is one node per machine: clusters of killed test runs are removed first, and a
  // node another live test run is using is an error, not something to take over.
  await reapOrphans('vitest-');
  const name = process.env.SCALESWE_E2E_CLUSTER ?? 'scaleswe-e2e';
  const existing = readState(name);
  if (existing?.owner === OWNER && existing.ownerProc && alive(existing.ownerProc)) {
    throw new Error(`cluster '${name}' is in use by another e2e run (pid ${existing.ownerProc.pid})`);
  }
  const wasUp = (await status(name)).up;
  const t0 = Date.now();
  const s = await up({ name, mode: 'node', owner: OWNER });
  const teardown = async () => {
    if (wasUp || process.env.SCALESWE_KEEP_CLUSTER === '1') return;
    await down(name);
  };
  let images: string[];
  try {
    installCrds(s);
    const t1 = Date.now();
    images = ensureSandboxImages(s.host.containerdSocket!, langsFromEnv());
    process.stderr.write(`[e2e] images ready in ${Date.now() - t1} ms: ${images.join(', ')}\n`);
  } catch (e) {
    await teardown();
    throw e;
  }
  process.stderr.write(`[e2e] node cluster '${name}' ready in ${Date.now() - t0} ms\n`);
  const ctx: ClusterContext = {
    kubeconfig: s.kubeconfig,
    clusterName: name,
    kubectl: bin('kubectl'),
    server: s.server,
    mode: s.mode,
    images,
  };
  project.provide('cluster', ctx);
  return teardown;
}
