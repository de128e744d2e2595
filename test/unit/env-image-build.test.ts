import { execFileSync, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CurationRun, EnvImageResult, SWEInstance } from '../../operator/src/api/index.ts';
import {
  credentialsFromDockerConfig,
  parseImageRef,
  RegistryClient,
} from '../../operator/src/registry/oci-registry.ts';
import { buildStepFailure } from '../../operator/src/registry/push-env-image.ts';
import { buildEnvImagePod } from '../../operator/src/sandbox/env-image-pod.ts';
import { REPO_ROOT } from '../cluster/lib.ts';
import { layerOf, OCI_MANIFEST, pushBase, startRegistry, type TestRegistry } from '../cluster/registry.ts';

/**
 * The build pod's two containers, run for real without a cluster: the `prepare` init
 * container's own script (from the pod manifest) under bubblewrap with the pod's volumes as
 * binds, then the push program (the `push` container's) against a real registry with htpasswd.
 */

const user = { username: 'pusher', password: 's3cret' };
let registry: TestRegistry;
let dir: string;
let repo: string;
let base: string;
let later: string;

function git(cwd: string, ...args: string[]): string {
  return execFileSync('git', args, {
    cwd,
    encoding: 'utf8',
    env: {
      ...process.env,
      GIT_AUTHOR_NAME: 't',
      GIT_AUTHOR_EMAIL: 't@x',
      GIT_COMMITTER_NAME: 't',
      GIT_COMMITTER_EMAIL: 't@x',
    },
  }).trim();
}

function fixtures(registryHost: string, setupScript: string, lock?: string) {
  const run = CurationRun.parse({
    apiVersion: 'scaleswe.dev/v1alpha1',
    kind: 'CurationRun',
    metadata: { name: 'run-1', namespace: 'ns', uid: 'run-uid' },
    spec: {
      source: { git: { url: repo, repo: 'acme/widgets' } },
      environment: {
        registry: `${registryHost}/scaleswe/envs`,
        pushSecretRef: { name: 'push' },
        plainHTTP: true,
      },
    },
  });
  const instance = SWEInstance.parse({
    apiVersion: 'scaleswe.dev/v1alpha1',
    kind: 'SWEInstance',
    metadata: { name: 'run-1.acme.widgets-7', namespace: 'ns', uid: 'inst-uid' },
    spec: {
      instanceId: 'acme__widgets-7',
      runRef: 'run-1',
      repo: 'acme/widgets',
      cloneURL: repo,
      pullNumber: 7,
      baseCommit: base,
      patch: '',
      createdAt: '2026-01-01T00:00:00Z',
      language: 'python',
    },
  });
  return buildEnvImagePod({
    run,
    instance,
    attempt: 1,
    namespace: 'ns',
    baseImage: `${registryHost}/sandbox/python:1`,
    targetImage: `${registryHost}/scaleswe/envs:env-${'k'.repeat(8)}`,
    setupScript,
    lock,
  });
}

type Container = { command: string[]; env: Array<{ name: string; value: string }> };

/** Runs the pod: prepare under bwrap (its volumes bound at their mount paths), then push. */
function runPod(pod: ReturnType<typeof fixtures>, auth: object, opts: { envTmpfsBytes?: number } = {}) {
  const work = mkdtempSync(join(dir, 'pod-'));
  const envDir = join(work, 'env');
  const buildDir = join(work, 'build');
  mkdirSync(envDir);
  mkdirSync(buildDir);
  const spec = pod.spec as { initContainers: Container[]; containers: Container[] };
  const prepare = spec.initContainers[0]!;
  const envOf = (c: Container) => Object.fromEntries(c.env.map((e) => [e.name, e.value]));
  const envMount = opts.envTmpfsBytes
    ? ['--size', String(opts.envTmpfsBytes), '--tmpfs', '/scaleswe-env']
    : ['--bind', envDir, '/scaleswe-env'];
  const sandbox = spawnSync(
    'bwrap',
    [
      ...['--ro-bind', '/usr', '/usr', '--ro-bind', '/etc', '/etc'],
      ...['--symlink', 'usr/bin', '/bin', '--symlink', 'usr/lib', '/lib', '--symlink', 'usr/lib64', '/lib64'],
      ...['--dev', '/dev', '--proc', '/proc', '--tmpfs', '/tmp', '--ro-bind', repo, repo],
      ...envMount,
      ...['--bind', buildDir, '/scaleswe-build', '--chdir', '/scaleswe-build'],
      ...['--unshare-all', '--die-with-parent', '--new-session'],
      ...prepare.command,
    ],
    { env: { PATH: '/usr/bin:/bin', ...envOf(prepare) }, encoding: 'utf8' },
  );
  expect(sandbox.status, sandbox.stderr).toBe(0);

  const authFile = join(work, 'config.json');
  writeFileSync(authFile, JSON.stringify(auth));
  const termination = join(work, 'termination-log');
  const push = spec.containers[0]!;
  expect(push.command.at(-1)).toBe('/app/push-env-image.mjs'); // the bundle of push-env-image.ts
  const pushed = spawnSync(process.execPath, [join(REPO_ROOT, 'operator/src/registry/push-env-image.ts')], {
    env: {
      PATH: process.env.PATH,
      ...envOf(push),
      SCALESWE_BUILD_DIR: buildDir,
      SCALESWE_REGISTRY_AUTH_FILE: authFile,
      SCALESWE_TERMINATION_LOG: termination,
    },
    encoding: 'utf8',
  });
  expect(pushed.status, pushed.stderr).toBe(0);
  return { result: EnvImageResult.parse(JSON.parse(readFileSync(termination, 'utf8'))), envDir };
}

const dockerConfig = (host: string, password = user.password) => ({
  auths: { [host]: { auth: Buffer.from(`${user.username}:${password}`).toString('base64') } },
});

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'scaleswe-envimage-'));
  registry = await startRegistry({ user });
  repo = join(dir, 'repo');
  mkdirSync(repo);
  git(repo, 'init', '-q', '-b', 'main');
  writeFileSync(join(repo, 'app.py'), 'VALUE = 1\n');
  git(repo, 'add', '.');
  git(repo, 'commit', '-qm', 'base');
  base = git(repo, 'rev-parse', 'HEAD');
  writeFileSync(join(repo, 'app.py'), 'VALUE = 2  # the fix\n');
  git(repo, 'commit', '-qam', 'the fix');
  later = git(repo, 'rev-parse', 'HEAD');
  const client = new RegistryClient({
    plainHTTP: [registry.host],
    credentials: credentialsFromDockerConfig(JSON.stringify(dockerConfig(registry.host))),
  });
  await pushBase(
    client,
    `${registry.host}/sandbox/python:1`,
    layerOf(dir, 'base', { 'etc/os': 'x\n' }),
    OCI_MANIFEST,
  );
}, 120_000);
afterAll(async () => {
  await registry?.stop();
  rmSync(dir, { recursive: true, force: true });
});

describe('environment image build pod', () => {
  it('checks out the base only, replays the setup and pushes the prepared tree as one layer', async () => {
    // The replay installs from the env stage's lock (pip/uv constraints for Python).
    const setup = [
      'mkdir -p .venv && echo installed > .venv/marker && echo tool > "$HOME/.toolrc"',
      'cp "$PIP_CONSTRAINT" .venv/constraints.txt',
    ].join('\n');
    const { result } = runPod(fixtures(registry.host, setup, 'six==1.16.0\n'), dockerConfig(registry.host));
    expect(result).toMatchObject({ outcome: 'pushed', reason: 'Pushed' });
    expect(result.image).toBe(`${registry.host}/scaleswe/envs@${result.digest}`);

    // Pull the image by digest as a runtime would and unpack our layer.
    const client = new RegistryClient({
      plainHTTP: [registry.host],
      credentials: credentialsFromDockerConfig(JSON.stringify(dockerConfig(registry.host))),
    });
    const ref = parseImageRef(result.image!);
    const { manifest, digest } = await client.getManifest(ref);
    expect(digest).toBe(result.digest);
    const auth = `Basic ${Buffer.from(`${user.username}:${user.password}`).toString('base64')}`;
    const blob = await fetch(
      `http://${registry.host}/v2/scaleswe/envs/blobs/${manifest.layers.at(-1)!.digest}`,
      {
        headers: { authorization: auth },
      },
    );
    const unpacked = join(dir, 'unpacked');
    mkdirSync(unpacked);
    writeFileSync(join(dir, 'layer.tgz'), Buffer.from(await blob.arrayBuffer()));
    execFileSync('tar', ['-C', unpacked, '-xzf', join(dir, 'layer.tgz')]);
    const checkout = join(unpacked, 'scaleswe-env/repo');
    expect(readFileSync(join(checkout, 'app.py'), 'utf8')).toBe('VALUE = 1\n');
    expect(readFileSync(join(checkout, '.venv/marker'), 'utf8')).toBe('installed\n');
    expect(readFileSync(join(unpacked, 'scaleswe-env/home/.toolrc'), 'utf8')).toBe('tool\n');
    expect(readFileSync(join(checkout, '.venv/constraints.txt'), 'utf8')).toBe('six==1.16.0\n');
    // The setup's untracked products are excluded: a stage's `git clean` keeps them.
    expect(readFileSync(join(checkout, '.git/info/exclude'), 'utf8')).toContain('/.venv/');
    expect(git(checkout, 'status', '--porcelain')).toBe('');
    // Nothing past the base commit: agents read `git log --all`.
    expect(git(checkout, 'rev-parse', 'HEAD')).toBe(base);
    expect(git(checkout, 'log', '--all', '--format=%H').split('\n')).toEqual([base]);
    expect(spawnSync('git', ['cat-file', '-e', later], { cwd: checkout }).status).not.toBe(0);
    expect(git(checkout, 'for-each-ref')).toBe('');
  });

  it('a failing setup, a full disk and refused credentials are infrastructure failures with their reason', () => {
    const failing = runPod(fixtures(registry.host, 'echo resolving; exit 3\n'), dockerConfig(registry.host));
    expect(failing.result).toMatchObject({ outcome: 'failed', reason: 'EnvImageBuildFailed' });
    expect(failing.result.message).toMatch(/setup exited 3: resolving/);

    const full = runPod(
      fixtures(registry.host, 'head -c 4000000 /dev/zero > big.bin\n'),
      dockerConfig(registry.host),
      { envTmpfsBytes: 1_000_000 },
    );
    expect(full.result).toMatchObject({ outcome: 'failed', reason: 'EnvImageOutOfDisk' });

    const refused = runPod(fixtures(registry.host, 'true\n'), dockerConfig(registry.host, 'wrong'));
    expect(refused.result).toMatchObject({ outcome: 'failed', reason: 'RegistryUnauthorized' });
  });

  it('classifies the prepare step from its status file', () => {
    expect(buildStepFailure('pack 0', '')).toBeUndefined();
    expect(buildStepFailure('checkout 128', 'fatal: not found')).toMatchObject({ reason: 'CheckoutFailed' });
    expect(buildStepFailure('pack 2', 'tar: write error: No space left on device')).toMatchObject({
      reason: 'EnvImageOutOfDisk',
    });
    expect(buildStepFailure('', '')).toMatchObject({ reason: 'EnvImageBuildFailed' });
  });
});
