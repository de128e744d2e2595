// e2e tier: a real single-node cluster (kubelet + containerd + runc + bridge CNI + kube-proxy)
// with crds/ installed and the sandbox images built locally and imported into containerd.
// SCALESWE_SANDBOX_IMAGES=all also builds rust/java (default: python,node,go).
// SCALESWE_KEEP_CLUSTER=1 leaves the cluster running; one started by hand under the same name
// (cluster.ts up --mode node --name scaleswe-e2e) is reused and left running.
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { TestProject } from 'vitest/node';
import { type ClusterState, down, reapOrphans, status, up } from '../cluster/cluster.ts';
import { installCrds } from '../cluster/crds.ts';
import { ensureSandboxImages, langsFromEnv } from '../cluster/images.ts';
import { acquireLock, bin, CACHE_ROOT } from '../cluster/lib.ts';
import type { ClusterContext } from '../integration/provided.ts';

const OWNER = 'vitest-e2e';

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  // There is one node per machine: e2e runs take turns (a lock held for the whole run; a
  // dead holder's lock is taken over), and clusters of killed runs are removed first.
  mkdirSync(join(CACHE_ROOT, 'cluster'), { recursive: true });
  const release = await acquireLock(
    join(CACHE_ROOT, 'cluster', 'node.lock'),
    'e2e node',
    Number(process.env.SCALESWE_E2E_LOCK_WAIT_SECONDS ?? 1800) * 1000,
  );
  await reapOrphans('vitest-');
  const name = process.env.SCALESWE_E2E_CLUSTER ?? 'scaleswe-e2e';
  const wasUp = (await status(name)).up;
  const t0 = Date.now();
  let s: ClusterState;
  try {
    s = await up({ name, mode: 'node', owner: OWNER });
  } catch (e) {
    release();
    throw e;
  }
  const teardown = async () => {
    try {
      if (!wasUp && process.env.SCALESWE_KEEP_CLUSTER !== '1') await down(name);
    } finally {
      release();
    }
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
