// Images without a registry: a static pause image, a debootstrap'ed Debian base, the sandbox
// base and language images from sandbox-images/{base,<lang>}/Dockerfile, built with podman and
// imported into containerd's k8s.io namespace.
//
//   node test/cluster/images.ts [--langs python,node,go|all] [--name <cluster>]
//
// Builds are cached by content: the Debian base by its debootstrap parameters, the sandbox
// base (sandbox-images/base: host CA bundle, git) by its Dockerfile directory + Debian base +
// CA bundle, each language image by its Dockerfile directory + the sandbox base's image id
// (a podman label); imports by the podman image id (a marker next to containerd's root).
import { createHash } from 'node:crypto';
import {
  cpSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { Command } from 'commander';
import { LANGUAGES, type Language } from '../../operator/src/api/index.ts';
import { CACHE_ROOT, log, PrerequisiteError, REPO_ROOT, run } from './lib.ts';

export const PAUSE_IMAGE = 'localhost/pause:3.9';
export const SANDBOX_TAG = '0.1.0';
/**
 * Languages built by default: what e2e curates (the operator test's Python, Node and Go
 * fixtures); SCALESWE_SANDBOX_IMAGES=all builds every one.
 */
export const DEFAULT_LANGS: Language[] = ['python', 'node', 'go'];
const HOST_CA_BUNDLE = '/etc/ssl/certs/ca-certificates.crt';
const IMAGE_CACHE = join(CACHE_ROOT, 'images');
const IMPORT_MARKERS = join(CACHE_ROOT, 'containerd', 'imported');
const KEY_LABEL = 'scaleswe.dev/build-key';
// crun refuses this machine's hybrid cgroup setup; there is no systemd/journald either.
const PODMAN_FLAGS = [
  '--runtime',
  '/usr/sbin/runc',
  '--cgroup-manager',
  'cgroupfs',
  '--events-backend',
  'file',
];

/** Pushes a local podman image to a plain-HTTP registry (what a user's CI does with its images). */
export function pushToRegistry(ref: string, target: string): void {
  podman(['push', '--quiet', '--tls-verify=false', ref, `docker://${target}`]);
}

/** Pods refer to `scaleswe/sandbox-<lang>:0.1.0`, which Kubernetes normalizes to docker.io/. */
export function sandboxImageRef(lang: Language): string {
  return `docker.io/scaleswe/sandbox-${lang}:${SANDBOX_TAG}`;
}

function podman(args: string[], inherit = false) {
  return run('podman', [...PODMAN_FLAGS, ...args], { inherit, allowFail: false });
}

function podmanInspect(ref: string, format: string): string | undefined {
  const r = run('podman', [...PODMAN_FLAGS, 'image', 'inspect', '--format', format, ref], {
    allowFail: true,
  });
  return r.code === 0 ? r.stdout.trim() : undefined;
}

function sha(...parts: (string | Buffer)[]): string {
  const h = createHash('sha256');
  for (const p of parts) h.update(p).update('\0');
  return h.digest('hex').slice(0, 16);
}

function dirHash(dir: string): string {
  const h = createHash('sha256');
  for (const f of readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile())
    .map((e) => join(e.parentPath, e.name))
    .sort()) {
    h.update(f.slice(dir.length)).update('\0').update(readFileSync(f)).update('\0');
  }
  return h.digest('hex').slice(0, 16);
}

function requireTools(tools: string[]): void {
  for (const t of tools) {
    if (run('sh', ['-c', `command -v ${t}`], { allowFail: true }).code !== 0) {
      throw new PrerequisiteError(
        `${t} is required to build images (run 'cluster.ts up --mode node' as root first)`,
      );
    }
  }
}

function ctrImages(sock: string): Set<string> {
  const r = run('ctr', ['--address', sock, '-n', 'k8s.io', 'images', 'ls', '-q'], { allowFail: true });
  return new Set(r.stdout.split('\n').filter(Boolean));
}

/** Images pulled from a registry on a host:port (the tests' throwaway registries, long gone). */
export function isThrowawayRegistryRef(ref: string): boolean {
  return /^(localhost|\d{1,3}(\.\d{1,3}){3}):\d+\//.test(ref);
}

/**
 * containerd's root persists across clusters and image GC is off, so images pulled from earlier
 * runs' registries pile up (they cannot be pulled again anyway): drop them when a cluster starts.
 */
export function pruneThrowawayImages(sock: string): void {
  const stale = [...ctrImages(sock)].filter(isThrowawayRegistryRef);
  if (!stale.length) return;
  run('ctr', ['--address', sock, '-n', 'k8s.io', 'images', 'rm', ...stale], { allowFail: true });
  log(`removed ${stale.length} image(s) pulled from earlier test registries`);
}

/** Imports a podman image into containerd's k8s.io namespace unless that exact image id is there. */
export function importToContainerd(sock: string, ref: string): void {
  const id = podmanInspect(ref, '{{.Id}}');
  if (!id) throw new Error(`image ${ref} is not in podman's store`);
  const marker = join(IMPORT_MARKERS, ref.replaceAll('/', '_').replaceAll(':', '_'));
  if (existsSync(marker) && readFileSync(marker, 'utf8') === id && ctrImages(sock).has(ref)) return;
  const t0 = Date.now();
  const dir = mkdtempSync(join(tmpdir(), 'scaleswe-img-'));
  try {
    const tar = join(dir, 'image.tar');
    podman(['save', '--format', 'docker-archive', '-o', tar, ref]);
    run('ctr', ['--address', sock, '-n', 'k8s.io', 'images', 'import', tar]);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  if (!ctrImages(sock).has(ref)) throw new Error(`ctr import did not produce ${ref}`);
  mkdirSync(IMPORT_MARKERS, { recursive: true });
  writeFileSync(marker, id);
  log(`imported ${ref} into containerd in ${((Date.now() - t0) / 1000).toFixed(1)}s`);
}

/** localhost/pause:3.9 from a static musl binary, FROM scratch, imported into containerd. */
export async function ensurePauseImage(sock: string): Promise<void> {
  const src = join(REPO_ROOT, 'test/cluster/pause');
  const key = dirHash(src);
  if (podmanInspect(PAUSE_IMAGE, `{{ index .Labels "${KEY_LABEL}" }}`) !== key) {
    requireTools(['musl-gcc', 'podman']);
    const t0 = Date.now();
    const dir = mkdtempSync(join(tmpdir(), 'scaleswe-pause-'));
    try {
      run('musl-gcc', ['-static', '-Os', '-s', '-o', join(dir, 'pause'), join(src, 'pause.c')]);
      writeFileSync(join(dir, 'Containerfile'), 'FROM scratch\nCOPY pause /pause\nENTRYPOINT ["/pause"]\n');
      podman(['build', '--pull=never', '--label', `${KEY_LABEL}=${key}`, '-t', PAUSE_IMAGE, dir]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
    log(`built ${PAUSE_IMAGE} in ${((Date.now() - t0) / 1000).toFixed(1)}s`);
  }
  importToContainerd(sock, PAUSE_IMAGE);
}

/** The apt mirror the host uses (deb.debian.org unless configured otherwise). */
function debianMirror(): string {
  if (process.env.SCALESWE_DEBIAN_MIRROR) return process.env.SCALESWE_DEBIAN_MIRROR;
  for (const f of ['/etc/apt/sources.list.d/debian.sources', '/etc/apt/sources.list']) {
    if (!existsSync(f)) continue;
    const m = /(?:URIs:|deb)\s+(https?:\/\/\S+\/debian)\s*$/m.exec(readFileSync(f, 'utf8'));
    if (m?.[1]) return m[1];
  }
  return 'http://deb.debian.org/debian';
}

/** A minimal Debian bookworm image made by debootstrap; the rootfs tarball is cached. */
export function ensureBaseImage(): string {
  const mirror = debianMirror();
  // debootstrap writes only `bookworm main`; add updates and security (e.g. rustc-web lives there).
  const sources = [
    `deb ${mirror} bookworm main`,
    `deb ${mirror} bookworm-updates main`,
    `deb ${mirror.replace(/\/debian$/, '/debian-security')} bookworm-security main`,
    '',
  ].join('\n');
  const key = sha('bookworm', 'minbase', mirror, sources);
  const ref = `localhost/scaleswe/debian-base:bookworm-${key}`;
  if (podmanInspect(ref, '{{.Id}}')) return ref;
  requireTools(['debootstrap', 'podman']);
  mkdirSync(IMAGE_CACHE, { recursive: true });
  const tar = join(IMAGE_CACHE, `debian-bookworm-minbase-${key}.tar`);
  if (!existsSync(tar)) {
    const t0 = Date.now();
    const root = mkdtempSync(join(IMAGE_CACHE, 'rootfs-'));
    try {
      log(`debootstrap --variant=minbase bookworm from ${mirror}`);
      run('debootstrap', ['--variant=minbase', 'bookworm', root, mirror], {
        inherit: false,
        timeoutMs: 900_000,
      });
      for (const d of ['var/cache/apt/archives', 'var/lib/apt/lists']) {
        for (const f of readdirSync(join(root, d))) {
          if (f.endsWith('.deb') || f.includes('_dists_')) rmSync(join(root, d, f), { force: true });
        }
      }
      writeFileSync(join(root, 'etc/apt/sources.list'), sources);
      run('tar', ['--numeric-owner', '-C', root, '-cf', `${tar}.tmp`, '.']);
      renameSync(`${tar}.tmp`, tar);
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
    log(`debootstrap done in ${((Date.now() - t0) / 1000).toFixed(1)}s`);
  }
  podman(['import', '--change', 'CMD ["/bin/bash"]', '--change', 'ENV LANG=C.UTF-8', tar, ref]);
  log(`imported base ${ref}`);
  // Older bases (other keys) are superseded: drop their tags and cached tarballs.
  const repo = ref.slice(0, ref.lastIndexOf(':'));
  const tags = run('podman', [...PODMAN_FLAGS, 'images', '--format', '{{.Repository}}:{{.Tag}}', repo], {
    allowFail: true,
  });
  for (const t of tags.stdout.split('\n').filter((x) => x.startsWith(`${repo}:`) && x !== ref)) {
    run('podman', [...PODMAN_FLAGS, 'untag', t], { allowFail: true });
  }
  for (const f of readdirSync(IMAGE_CACHE)) {
    if (f.startsWith('debian-bookworm-minbase-') && f !== basename(tar))
      rmSync(join(IMAGE_CACHE, f), { force: true });
  }
  return ref;
}

export const SANDBOX_BASE_REF = `docker.io/scaleswe/sandbox-base:${SANDBOX_TAG}`;

/** podman build of `dir` FROM `from`, skipped when the image already carries `key`. */
function buildCached(
  dir: string,
  ref: string,
  from: string,
  key: string,
  extraFiles: Record<string, Buffer> = {},
): string {
  if (!existsSync(join(dir, 'Dockerfile'))) throw new Error(`missing ${dir}/Dockerfile`);
  if (podmanInspect(ref, `{{ index .Labels "${KEY_LABEL}" }}`) === key) return ref;
  const t0 = Date.now();
  const ctx = mkdtempSync(join(tmpdir(), `scaleswe-${basename(dir)}-`));
  try {
    cpSync(dir, ctx, { recursive: true });
    for (const [name, data] of Object.entries(extraFiles)) writeFileSync(join(ctx, name), data);
    const goproxy = (process.env.GOPROXY ?? 'https://proxy.golang.org').split(/[,|]/)[0] ?? '';
    log(`building ${ref} FROM ${from}`);
    podman(
      [
        'build',
        '--pull=never',
        '--network=host',
        '--layers=false',
        '--build-arg',
        `BASE_IMAGE=${from}`,
        '--build-arg',
        `GOPROXY=${goproxy}`,
        '--label',
        `${KEY_LABEL}=${key}`,
        '-t',
        ref,
        ctx,
      ],
      true,
    );
  } finally {
    rmSync(ctx, { recursive: true, force: true });
  }
  log(`built ${ref} in ${((Date.now() - t0) / 1000).toFixed(1)}s`);
  return ref;
}

/** sandbox-images/base on the Debian base with the host CA bundle: what every language image is FROM. */
export function ensureSandboxBase(debianBase: string): string {
  const dir = join(REPO_ROOT, 'sandbox-images', 'base');
  const bundle = readFileSync(HOST_CA_BUNDLE);
  return buildCached(dir, SANDBOX_BASE_REF, debianBase, sha(dirHash(dir), debianBase, bundle), {
    'ca-bundle.crt': bundle,
  });
}

/** Builds sandbox-images/<lang> FROM the sandbox base (cached by its Dockerfile dir and the base's id). */
export function ensureSandboxImage(lang: Language, sandboxBase: string): string {
  const dir = join(REPO_ROOT, 'sandbox-images', lang);
  const baseId = podmanInspect(sandboxBase, '{{.Id}}');
  if (!baseId) throw new Error(`image ${sandboxBase} is not in podman's store`);
  return buildCached(dir, sandboxImageRef(lang), sandboxBase, sha(dirHash(dir), baseId));
}

/**
 * Builds one Dockerfile directory once per variant (its build args; BASE_IMAGE is the local
 * Debian base) and imports them into containerd in one archive, so shared layers travel once.
 * For small test images: no content cache, every call builds.
 */
export function buildAndImportVariants(
  sock: string,
  dir: string,
  variants: { ref: string; args: Record<string, string> }[],
): void {
  const base = ensureBaseImage();
  const t0 = Date.now();
  for (const { ref, args } of variants) {
    const buildArgs = Object.entries({ BASE_IMAGE: base, ...args }).flatMap(([k, v]) => [
      '--build-arg',
      `${k}=${v}`,
    ]);
    podman(['build', '--pull=never', '--layers=false', ...buildArgs, '-t', ref, dir]);
  }
  const tmp = mkdtempSync(join(tmpdir(), 'scaleswe-img-'));
  try {
    const tar = join(tmp, 'images.tar');
    podman(['save', '--multi-image-archive', '-o', tar, ...variants.map((v) => v.ref)]);
    run('ctr', ['--address', sock, '-n', 'k8s.io', 'images', 'import', tar]);
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
  log(
    `built and imported ${variants.map((v) => v.ref).join(', ')} in ${((Date.now() - t0) / 1000).toFixed(1)}s`,
  );
}

export function langsFromEnv(value = process.env.SCALESWE_SANDBOX_IMAGES): Language[] {
  if (!value) return DEFAULT_LANGS;
  if (value === 'all') return [...LANGUAGES];
  const langs = value.split(',').map((l) => l.trim());
  for (const l of langs) {
    if (!(LANGUAGES as readonly string[]).includes(l)) throw new Error(`unknown sandbox language ${l}`);
  }
  return langs as Language[];
}

/** Builds the requested sandbox images and imports them into the cluster's containerd. */
export function ensureSandboxImages(sock: string, langs: Language[]): string[] {
  const base = ensureSandboxBase(ensureBaseImage());
  const refs: string[] = [];
  for (const lang of langs) {
    const ref = ensureSandboxImage(lang, base);
    importToContainerd(sock, ref);
    refs.push(ref);
  }
  return refs;
}

async function main(argv: string[]): Promise<void> {
  const program = new Command('images')
    .description('Build the sandbox images locally and import them into the cluster')
    .option('--langs <list>', `comma list or "all" (default ${DEFAULT_LANGS.join(',')})`)
    .option('--name <name>', 'cluster whose containerd receives the images', 'scaleswe')
    .option('--no-import', 'only build with podman')
    .action(async (o: { langs?: string; name: string; import: boolean }) => {
      const langs = langsFromEnv(o.langs ?? process.env.SCALESWE_SANDBOX_IMAGES);
      if (!o.import) {
        const base = ensureSandboxBase(ensureBaseImage());
        for (const l of langs) ensureSandboxImage(l, base);
        return;
      }
      const { readState } = await import('./cluster.ts');
      const s = readState(o.name);
      if (!s?.host.containerdSocket) throw new Error(`cluster '${o.name}' is not up in node mode`);
      for (const ref of ensureSandboxImages(s.host.containerdSocket, langs)) process.stdout.write(`${ref}\n`);
    });
  await program.parseAsync(argv);
}

if (import.meta.url === `file://${process.argv[1]}`) {
  main(process.argv).catch((e: unknown) => {
    process.stderr.write(`error: ${e instanceof Error ? e.message : String(e)}\n`);
    process.exit(e instanceof PrerequisiteError ? 2 : 1);
  });
}
