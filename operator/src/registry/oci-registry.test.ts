import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensurePackages } from '../../../test/cluster/cluster.ts';
import { freePort } from '../../../test/cluster/lib.ts';
import {
  DOCKER_MANIFEST,
  layerOf,
  OCI_MANIFEST,
  pushBase,
  startRegistry,
  type TestRegistry,
} from '../../../test/cluster/registry.ts';
import {
  appendLayer,
  credentialsFromDockerConfig,
  digestLayerFile,
  parseImageRef,
  RegistryClient,
  RegistryError,
} from './oci-registry.ts';

const PODMAN = ['--runtime', '/usr/sbin/runc', '--cgroup-manager', 'cgroupfs', '--events-backend', 'file'];

describe('image references and credentials', () => {
  it('parses host, repository, tag and digest', () => {
    expect(parseImageRef('registry.local:5000/sandbox/python:0.1.0')).toEqual({
      registry: 'registry.local:5000',
      repository: 'sandbox/python',
      reference: '0.1.0',
    });
    expect(parseImageRef(`localhost/envs@sha256:${'a'.repeat(64)}`).reference).toBe(
      `sha256:${'a'.repeat(64)}`,
    );
    expect(parseImageRef('10.0.0.5:5000/envs').reference).toBe('latest');
    expect(() => parseImageRef('scaleswe/sandbox-python:0.1.0')).toThrow(/names no registry host/);
  });

  it('reads a dockerconfigjson with auth or username/password', () => {
    const creds = credentialsFromDockerConfig(
      JSON.stringify({
        auths: {
          'https://reg.example:5000': { auth: Buffer.from('u:p:w').toString('base64') },
          'other.example': { username: 'a', password: 'b' },
        },
      }),
    );
    expect(creds.get('reg.example:5000')).toEqual({ username: 'u', password: 'p:w' });
    expect(creds.get('other.example')).toEqual({ username: 'a', password: 'b' });
  });
});

describe('a real distribution registry', () => {
  let registry: TestRegistry;
  let secured: TestRegistry;
  let dir: string;
  const user = { username: 'pusher', password: 'correct horse' };

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'scaleswe-oci-'));
    [registry, secured] = await Promise.all([startRegistry(), startRegistry({ user })]);
  }, 120_000);
  afterAll(async () => {
    await Promise.all([registry?.stop(), secured?.stop()]);
    rmSync(dir, { recursive: true, force: true });
  });

  for (const mediaType of [OCI_MANIFEST, DOCKER_MANIFEST]) {
    it(`appends the environment layer to a base image (${mediaType === OCI_MANIFEST ? 'OCI' : 'Docker v2'} manifest), then deletes it`, async () => {
      const client = new RegistryClient({ plainHTTP: [registry.host] });
      const tag = mediaType === OCI_MANIFEST ? 'oci' : 'docker';
      const base = `${registry.host}/sandbox/python:${tag}`;
      await pushBase(client, base, layerOf(dir, `base-${tag}`, { 'etc/base-marker': 'base\n' }), mediaType);
      const envLayer = layerOf(dir, `env-${tag}`, { 'scaleswe-env/repo/marker': 'prepared\n' });

      const target = parseImageRef(`${registry.host}/scaleswe/envs:env-${tag}`);
      const pushed = await appendLayer(client, {
        base: parseImageRef(base),
        target,
        layerFile: envLayer,
        comment: 'scaleswe environment',
        env: { SCALESWE_PREPARED_DIR: '/scaleswe-env/repo', PATH: '/scaleswe-env/bin:/usr/bin:/bin' },
      });
      expect(pushed.image).toBe(`${registry.host}/scaleswe/envs@${pushed.digest}`);

      // What a puller sees, by digest: the base layer (mounted across repositories) + ours.
      const byDigest = { ...target, reference: pushed.digest };
      const { manifest, digest } = await client.getManifest(byDigest);
      expect(digest).toBe(pushed.digest);
      expect(manifest.mediaType).toBe(mediaType);
      const layer = await digestLayerFile(envLayer);
      expect(manifest.layers.map((l) => l.digest).at(-1)).toBe(layer.digest);
      expect(manifest.layers).toHaveLength(2);
      const config = (await client.readJsonBlob(byDigest, manifest.config.digest)) as {
        config: { Env: string[]; Cmd: string[] };
        rootfs: { diff_ids: string[] };
      };
      expect(config.rootfs.diff_ids).toHaveLength(2);
      expect(config.rootfs.diff_ids.at(-1)).toBe(layer.diffId);
      expect(config.config.Env).toEqual([
        'SCALESWE_PREPARED_DIR=/scaleswe-env/repo',
        'PATH=/scaleswe-env/bin:/usr/bin:/bin',
      ]);
      expect(config.config.Cmd).toEqual(['sh']);
      const res = await fetch(`http://${registry.host}/v2/scaleswe/envs/blobs/${layer.digest}`);
      expect(Buffer.from(await res.arrayBuffer()).equals(readFileSync(envLayer))).toBe(true);

      // A real container runtime pulls it by digest (verifying blob digests and diff ids).
      ensurePackages(['podman']);
      execFileSync('podman', [...PODMAN, 'pull', '--quiet', '--tls-verify=false', pushed.image]);
      const cid = execFileSync('podman', [...PODMAN, 'create', pushed.image, 'x'], {
        encoding: 'utf8',
      }).trim();
      const files = execFileSync('bash', ['-c', `podman ${PODMAN.join(' ')} export ${cid} | tar -t`], {
        encoding: 'utf8',
      });
      execFileSync('podman', [...PODMAN, 'rm', cid]);
      execFileSync('podman', [...PODMAN, 'rmi', pushed.image]);
      expect(files.split('\n')).toEqual(
        expect.arrayContaining(['etc/base-marker', 'scaleswe-env/repo/marker']),
      );

      await client.deleteManifest(byDigest);
      await expect(client.getManifest(byDigest)).rejects.toMatchObject({ reason: 'RegistryRejected' });
      await client.deleteManifest(byDigest); // gone already: still deleted
    });
  }

  it('classifies refused credentials and an unreachable registry', async () => {
    const ref = parseImageRef(`${secured.host}/sandbox/python:1`);
    const anonymous = new RegistryClient({ plainHTTP: [secured.host] });
    await expect(anonymous.getManifest(ref)).rejects.toMatchObject({
      reason: 'RegistryUnauthorized',
      message: expect.stringContaining('requires credentials'),
    });
    const wrong = new RegistryClient({
      plainHTTP: [secured.host],
      credentials: new Map([[secured.host, { ...user, password: 'wrong' }]]),
    });
    await expect(wrong.getManifest(ref)).rejects.toMatchObject({ reason: 'RegistryUnauthorized' });
    const right = new RegistryClient({
      plainHTTP: [secured.host],
      credentials: new Map([[secured.host, user]]),
    });
    await pushBase(right, `${secured.host}/sandbox/python:1`, layerOf(dir, 'sec', { a: 'a' }), OCI_MANIFEST);
    expect((await right.getManifest(ref)).manifest.layers).toHaveLength(1);

    const closed = `127.0.0.1:${await freePort()}`;
    const err = await new RegistryClient({ plainHTTP: [closed] })
      .getManifest(parseImageRef(`${closed}/x:1`))
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(RegistryError);
    expect(err).toMatchObject({
      reason: 'RegistryUnavailable',
      message: expect.stringContaining('ECONNREFUSED'),
    });
  });
});
