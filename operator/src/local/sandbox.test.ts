import { describe, expect, it } from 'vitest';
import { objectNameErrors } from '../api/index.ts';
import { initialStatus } from '../pipeline/pipeline.ts';
import { bwrapArgs, sandboxSetupFailed, stageEnv, stageReadOnlyPaths } from './executor.ts';
import { isLocalRepository } from './repo-mirror.ts';
import { reopenFailed } from './run.ts';
import { instanceSegment } from './state.ts';
import { isStaleLock } from './state-lock.ts';

describe('stage environment', () => {
  const parent = {
    PATH: '/usr/bin:/root/.cargo/bin',
    LANG: 'C.UTF-8',
    HOME: '/root',
    HTTPS_PROXY: 'http://proxy:3128',
    no_proxy: 'localhost',
    SSL_CERT_FILE: '/etc/ssl/certs/ca-certificates.crt',
    PIP_INDEX_URL: 'https://mirror/simple',
    PYENV_ROOT: '/root/.pyenv',
    AWS_SECRET_ACCESS_KEY: 'aws-secret',
    KUBECONFIG: '/root/.kube/config',
    GOOGLE_APPLICATION_CREDENTIALS: '/root/gcp.json',
    OPENAI_API_KEY: 'sk-x',
    SOME_TOOL_TOKEN: 't',
  };

  it('is an allowlist: search path, locale, proxies, CA bundle, toolchain homes, index settings', () => {
    const env = stageEnv(parent, '/w/home', '/c');
    expect(env).toMatchObject({
      PATH: parent.PATH,
      LANG: 'C.UTF-8',
      HTTPS_PROXY: parent.HTTPS_PROXY,
      no_proxy: 'localhost',
      SSL_CERT_FILE: parent.SSL_CERT_FILE,
      PIP_INDEX_URL: parent.PIP_INDEX_URL,
      PYENV_ROOT: '/root/.pyenv',
      RUSTUP_HOME: '/root/.rustup',
      HOME: '/w/home',
    });
    for (const name of [
      'AWS_SECRET_ACCESS_KEY',
      'KUBECONFIG',
      'GOOGLE_APPLICATION_CREDENTIALS',
      'OPENAI_API_KEY',
      'SOME_TOOL_TOKEN',
    ])
      expect(env[name], name).toBeUndefined();
  });

  it('binds toolchain homes and PATH entries read-only, never HOME or an ancestor of it', () => {
    const paths = stageReadOnlyPaths({
      env: { ...parent, PATH: '/usr/bin:/root/.cargo/bin:/root:/:/opt/tools/bin:relative/bin' },
      home: '/root',
      agentRoots: ['/srv/scaleswe/operator/src'],
      cloneURL: 'file:///data/repos/calc',
    });
    expect(paths).toEqual(
      expect.arrayContaining([
        '/root/.pyenv',
        '/root/.rustup',
        '/root/.cargo/bin',
        '/opt/tools/bin',
        '/data/repos/calc',
      ]),
    );
    for (const hidden of ['/root', '/', 'relative/bin']) expect(paths).not.toContain(hidden);
    expect(
      stageReadOnlyPaths({ env: {}, home: '/root', agentRoots: [], cloneURL: 'https://github.com/a/b.git' }),
    ).toEqual(['/root/.rustup']);
  });

  it('bubblewrap starts from an empty root: no `--ro-bind / /`, a fresh /tmp before the binds under it', () => {
    const args = bwrapArgs({ workDir: '/tmp/s/work', cacheDir: '/tmp/s/cache', readOnly: ['/tmp/repo'] }, [
      'true',
    ]);
    const joined = args.join(' ');
    expect(joined).not.toContain('--ro-bind / /');
    expect(joined).not.toMatch(/--ro-bind(-try)? \/etc \/etc/);
    expect(joined).toContain('--ro-bind-try /etc/ssl /etc/ssl');
    expect(args.indexOf('/tmp')).toBeLessThan(args.indexOf('/tmp/repo'));
    expect(args.slice(-1)).toEqual(['true']);
    // Its own network namespace (never the host's), held until slirp4netns has wired it.
    expect(args).toContain('--unshare-all');
    expect(args).not.toContain('--share-net');
    expect(joined).toContain('--info-fd 3 --block-fd 4');
  });

  it("binds systemd-resolved's upstream list over /etc/resolv.conf when told to", () => {
    const view = { workDir: '/w', cacheDir: '/c', readOnly: [] };
    const upstream = '/run/systemd/resolve/resolv.conf';
    expect(bwrapArgs({ ...view, resolvConf: upstream }, ['true']).join(' ')).toContain(
      `--ro-bind ${upstream} /etc/resolv.conf`,
    );
    expect(bwrapArgs({ ...view, resolvConf: '/etc/resolv.conf' }, ['true']).join(' ')).not.toContain(
      '--ro-bind /etc/resolv.conf /etc/resolv.conf',
    );
  });
});

describe('a rerun after an infrastructure failure', () => {
  const failed = {
    ...initialStatus({ now: new Date(0), maxAttempts: 2 }),
    phase: 'Failed' as const,
    attempts: { env: 2, tests: 0, prompt: 0, verify: 0 },
    lastError: { stage: 'env' as const, reason: 'DiskFull', message: 'full', time: '1970-01-01T00:00:00Z' },
    completedAt: '1970-01-01T00:00:00Z',
  };

  it('reopens the failed stage with a fresh budget, attempts kept (so attempt numbers never repeat)', () => {
    const reopened = reopenFailed(failed, new Date(1000))!;
    expect(reopened.phase).toBe('Env');
    expect(reopened.completedAt).toBeUndefined();
    expect(reopened.attempts).toEqual(failed.attempts);
    expect(reopened.retriedAttempts?.env).toBe(2);
  });

  it('leaves verdicts and running instances alone', () => {
    expect(
      reopenFailed(
        {
          ...failed,
          phase: 'Rejected',
          lastError: { ...failed.lastError, reason: 'NoFailToPass' },
        },
        new Date(),
      ),
    ).toBeUndefined();
    expect(reopenFailed({ ...failed, phase: 'Env' }, new Date())).toBeUndefined();
  });
});

describe('state directory lock', () => {
  const facts = { host: 'h', startOf: (pid: number) => (pid === 10 ? '500' : undefined) };
  it('is stale when its process is gone or its pid was reused, never for another host', () => {
    expect(isStaleLock({ pid: 10, start: '500', host: 'h' }, facts)).toBe(false);
    expect(isStaleLock({ pid: 11, start: '500', host: 'h' }, facts)).toBe(true);
    expect(isStaleLock({ pid: 10, start: '499', host: 'h' }, facts)).toBe(true);
    expect(isStaleLock({ pid: 11, start: '1', host: 'other' }, facts)).toBe(false);
  });
});

describe('names as paths', () => {
  it('refuses what the API server refuses, in its words', () => {
    expect(objectNameErrors('Bad_Name/../x')).toEqual([
      `metadata.name: Invalid value: "Bad_Name/../x": a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')`,
    ]);
    expect(objectNameErrors('my-run.v2')).toEqual([]);
    expect(objectNameErrors('a'.repeat(254))[0]).toBe(
      `metadata.name: Invalid value: "${'a'.repeat(254)}": must be no more than 253 characters`,
    );
  });

  it('uses only owner__repo-<PR> instance ids as path segments', () => {
    expect(instanceSegment('acme__calc-3')).toBe('acme__calc-3');
    for (const bad of ['../../etc', 'acme/x__y-1', '..', 'acme__calc-3/../../x'])
      expect(() => instanceSegment(bad), bad).toThrow(/instance id/);
  });
});

describe('a sandbox that bwrap could not build', () => {
  const crash = (message: string) => ({
    stage: 'env' as const,
    outcome: 'failed' as const,
    reason: 'AgentCrashed',
    message,
    tokensUsed: 0,
    durationMs: 5,
    trajectories: [],
  });
  it("is started again at once only when bwrap's own set-up failed", () => {
    expect(
      sandboxSetupFailed(crash('agent exited 1: bwrap: loopback: Failed RTM_NEWADDR: No child processes\n')),
    ).toBe(true);
    expect(sandboxSetupFailed(crash('agent exited 1: Error: boom\n    at x'))).toBe(false);
    expect(sandboxSetupFailed({ ...crash('agent exited 1: bwrap: x'), reason: 'DeadlineExceeded' })).toBe(
      false,
    );
    // The sandbox or slirp4netns died before the network was up: the stage was still blocked.
    expect(
      sandboxSetupFailed({
        ...crash("the stage sandbox's network: the sandbox exited before its network was set up"),
        reason: 'SandboxNetworkFailed',
      }),
    ).toBe(true);
  });
});

describe('where a stage fetches its base commit', () => {
  it('uses repositories on this machine as they are, and mirrors only remote ones', () => {
    expect(isLocalRepository('/work/repos/calc')).toBe(true);
    expect(isLocalRepository('file:///work/repos/calc')).toBe(true);
    expect(isLocalRepository('https://github.com/acme/calc.git')).toBe(false);
    expect(isLocalRepository('http://127.0.0.1:8080/acme/calc.git')).toBe(false);
    expect(isLocalRepository('git@github.com:acme/calc.git')).toBe(false);
  });
});
