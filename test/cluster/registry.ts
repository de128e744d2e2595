import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  digestLayerFile,
  parseImageRef,
  type RegistryClient,
} from '../../operator/src/registry/oci-registry.ts';
import { ensurePackages } from './cluster.ts';
import { freePort, type ProcRecord, run, startDaemon, stopProcess, waitFor } from './lib.ts';

/**
 * A real OCI registry for tests: Debian's `docker-registry` (CNCF distribution v2), plain HTTP
 * on `host`, deletes enabled, storage in a temp dir, optionally behind htpasswd (bcrypt, from
 * apache2-utils). Installed by this setup when missing.
 */
export interface TestRegistry {
  /** host:port */
  host: string;
  stop(): Promise<void>;
}

export async function startRegistry(
  opts: { bindHost?: string; user?: { username: string; password: string } } = {},
): Promise<TestRegistry> {
  ensurePackages(['docker-registry', ...(opts.user ? ['apache2-utils'] : [])]);
  const bindHost = opts.bindHost ?? '127.0.0.1';
  const port = await freePort(bindHost);
  const dir = mkdtempSync(join(tmpdir(), 'scaleswe-registry-'));
  const auth = opts.user
    ? (() => {
        const file = join(dir, 'htpasswd');
        run('htpasswd', ['-Bbc', file, opts.user.username, opts.user.password]);
        return `auth:\n  htpasswd:\n    realm: scaleswe-test\n    path: ${file}\n`;
      })()
    : '';
  const config = join(dir, 'config.yml');
  writeFileSync(
    config,
    `version: 0.1
log:
  level: warn
storage:
  filesystem:
    rootdirectory: ${join(dir, 'data')}
  delete:
    enabled: true
http:
  addr: ${bindHost}:${port}
${auth}`,
  );
  const proc: ProcRecord = startDaemon(
    'registry',
    'docker-registry',
    ['serve', config],
    join(dir, 'registry.log'),
  );
  const host = `${bindHost}:${port}`;
  await waitFor(`registry on ${host}`, 30_000, async () => {
    const res = await fetch(`http://${host}/v2/`);
    return res.status === 200 || res.status === 401 ? true : undefined;
  });
  return {
    host,
    async stop() {
      await stopProcess(proc);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

const sha = (b: Buffer) => `sha256:${createHash('sha256').update(b).digest('hex')}`;

/** A gzip tar of `files` (relative path → content) made by GNU tar, as the build pod makes it. */
export function layerOf(dir: string, name: string, files: Record<string, string>): string {
  const root = join(dir, `${name}-root`);
  for (const [path, content] of Object.entries(files)) {
    mkdirSync(join(root, path, '..'), { recursive: true });
    writeFileSync(join(root, path), content);
  }
  const out = join(dir, `${name}.tar.gz`);
  execFileSync('tar', ['-C', root, '-czf', out, '.']);
  return out;
}

export const OCI_MANIFEST = 'application/vnd.oci.image.manifest.v1+json';
export const DOCKER_MANIFEST = 'application/vnd.docker.distribution.manifest.v2+json';

/** Pushes a one-layer base image (what `podman push` of a sandbox image leaves in a registry). */
export async function pushBase(client: RegistryClient, ref: string, layerFile: string, mediaType: string) {
  const r = parseImageRef(ref);
  const layer = await digestLayerFile(layerFile);
  const bytes = readFileSync(layerFile);
  await client.putBlob(r.registry, r.repository, layer.digest, layer.size, () => bytes);
  const config = Buffer.from(
    JSON.stringify({
      architecture: 'amd64',
      os: 'linux',
      config: { Env: ['PATH=/usr/bin:/bin'], Cmd: ['sh'] },
      rootfs: { type: 'layers', diff_ids: [layer.diffId] },
    }),
  );
  const configType =
    mediaType === OCI_MANIFEST
      ? 'application/vnd.oci.image.config.v1+json'
      : 'application/vnd.docker.container.image.v1+json';
  await client.putBlob(r.registry, r.repository, sha(config), config.length, () => config);
  const layerType =
    mediaType === OCI_MANIFEST
      ? 'application/vnd.oci.image.layer.v1.tar+gzip'
      : 'application/vnd.docker.image.rootfs.diff.tar.gzip';
  return client.putManifest(r, {
    schemaVersion: 2,
    mediaType,
    config: { mediaType: configType, digest: sha(config), size: config.length },
    layers: [{ mediaType: layerType, digest: layer.digest, size: layer.size }],
  });
}
