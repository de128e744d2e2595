import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { flagName, OperatorFlags, parseOperatorFlags } from './operator-flags.ts';

const flags = (values: Record<string, string | undefined>) => {
  const parsed = parseOperatorFlags(values);
  if (!parsed.success) throw new Error(parsed.errors.join('\n'));
  return parsed.flags;
};
const errors = (values: Record<string, string | undefined>) => {
  const parsed = parseOperatorFlags(values);
  return parsed.success ? [] : parsed.errors;
};

describe('operator flags', () => {
  it('default as documented (operator/src/controller/README.md)', () => {
    expect(flags({})).toEqual({
      kubeconfig: undefined,
      namespace: undefined,
      leaderElect: true,
      leaderElectionId: 'scaleswe-operator',
      leaderElectionNamespace: undefined,
      leaseDuration: 15,
      renewDeadline: 10,
      retryPeriod: 2,
      metricsPort: 8080,
      instanceWorkers: 8,
      runWorkers: 2,
      qps: 50,
      burst: 100,
      resync: 300,
      gitCacheDir: undefined,
      identity: undefined,
      gatewayUrl: undefined,
      gatewayService: undefined,
      gatewaySecretFile: undefined,
      gatewayPort: 8081,
      gatewayPodSelector: undefined,
      sandboxDenyCidrs: [],
      environmentRegistry: undefined,
      environmentPushSecret: undefined,
      environmentPullSecret: undefined,
      environmentPlainHttp: false,
      storeEndpoint: undefined,
      storeBucket: undefined,
      storeRegion: undefined,
      storePrefix: undefined,
      storeForcePathStyle: true,
      storeSweepInterval: 3600,
    });
  });

  it('types the strings commander hands over; a blank env var is unset', () => {
    expect(
      flags({
        namespace: '',
        leaderElect: 'false',
        leaseDuration: '4',
        retryPeriod: '0.5',
        metricsPort: '0',
        qps: '12.5',
        burst: '7',
        gatewayUrl: 'http://gw.example:8081',
        gatewayPort: '0',
        gatewayPodSelector: 'app.kubernetes.io/name=scaleswe-operator, app.kubernetes.io/instance=rel',
        sandboxDenyCidrs: '192.0.2.10/32, 2001:db8::1,',
      }),
    ).toMatchObject({
      namespace: undefined,
      leaderElect: false,
      leaseDuration: 4,
      // 2/3 of the lease unless given
      renewDeadline: 2,
      retryPeriod: 0.5,
      metricsPort: 0,
      qps: 12.5,
      burst: 7,
      gatewayUrl: 'http://gw.example:8081',
      gatewayPort: 0,
      gatewayPodSelector: {
        'app.kubernetes.io/name': 'scaleswe-operator',
        'app.kubernetes.io/instance': 'rel',
      },
      sandboxDenyCidrs: ['192.0.2.10/32', '2001:db8::1'],
    });
    expect(flags({ leaseDuration: '1' }).renewDeadline).toBe(1);
    expect(flags({ leaseDuration: '30', renewDeadline: '25' }).renewDeadline).toBe(25);
    expect(flags({ leaderElect: 'true' }).leaderElect).toBe(true);
  });

  it.each([
    ['qps', 'x', '--qps: must be a positive number, got "x"'],
    ['qps', '0', '--qps: must be a positive number, got "0"'],
    ['qps', '1e3', '--qps: must be a positive number, got "1e3"'],
    ['burst', '1.5', '--burst: must be a positive integer, got "1.5"'],
    ['instanceWorkers', '-1', '--instance-workers: must be a positive integer, got "-1"'],
    ['resync', 'NaN', '--resync: must be a positive number, got "NaN"'],
    ['metricsPort', '65536', '--metrics-port: must be a port (0..65535), got "65536"'],
    ['gatewayPort', '80.5', '--gateway-port: must be a port (0..65535), got "80.5"'],
    ['leaderElect', 'yes', '--leader-elect: must be true or false, got "yes"'],
    ['leaderElect', 'False', '--leader-elect: must be true or false, got "False"'],
    ['gatewayUrl', 'gw:8081', '--gateway-url: must be an http(s) URL, got "gw:8081"'],
    ['gatewayPodSelector', 'a=b,c', '--gateway-pod-selector: must be labels k=v,k2=v2, got "a=b,c"'],
    [
      'sandboxDenyCidrs',
      '10.0.0.0/8,apiserver.local,10.0.0.0/33',
      '--sandbox-deny-cidrs: must be IP addresses or CIDRs, got "apiserver.local,10.0.0.0/33"',
    ],
  ])('rejects --%s=%s naming the flag', (key, value, message) => {
    expect(errors({ [key]: value })).toEqual([message]);
  });

  it('reports every bad flag at once, and an option the schema does not know', () => {
    expect(errors({ qps: 'x', retryPeriod: '', leaseDuration: '-', renewDeadlines: '3' })).toEqual([
      '--lease-duration: must be a positive number, got "-"',
      '--qps: must be a positive number, got "x"',
      '--renew-deadlines: not in the OperatorFlags schema',
    ]);
  });

  it('covers exactly the options operator.ts declares', () => {
    const main = readFileSync(join(import.meta.dirname, 'operator.ts'), 'utf8');
    const declared = [...main.matchAll(/\.option\(\s*'(--[a-z-]+)/g)].map((m) => m[1]);
    expect(Object.keys(OperatorFlags.in.shape).map(flagName).sort()).toEqual(declared.sort());
  });

  it('the operator exits 2 with the errors on invalid flags', () => {
    const run = spawnSync(
      process.execPath,
      [join(import.meta.dirname, 'operator.ts'), '--qps', 'x', '--leader-elect=maybe'],
      { encoding: 'utf8', env: { ...process.env, KUBE_BURST: 'lots' }, timeout: 30_000 },
    );
    expect(run.status, run.stderr).toBe(2);
    expect(run.stderr).toContain('--qps: must be a positive number, got "x"');
    expect(run.stderr).toContain('--leader-elect: must be true or false, got "maybe"');
    // an env var's value is named by its flag
    expect(run.stderr).toContain('--burst: must be a positive integer, got "lots"');
  });
});
