// Shared by the e2e files: kubectl and helm against the tier's node cluster, and the
// operator installed from charts/ the way a user installs it.
import { execFile, execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { bin, REPO_ROOT } from '../cluster/lib.ts';
import { cluster, kubectl } from '../integration/support.ts';

export const RELEASE = 'scaleswe-operator';

export function k(args: string[], input?: string): string {
  const r = kubectl(args, input);
  if (r.code !== 0) throw new Error(`kubectl ${args.join(' ')} exited ${r.code}: ${r.stderr || r.stdout}`);
  return r.stdout;
}

/** kubectl without blocking the event loop (spawnSync would stall an in-process git server). */
export function kubectlAsync(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const c = cluster();
  return new Promise((resolve) => {
    execFile(c.kubectl, ['--kubeconfig', c.kubeconfig, ...args], (err, stdout, stderr) =>
      resolve({ code: err ? Number((err as { code?: number }).code ?? 1) : 0, stdout, stderr }),
    );
  });
}

export function helm(args: string[]): string {
  return execFileSync(bin('helm'), ['--kubeconfig', cluster().kubeconfig, ...args], {
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'pipe'],
  });
}

/** The operator pods' state and last log lines, for failure messages. */
export function operatorDiagnostics(ns: string): string {
  const pods = kubectl(['get', 'pods', '-n', ns, '-o', 'wide']).stdout;
  const logs = kubectl([
    'logs',
    '-n',
    ns,
    '-l',
    'app.kubernetes.io/name=scaleswe-operator',
    '--tail=40',
    '--prefix',
  ]);
  return `${pods}\n${logs.stdout}${logs.stderr}`;
}

/** `helm install` of the chart with the locally built image; waits for the rollout. Returns
 * what helm printed (the release notes among it). */
export function installOperator(
  namespace: string,
  image: { repository: string; tag: string },
  sets: string[] = [],
): string {
  const values = [
    // The tier's global setup installed crds/ already (the same files the chart carries).
    'crds.install=false',
    `image.repository=${image.repository}`,
    `image.tag=${image.tag}`,
    'image.pullPolicy=Never',
    'resources.requests.cpu=50m',
    `logLevel=${process.env.SCALESWE_E2E_LOG_LEVEL ?? 'info'}`,
    ...sets,
  ];
  const chart = join(REPO_ROOT, 'charts/scaleswe-operator');
  try {
    return helm([
      'install',
      RELEASE,
      chart,
      '-n',
      namespace,
      ...values.flatMap((v) => ['--set', v]),
      '--wait',
      '--timeout',
      '180s',
    ]);
  } catch (e) {
    throw new Error(`helm install failed: ${(e as Error).message}\n${operatorDiagnostics(namespace)}`);
  }
}

export function uninstallOperator(namespace: string): void {
  try {
    helm(['uninstall', RELEASE, '-n', namespace, '--wait', '--timeout', '60s']);
  } catch {
    // best effort: the namespace goes next
  }
}
