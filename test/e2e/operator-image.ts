// The operator image (Dockerfile at the repo root) built with podman on the local Debian
// base and imported into the node's containerd, cached like the sandbox images: the tag is
// a content hash of everything the Dockerfile copies, so an unchanged tree costs nothing.
import { createHash } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ensureBaseImage, importToContainerd } from '../cluster/images.ts';
import { log, REPO_ROOT, run } from '../cluster/lib.ts';

export const OPERATOR_REPOSITORY = 'docker.io/scaleswe/operator';
const PODMAN = ['--runtime', '/usr/sbin/runc', '--cgroup-manager', 'cgroupfs', '--events-backend', 'file'];

function hashTree(h: ReturnType<typeof createHash>, dir: string): void {
  // Tests and docs are not bundled: editing them must not cost an image build.
  for (const f of readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile() && !e.name.endsWith('.test.ts') && !e.name.endsWith('.md'))
    .map((e) => join(e.parentPath, e.name))
    .sort()) {
    h.update(f.slice(REPO_ROOT.length)).update('\0').update(readFileSync(f)).update('\0');
  }
}

/** Content key: Dockerfile, .dockerignore, lockfile, bundler, operator sources, base image. */
export function operatorImageKey(base: string): string {
  const h = createHash('sha256').update(base).update('\0');
  for (const f of ['Dockerfile', '.dockerignore', 'package.json', 'package-lock.json', 'tsconfig.json']) {
    h.update(f)
      .update('\0')
      .update(readFileSync(join(REPO_ROOT, f)))
      .update('\0');
  }
  hashTree(h, join(REPO_ROOT, 'scripts'));
  hashTree(h, join(REPO_ROOT, 'operator'));
  return h.digest('hex').slice(0, 12);
}

/** Every source change makes a new ~400 MB image: keep only the current e2e build. */
function pruneOtherBuilds(containerdSocket: string, keep: string): void {
  const prefix = `${OPERATOR_REPOSITORY}:e2e-`;
  const podmanRefs = run('podman', [...PODMAN, 'images', '--format', '{{.Repository}}:{{.Tag}}'], {
    allowFail: true,
  }).stdout.split('\n');
  const stale = podmanRefs.filter((r) => r.startsWith(prefix) && r !== keep);
  if (stale.length) run('podman', [...PODMAN, 'rmi', '--force', ...stale], { allowFail: true });
  const ctrRefs = run('ctr', ['--address', containerdSocket, '-n', 'k8s.io', 'images', 'ls', '-q'], {
    allowFail: true,
  }).stdout.split('\n');
  const staleCtr = ctrRefs.filter((r) => r.startsWith(prefix) && r !== keep);
  if (staleCtr.length)
    run('ctr', ['--address', containerdSocket, '-n', 'k8s.io', 'images', 'rm', ...staleCtr], {
      allowFail: true,
    });
  if (stale.length || staleCtr.length)
    log(`pruned older operator builds: ${[...new Set([...stale, ...staleCtr])].join(', ')}`);
  // Each build also leaves its ~700 MB builder stage untagged; a day keeps the layer cache warm.
  run('podman', [...PODMAN, 'image', 'prune', '--force', '--filter', 'until=24h'], { allowFail: true });
}

/** Builds (unless cached) and imports the operator image; returns its full reference. */
export function ensureOperatorImage(containerdSocket: string): {
  repository: string;
  tag: string;
  ref: string;
} {
  const base = ensureBaseImage();
  const tag = `e2e-${operatorImageKey(base)}`;
  const ref = `${OPERATOR_REPOSITORY}:${tag}`;
  const have = run('podman', [...PODMAN, 'image', 'exists', ref], { allowFail: true }).code === 0;
  if (!have) {
    const t0 = Date.now();
    log(`building ${ref} FROM ${base}`);
    run(
      'podman',
      [
        ...PODMAN,
        'build',
        '--pull=never',
        '--network=host',
        '--build-arg',
        `BASE_IMAGE=${base}`,
        '-t',
        ref,
        REPO_ROOT,
      ],
      { inherit: true, timeoutMs: 1_200_000 },
    );
    log(`built ${ref} in ${((Date.now() - t0) / 1000).toFixed(1)}s`);
  }
  importToContainerd(containerdSocket, ref);
  pruneOtherBuilds(containerdSocket, ref);
  return { repository: OPERATOR_REPOSITORY, tag, ref };
}
