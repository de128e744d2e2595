// Installs crds/*.yaml into a running cluster and waits until every CRD is Established.
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';
import { type ClusterState, kubectl } from './cluster.ts';
import { REPO_ROOT } from './lib.ts';

export function crdFiles(): string[] {
  const dir = join(REPO_ROOT, 'crds');
  return readdirSync(dir)
    .filter((f) => f.endsWith('.yaml'))
    .sort()
    .map((f) => join(dir, f));
}

/** Applies every CRD (server-side) and waits for Established; throws with the server's message. */
export function installCrds(s: ClusterState, timeoutSeconds = 60): string[] {
  const names: string[] = [];
  for (const file of crdFiles()) {
    const r = kubectl(s, ['apply', '--server-side', '--force-conflicts', '-f', file]);
    if (r.code !== 0) {
      throw new Error(`the API server rejected ${file}:\n${(r.stderr || r.stdout).trim()}`);
    }
    const doc = parse(readFileSync(file, 'utf8')) as { metadata?: { name?: string } };
    if (doc.metadata?.name) names.push(doc.metadata.name);
  }
  const w = kubectl(s, [
    'wait',
    '--for=condition=Established',
    `--timeout=${timeoutSeconds}s`,
    ...names.map((n) => `crd/${n}`),
  ]);
  if (w.code !== 0) throw new Error(`CRDs not Established: ${(w.stderr || w.stdout).trim()}`);
  return names;
}
