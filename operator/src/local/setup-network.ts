import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import type { Readable, Writable } from 'node:stream';

/**
 * The local stage sandbox's own network. A stage's network namespace is private (bwrap
 * --unshare-net) and slirp4netns gives it a user-mode NAT to the outside world with the
 * host's loopback cut off (--disable-host-loopback): installs reach the package registries,
 * code of the mined repository cannot reach services listening on the user's 127.0.0.1
 * (the run's LLM gateway included: the agent runner reaches it through a Unix socket bound
 * into the sandbox, llm/socket-relay.ts). Test commands get loopback only (agents/offline.ts).
 */

/** File descriptors of the sandbox process: bwrap writes its child's pid to one, waits on the other. */
export const SANDBOX_INFO_FD = 3;
export const SANDBOX_BLOCK_FD = 4;

/** slirp4netns's own: it writes "1" to the ready fd, and exits when the exit fd closes. */
const SLIRP_READY_FD = 3;
const SLIRP_EXIT_FD = 4;

let slirpChecked: boolean | undefined;

/** slirp4netns installed (Debian's `slirp4netns`, the one rootless podman uses). */
export function slirpAvailable(): boolean {
  slirpChecked ??= spawnSync('slirp4netns', ['--version'], { stdio: 'ignore' }).status === 0;
  return slirpChecked;
}

/** The slirp4netns command line that wires `pid`'s network namespace (pure). */
export function slirpArgs(pid: number): string[] {
  return [
    '--configure',
    '--mtu=65520',
    '--disable-host-loopback',
    `--ready-fd=${SLIRP_READY_FD}`,
    `--exit-fd=${SLIRP_EXIT_FD}`,
    String(pid),
    'tap0',
  ];
}

/** The sandbox's child pid from bwrap's --info-fd JSON, once it has arrived (pure). */
export function childPidIn(info: string): number | undefined {
  const m = /"child-pid"\s*:\s*(\d+)/.exec(info);
  return m ? Number(m[1]) : undefined;
}

const ignore = () => undefined;

export interface SetupNetwork {
  stop(): void;
}

/**
 * Gives the network to a sandbox started with --info-fd/--block-fd on SANDBOX_INFO_FD/
 * SANDBOX_BLOCK_FD (pipes) and lets it run. Rejects (and leaves the sandbox blocked, for the
 * caller to kill) when slirp4netns cannot start or wire the namespace within `timeoutMs`.
 */
export function attachSetupNetwork(sandbox: ChildProcess, timeoutMs = 30_000): Promise<SetupNetwork> {
  const info = sandbox.stdio[SANDBOX_INFO_FD] as Readable;
  const block = sandbox.stdio[SANDBOX_BLOCK_FD] as Writable;
  // These are socket pairs: a sandbox or slirp4netns that dies resets them (ECONNRESET), which
  // must not crash the run; the process's own exit tells what happened.
  for (const pipe of [info, block]) pipe.on('error', ignore);
  return new Promise((resolve, reject) => {
    let slirp: ChildProcess | undefined;
    let settled = false;
    let stderr = '';
    let text = '';
    const fail = (why: string) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      slirp?.kill('SIGKILL');
      reject(
        new Error(`the stage sandbox's network: ${why}${stderr ? `: ${stderr.trim().slice(-500)}` : ''}`),
      );
    };
    const timer = setTimeout(() => fail(`not ready after ${timeoutMs} ms`), timeoutMs);
    sandbox.once('exit', () => fail('the sandbox exited before its network was set up'));
    const onInfo = (chunk: Buffer) => {
      text += chunk.toString();
      const pid = childPidIn(text);
      if (pid === undefined || slirp) return;
      info.off('data', onInfo);
      info.resume();
      slirp = spawn('slirp4netns', slirpArgs(pid), { stdio: ['ignore', 'ignore', 'pipe', 'pipe', 'pipe'] });
      for (const fd of [SLIRP_READY_FD, SLIRP_EXIT_FD]) (slirp.stdio[fd] as Readable).on('error', ignore);
      slirp.stderr?.on('data', (d: Buffer) => {
        stderr = (stderr + d.toString()).slice(-2000);
      });
      slirp.once('error', (error) => fail(error.message));
      slirp.once('exit', (code) => fail(`slirp4netns exited ${code}`));
      (slirp.stdio[SLIRP_READY_FD] as Readable).once('data', () => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        const running = slirp!;
        block.end('1');
        resolve({
          stop: () => {
            // Closing its exit fd ends it; the kill covers a slirp4netns that hangs.
            (running.stdio[SLIRP_EXIT_FD] as Writable).destroy();
            running.kill('SIGKILL');
          },
        });
      });
    };
    info.on('data', onInfo);
  });
}

/** systemd-resolved's list of the real upstream servers, next to its 127.0.0.53 stub. */
export const SYSTEMD_UPSTREAM_RESOLV_CONF = '/run/systemd/resolve/resolv.conf';

/**
 * The resolv.conf a sandbox gets (pure): the host's, unless it names only loopback resolvers
 * (systemd-resolved's stub, dnsmasq), which the sandbox cannot reach: then the upstream list
 * systemd-resolved keeps, when there is one (what rootless podman does too).
 */
export function sandboxResolvConf(hostResolvConf: string, upstreamExists: boolean): string {
  const servers = [...hostResolvConf.matchAll(/^\s*nameserver\s+(\S+)/gm)].map((m) => m[1]!);
  const loopbackOnly = servers.length > 0 && servers.every((s) => s.startsWith('127.') || s === '::1');
  return loopbackOnly && upstreamExists ? SYSTEMD_UPSTREAM_RESOLV_CONF : '/etc/resolv.conf';
}
