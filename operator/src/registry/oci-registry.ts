import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createGunzip } from 'node:zlib';
import { ScaleSweError } from '../api/index.ts';

/**
 * The one module that speaks the OCI distribution protocol (distribution-spec v1.1: manifests,
 * blob uploads, cross-repository mounts, Basic and Bearer token auth). Plain fetch: npm has no
 * well-kept client that pushes. Everything else asks this module for an image by digest.
 */

type RequestBody = NonNullable<RequestInit['body']>;

export type RegistryFailureReason = 'RegistryUnavailable' | 'RegistryUnauthorized' | 'RegistryRejected';

/** A registry call that failed: unreachable, refused credentials, or a protocol error. */
export class RegistryError extends ScaleSweError {
  declare readonly reason: RegistryFailureReason;
}

export interface ImageRef {
  /** host[:port], as in the reference */
  registry: string;
  repository: string;
  /** tag, or `sha256:…` */
  reference: string;
}

/** `host[:port]/path/name[:tag|@digest]`; a reference without a registry host is refused. */
export function parseImageRef(ref: string): ImageRef {
  const at = ref.indexOf('@');
  let name = at >= 0 ? ref.slice(0, at) : ref;
  let reference = at >= 0 ? ref.slice(at + 1) : 'latest';
  if (at < 0) {
    const colon = name.lastIndexOf(':');
    if (colon > name.lastIndexOf('/')) {
      reference = name.slice(colon + 1);
      name = name.slice(0, colon);
    }
  }
  const slash = name.indexOf('/');
  const host = slash >= 0 ? name.slice(0, slash) : '';
  if (!host || !(/[.:]/.test(host) || host === 'localhost'))
    throw new RegistryError('RegistryRejected', `image reference ${ref} names no registry host`);
  return { registry: host, repository: name.slice(slash + 1), reference };
}

export function formatImageRef(ref: ImageRef): string {
  const sep = ref.reference.startsWith('sha256:') ? '@' : ':';
  return `${ref.registry}/${ref.repository}${sep}${ref.reference}`;
}

export interface Credentials {
  username: string;
  password: string;
}

/** Credentials per registry host from a kubernetes.io/dockerconfigjson Secret's payload. */
export function credentialsFromDockerConfig(json: string): Map<string, Credentials> {
  const out = new Map<string, Credentials>();
  const auths = (JSON.parse(json) as { auths?: Record<string, Record<string, string>> }).auths ?? {};
  for (const [server, entry] of Object.entries(auths)) {
    const host = server.replace(/^https?:\/\//, '').replace(/\/.*$/, '');
    let { username, password } = entry;
    if ((!username || !password) && entry.auth) {
      const decoded = Buffer.from(entry.auth, 'base64').toString('utf8');
      const i = decoded.indexOf(':');
      username = decoded.slice(0, i);
      password = decoded.slice(i + 1);
    }
    if (username !== undefined && password !== undefined) out.set(host, { username, password });
  }
  return out;
}

const MANIFEST_TYPES = {
  ociManifest: 'application/vnd.oci.image.manifest.v1+json',
  ociIndex: 'application/vnd.oci.image.index.v1+json',
  dockerManifest: 'application/vnd.docker.distribution.manifest.v2+json',
  dockerList: 'application/vnd.docker.distribution.manifest.list.v2+json',
} as const;
const LAYER_TYPE = {
  [MANIFEST_TYPES.ociManifest]: 'application/vnd.oci.image.layer.v1.tar+gzip',
  [MANIFEST_TYPES.dockerManifest]: 'application/vnd.docker.image.rootfs.diff.tar.gzip',
} as Record<string, string>;

interface Descriptor {
  mediaType: string;
  digest: string;
  size: number;
  platform?: { os?: string; architecture?: string };
}
interface ImageManifest {
  schemaVersion: 2;
  mediaType?: string;
  config: Descriptor;
  layers: Descriptor[];
  annotations?: Record<string, string>;
}

export interface RegistryClientOptions {
  /** Credentials per registry host; none: anonymous. */
  credentials?: ReadonlyMap<string, Credentials>;
  /** Registry hosts spoken to over plain HTTP (a registry on loopback or the node). */
  plainHTTP?: readonly string[];
  /** Per-request limit; a registry that does not answer is unavailable, not a verdict. */
  timeoutMs?: number;
}

export class RegistryClient {
  readonly #creds: ReadonlyMap<string, Credentials>;
  readonly #plain: ReadonlySet<string>;
  readonly #timeoutMs: number;
  /** Bearer tokens per registry + scope. */
  readonly #tokens = new Map<string, string>();

  constructor(opts: RegistryClientOptions = {}) {
    this.#creds = opts.credentials ?? new Map();
    this.#plain = new Set(opts.plainHTTP ?? []);
    this.#timeoutMs = opts.timeoutMs ?? 600_000;
  }

  #url(registry: string, path: string): string {
    return `${this.#plain.has(registry) ? 'http' : 'https'}://${registry}/v2/${path}`;
  }

  async #send(url: string, init: RequestInit & { duplex?: 'half' }, auth?: string): Promise<Response> {
    try {
      return await fetch(url, {
        ...init,
        redirect: 'follow',
        signal: AbortSignal.timeout(this.#timeoutMs),
        headers: { ...(init.headers as Record<string, string>), ...(auth && { authorization: auth }) },
      });
    } catch (err) {
      const cause = (err as { cause?: { code?: string; message?: string } }).cause;
      throw new RegistryError(
        'RegistryUnavailable',
        `registry ${new URL(url).host} unreachable: ${cause?.code ?? ''} ${cause?.message ?? (err as Error).message}`.trim(),
      );
    }
  }

  /** Answers a 401 challenge: Basic with the host's credentials, or a Bearer token from its realm. */
  async #authorize(registry: string, challenge: string, scope: string): Promise<string> {
    const creds = this.#creds.get(registry);
    const basic = creds && `Basic ${Buffer.from(`${creds.username}:${creds.password}`).toString('base64')}`;
    if (/^basic/i.test(challenge)) {
      if (!basic)
        throw new RegistryError('RegistryUnauthorized', `registry ${registry} requires credentials`);
      return basic;
    }
    const params = Object.fromEntries(
      [...challenge.matchAll(/(\w+)="([^"]*)"/g)].map((m) => [m[1]!.toLowerCase(), m[2]!]),
    );
    if (!params.realm)
      throw new RegistryError('RegistryRejected', `registry ${registry}: unknown challenge ${challenge}`);
    const url = new URL(params.realm);
    if (params.service) url.searchParams.set('service', params.service);
    url.searchParams.set('scope', params.scope ?? scope);
    const res = await this.#send(url.toString(), { method: 'GET' }, basic);
    if (res.status === 401 || res.status === 403)
      throw new RegistryError(
        'RegistryUnauthorized',
        `registry ${registry} refused the credentials (${res.status})`,
      );
    if (!res.ok)
      throw new RegistryError('RegistryUnavailable', `token endpoint of ${registry} answered ${res.status}`);
    const body = (await res.json()) as { token?: string; access_token?: string };
    return `Bearer ${body.token ?? body.access_token ?? ''}`;
  }

  /**
   * One request with auth: a 401 gets one answer to its challenge. `body` is a factory so a
   * streamed body can be sent again after the challenge.
   */
  async #request(
    registry: string,
    repository: string,
    pathOrUrl: string,
    init: {
      method: string;
      headers?: Record<string, string>;
      body?: () => RequestBody | undefined;
      push?: boolean;
    },
  ): Promise<Response> {
    const url = pathOrUrl.startsWith('http') ? pathOrUrl : this.#url(registry, pathOrUrl);
    const scope = `repository:${repository}:${init.push ? 'pull,push' : 'pull'}`;
    const key = `${registry} ${scope}`;
    const make = () => {
      const body = init.body?.();
      return {
        method: init.method,
        headers: init.headers ?? {},
        ...(body !== undefined && { body, duplex: 'half' as const }),
      };
    };
    let res = await this.#send(url, make(), this.#tokens.get(key));
    if (res.status === 401) {
      await res.body?.cancel();
      const auth = await this.#authorize(registry, res.headers.get('www-authenticate') ?? 'Basic', scope);
      this.#tokens.set(key, auth);
      res = await this.#send(url, make(), auth);
      if (res.status === 401)
        throw new RegistryError(
          'RegistryUnauthorized',
          `registry ${registry} refused the credentials for ${repository}`,
        );
    }
    if (res.status === 403)
      throw new RegistryError(
        'RegistryUnauthorized',
        `registry ${registry} denied ${init.method} on ${repository}`,
      );
    return res;
  }

  async #expect(res: Response, what: string, ok: (status: number) => boolean): Promise<Response> {
    if (ok(res.status)) return res;
    const text = (await res.text().catch(() => '')).slice(0, 500);
    // 5xx and 429: the registry's trouble, worth a retry; other answers are a refusal.
    const reason = res.status >= 500 || res.status === 429 ? 'RegistryUnavailable' : 'RegistryRejected';
    throw new RegistryError(reason, `${what}: HTTP ${res.status} ${text}`.trim());
  }

  /** The manifest of `ref`; an index is resolved to its linux/<arch> entry. */
  async getManifest(ref: ImageRef, arch = goArch()): Promise<{ manifest: ImageManifest; digest: string }> {
    const accept = Object.values(MANIFEST_TYPES).join(', ');
    let reference = ref.reference;
    for (let depth = 0; depth < 2; depth++) {
      const res = await this.#expect(
        await this.#request(ref.registry, ref.repository, `${ref.repository}/manifests/${reference}`, {
          method: 'GET',
          headers: { accept },
        }),
        `manifest ${formatImageRef({ ...ref, reference })}`,
        (s) => s === 200,
      );
      const bytes = Buffer.from(await res.arrayBuffer());
      const digest = `sha256:${createHash('sha256').update(bytes).digest('hex')}`;
      const doc = JSON.parse(bytes.toString('utf8')) as {
        mediaType?: string;
        manifests?: Descriptor[];
      } & ImageManifest;
      const mediaType = doc.mediaType ?? res.headers.get('content-type') ?? MANIFEST_TYPES.ociManifest;
      if (!doc.manifests) return { manifest: { ...doc, mediaType }, digest };
      const entry = doc.manifests.find((m) => m.platform?.os === 'linux' && m.platform.architecture === arch);
      if (!entry)
        throw new RegistryError('RegistryRejected', `${formatImageRef(ref)} has no linux/${arch} image`);
      reference = entry.digest;
    }
    throw new RegistryError('RegistryRejected', `${formatImageRef(ref)}: nested image index`);
  }

  async blobExists(registry: string, repository: string, digest: string): Promise<boolean> {
    const res = await this.#request(registry, repository, `${repository}/blobs/${digest}`, {
      method: 'HEAD',
    });
    await res.body?.cancel();
    return res.status === 200;
  }

  /** Uploads a blob whose digest is known (monolithic: POST for a session, PUT the bytes). */
  async putBlob(
    registry: string,
    repository: string,
    digest: string,
    size: number,
    body: () => RequestBody,
  ): Promise<void> {
    if (await this.blobExists(registry, repository, digest)) return;
    const started = await this.#expect(
      await this.#request(registry, repository, `${repository}/blobs/uploads/`, {
        method: 'POST',
        push: true,
      }),
      `start upload to ${registry}/${repository}`,
      (s) => s === 202,
    );
    await started.body?.cancel();
    const location = new URL(started.headers.get('location') ?? '', this.#url(registry, ''));
    location.searchParams.set('digest', digest);
    const done = await this.#request(registry, repository, location.toString(), {
      method: 'PUT',
      push: true,
      headers: { 'content-type': 'application/octet-stream', 'content-length': String(size) },
      body,
    });
    await (await this.#expect(done, `upload ${digest}`, (s) => s === 201)).body?.cancel();
  }

  /** Makes `digest` of `from` present in `to`: a cross-repository mount, else a copy through us. */
  async copyBlob(from: ImageRef, to: ImageRef, desc: Descriptor): Promise<void> {
    if (await this.blobExists(to.registry, to.repository, desc.digest)) return;
    if (from.registry === to.registry) {
      const res = await this.#request(
        to.registry,
        to.repository,
        `${to.repository}/blobs/uploads/?mount=${encodeURIComponent(desc.digest)}&from=${encodeURIComponent(from.repository)}`,
        { method: 'POST', push: true },
      );
      await res.body?.cancel();
      if (res.status === 201) return;
    }
    const get = await this.#expect(
      await this.#request(from.registry, from.repository, `${from.repository}/blobs/${desc.digest}`, {
        method: 'GET',
      }),
      `blob ${desc.digest} of ${from.registry}/${from.repository}`,
      (s) => s === 200,
    );
    // Buffered: a base layer is read once; the body of a challenged PUT must be sendable twice.
    const bytes = Buffer.from(await get.arrayBuffer());
    await this.putBlob(to.registry, to.repository, desc.digest, bytes.length, () => bytes);
  }

  /** A small JSON blob (an image config), checked against its digest. */
  async readJsonBlob(ref: ImageRef, digest: string): Promise<unknown> {
    const res = await this.#expect(
      await this.#request(ref.registry, ref.repository, `${ref.repository}/blobs/${digest}`, {
        method: 'GET',
      }),
      `blob ${digest} of ${ref.registry}/${ref.repository}`,
      (s) => s === 200,
    );
    const bytes = Buffer.from(await res.arrayBuffer());
    if (`sha256:${createHash('sha256').update(bytes).digest('hex')}` !== digest)
      throw new RegistryError(
        'RegistryRejected',
        `blob ${digest} of ${ref.repository} does not match its digest`,
      );
    return JSON.parse(bytes.toString('utf8'));
  }

  /** PUT a manifest under a tag; returns its digest. */
  async putManifest(ref: ImageRef, manifest: ImageManifest): Promise<string> {
    const bytes = Buffer.from(JSON.stringify(manifest));
    const digest = `sha256:${createHash('sha256').update(bytes).digest('hex')}`;
    const res = await this.#request(
      ref.registry,
      ref.repository,
      `${ref.repository}/manifests/${ref.reference}`,
      {
        method: 'PUT',
        push: true,
        headers: { 'content-type': manifest.mediaType ?? MANIFEST_TYPES.ociManifest },
        body: () => bytes,
      },
    );
    await (await this.#expect(res, `push manifest ${formatImageRef(ref)}`, (s) => s === 201)).body?.cancel();
    return digest;
  }

  /** DELETE of a manifest by digest; an image already gone counts as deleted. */
  async deleteManifest(ref: ImageRef): Promise<void> {
    const res = await this.#request(
      ref.registry,
      ref.repository,
      `${ref.repository}/manifests/${ref.reference}`,
      {
        method: 'DELETE',
        push: true,
      },
    );
    await (
      await this.#expect(res, `delete ${formatImageRef(ref)}`, (s) => s === 202 || s === 200 || s === 404)
    ).body?.cancel();
  }
}

function goArch(): string {
  return (
    (
      { x64: 'amd64', arm64: 'arm64', arm: 'arm', ppc64: 'ppc64le', s390x: 's390x' } as Record<string, string>
    )[process.arch] ?? process.arch
  );
}

/** sha256 of a gzip file (the blob digest) and of its content (the diff id the config lists). */
export async function digestLayerFile(
  file: string,
): Promise<{ digest: string; diffId: string; size: number }> {
  const blob = createHash('sha256');
  const diff = createHash('sha256');
  const gunzip = createGunzip();
  gunzip.on('data', (chunk: Buffer) => diff.update(chunk));
  await pipeline(
    createReadStream(file),
    async function* (source: AsyncIterable<Buffer>) {
      for await (const chunk of source) {
        blob.update(chunk);
        yield chunk;
      }
    },
    gunzip,
  );
  const { size } = await stat(file);
  return { digest: `sha256:${blob.digest('hex')}`, diffId: `sha256:${diff.digest('hex')}`, size };
}

export interface AppendLayerInput {
  base: ImageRef;
  /** Repository and tag to push the result to. */
  target: ImageRef;
  /** A gzip tar of the layer. */
  layerFile: string;
  /** Recorded in the image history and as an annotation. */
  comment: string;
  /** Set in the image config (e.g. the prepared environment's path). */
  env?: Record<string, string>;
}

/**
 * The base image plus one layer, pushed as `target`: base layers mounted (or copied), the
 * new layer uploaded, the config extended by its diff id. Returns the pushed manifest's digest
 * and the reference by digest that pods run.
 */
export async function appendLayer(
  client: RegistryClient,
  input: AppendLayerInput,
): Promise<{ digest: string; image: string }> {
  const { base, target } = input;
  const { manifest } = await client.getManifest(base);
  const mediaType = manifest.mediaType ?? MANIFEST_TYPES.ociManifest;
  const layerType = LAYER_TYPE[mediaType];
  if (!layerType)
    throw new RegistryError('RegistryRejected', `${formatImageRef(base)}: unsupported manifest ${mediaType}`);
  for (const layer of manifest.layers) await client.copyBlob(base, target, layer);

  const configRes = await client.readJsonBlob(base, manifest.config.digest);
  const layer = await digestLayerFile(input.layerFile);
  await client.putBlob(
    target.registry,
    target.repository,
    layer.digest,
    layer.size,
    () => Readable.toWeb(createReadStream(input.layerFile)) as ReadableStream,
  );

  const config = configRes as {
    config?: { Env?: string[] };
    rootfs: { type: string; diff_ids: string[] };
    history?: Array<Record<string, unknown>>;
  };
  const envEntries = Object.entries(input.env ?? {}).map(([k, v]) => `${k}=${v}`);
  const envKeys = new Set(Object.keys(input.env ?? {}));
  const newConfig = {
    ...config,
    config: {
      ...config.config,
      Env: [...(config.config?.Env ?? []).filter((e) => !envKeys.has(e.split('=')[0]!)), ...envEntries],
    },
    rootfs: { ...config.rootfs, diff_ids: [...config.rootfs.diff_ids, layer.diffId] },
    history: [...(config.history ?? []), { created: new Date().toISOString(), created_by: input.comment }],
  };
  const configBytes = Buffer.from(JSON.stringify(newConfig));
  const configDigest = `sha256:${createHash('sha256').update(configBytes).digest('hex')}`;
  await client.putBlob(
    target.registry,
    target.repository,
    configDigest,
    configBytes.length,
    () => configBytes,
  );

  const digest = await client.putManifest(target, {
    schemaVersion: 2,
    mediaType,
    config: { mediaType: manifest.config.mediaType, digest: configDigest, size: configBytes.length },
    layers: [...manifest.layers, { mediaType: layerType, digest: layer.digest, size: layer.size }],
    ...(manifest.annotations && { annotations: manifest.annotations }),
  });
  return { digest, image: `${target.registry}/${target.repository}@${digest}` };
}
