import { sh, shellQuote } from './exec.ts';

/**
 * Test commands run without network: setup may reach the registries, tests may not (a test
 * that downloads data otherwise hangs in a retry loop, or passes only while a server is up).
 * The stage already runs in a sandbox (bubblewrap, or a pod); inside it a test command gets
 * a network namespace of its own with only loopback, through whichever tool works here.
 */
export type OfflineTool = 'bwrap' | 'unshare' | 'none';

/**
 * `cmd` wrapped so that it runs with loopback only, and `hide` (absolute directories) empty
 * where the tool can mount over them (bwrap, unshare). Pure.
 */
export function offlineCommand(cmd: string, tool: OfflineTool, hide: readonly string[] = []): string {
  const quoted = `'${cmd.replace(/'/g, `'\\''`)}'`;
  switch (tool) {
    case 'bwrap': {
      // A new user + network namespace over the same filesystem; bwrap brings loopback up.
      const tmpfs = hide.map((dir) => `--tmpfs ${shellQuote(dir)} `).join('');
      return `bwrap --dev-bind / / ${tmpfs}--unshare-net --unshare-user --die-with-parent bash -c ${quoted}`;
    }
    case 'unshare': {
      // Same uid (mapped), own network namespace; loopback starts down, so raise it first.
      const mounts = hide.map((dir) => `mount -t tmpfs tmpfs ${shellQuote(dir)} && `).join('');
      const mount = hide.length ? ' --mount' : '';
      const prelude = `ip link set lo up && ${mounts}exec bash -c "$0"`;
      return `unshare --user --map-current-user --net${mount} bash -c ${shellQuote(prelude)} ${quoted}`;
    }
    case 'none':
      return cmd;
  }
}

let detected: Promise<OfflineTool> | undefined;

/**
 * The first tool that can create a loopback-only network namespace in this sandbox (pods
 * under a RuntimeDefault seccomp profile usually cannot: then 'none', and the stage says so).
 */
export function detectOfflineTool(cwd: string): Promise<OfflineTool> {
  detected ??= (async () => {
    for (const tool of ['bwrap', 'unshare'] as const) {
      const r = await sh(offlineCommand('true', tool), { cwd, timeoutMs: 10_000 });
      if (r.code === 0) return tool;
    }
    return 'none';
  })();
  return detected;
}
