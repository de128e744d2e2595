import { spawn } from 'node:child_process';
import { createServer } from 'node:net';
import { describe, expect, it } from 'vitest';
import {
  attachSetupNetwork,
  childPidIn,
  SANDBOX_BLOCK_FD,
  SANDBOX_INFO_FD,
  SYSTEMD_UPSTREAM_RESOLV_CONF,
  sandboxResolvConf,
} from './setup-network.ts';

describe('the local sandbox network', () => {
  it("reads the child's pid from bwrap's multi-line info JSON once it is complete", () => {
    expect(childPidIn('{\n    "child-pid": 4')).toBe(4);
    expect(childPidIn('{\n    "child-pid": 28103,\n    "net-namespace": 1\n}')).toBe(28103);
    expect(childPidIn('{\n    "chi')).toBeUndefined();
  });

  it("keeps the host's resolvers unless they are loopback-only stubs", () => {
    expect(sandboxResolvConf('nameserver 10.255.255.53\n', true)).toBe('/etc/resolv.conf');
    expect(sandboxResolvConf('# stub\nnameserver 127.0.0.53\noptions edns0\n', true)).toBe(
      SYSTEMD_UPSTREAM_RESOLV_CONF,
    );
    expect(sandboxResolvConf('nameserver 127.0.0.53\n', false)).toBe('/etc/resolv.conf');
    expect(sandboxResolvConf('nameserver 127.0.0.1\nnameserver 9.9.9.9\n', true)).toBe('/etc/resolv.conf');
  });

  // Real bwrap + slirp4netns: a service on the host's 127.0.0.1 is out of reach, the sandbox has
  // its own address and a default route (what the registries are reached through).
  it('gives a blocked bwrap sandbox a NAT network without the host loopback', async () => {
    const service = createServer((s) => s.end('host service\n'));
    await new Promise<void>((r) => service.listen(0, '127.0.0.1', r));
    const port = (service.address() as { port: number }).port;
    const probe = [
      'import socket, subprocess',
      "print(subprocess.run(['ip', '-4', 'route'], capture_output=True, text=True).stdout.strip())",
      'for host in ("127.0.0.1", "10.0.2.2"):',
      '    try:',
      `        socket.create_connection((host, ${port}), timeout=3); print(host, "reached")`,
      '    except OSError as e:',
      '        print(host, "refused", type(e).__name__)',
    ].join('\n');
    const sandbox = spawn(
      'bwrap',
      [
        ...['--ro-bind', '/', '/', '--dev', '/dev', '--proc', '/proc', '--unshare-all', '--die-with-parent'],
        ...['--info-fd', String(SANDBOX_INFO_FD), '--block-fd', String(SANDBOX_BLOCK_FD)],
        ...['python3', '-c', probe],
      ],
      { stdio: ['ignore', 'pipe', 'pipe', 'pipe', 'pipe'] },
    );
    let out = '';
    sandbox.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
    });
    sandbox.stderr!.on('data', (d: Buffer) => {
      out += d.toString();
    });
    const closed = new Promise((r) => sandbox.on('close', r));
    const network = await attachSetupNetwork(sandbox);
    await closed;
    network.stop();
    service.close();
    expect(out).toMatch(/^default via 10\.0\.2\.2 dev tap0/m);
    expect(out).toContain('127.0.0.1 refused');
    expect(out).toContain('10.0.2.2 refused');
    expect(out).not.toContain('reached');
  }, 60_000);

  it('fails with the reason when the sandbox ends before its network is set up', async () => {
    const sandbox = spawn('true', [], { stdio: ['ignore', 'ignore', 'ignore', 'pipe', 'pipe'] });
    await expect(attachSetupNetwork(sandbox)).rejects.toThrow(/exited before its network was set up/);
  });
});
