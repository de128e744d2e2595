import { readFileSync } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { sh, shellQuote } from './exec.ts';
import type { OfflineTool } from './offline.ts';

/**
 * Copies of a prepared workspace, so that several test runs (mutants) can run at once. A copy
 * at another path may still run the original tree: editable installs (.pth files, egg-links),
 * virtualenv scripts and absolute symlinks name the workspace's own path. So a copy is run
 * with itself mounted over the original path (a private mount namespace, bubblewrap or
 * unshare, as for offline test commands); where no tool can mount, copies run at their own
 * path only when nothing in the workspace names that path, else runs stay one at a time.
 */

export type BindTool = Exclude<OfflineTool, 'none'> | 'none';

/**
 * `cmd` run with directory `from` mounted over `to` and `to` as its working directory, with
 * only loopback when `offline`. Pure.
 */
export function boundCommand(
  cmd: string,
  tool: Exclude<BindTool, 'none'>,
  bind: { from: string; to: string },
  offline: boolean,
): string {
  const quoted = shellQuote(cmd);
  const from = shellQuote(bind.from);
  const to = shellQuote(bind.to);
  if (tool === 'bwrap')
    return `bwrap --dev-bind / / --bind ${from} ${to} --chdir ${to}${offline ? ' --unshare-net' : ''} --unshare-user --die-with-parent bash -c ${quoted}`;
  // The working directory must be entered after the mount, or it is still the original.
  const prelude = `${offline ? 'ip link set lo up && ' : ''}mount --bind ${from} ${to} && cd ${to} && exec bash -c "$0"`;
  return `unshare --user --map-current-user --mount${offline ? ' --net' : ''} bash -c ${shellQuote(prelude)} ${quoted}`;
}

let detected: Promise<BindTool> | undefined;

/** The first tool that can mount one directory over another here (checked once, for real). */
export function detectBindTool(): Promise<BindTool> {
  detected ??= (async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'scaleswe-bind-'));
    try {
      await mkdir(path.join(dir, 'a'));
      await mkdir(path.join(dir, 'b'));
      await writeFile(path.join(dir, 'b', 'marker'), 'copy');
      for (const tool of ['bwrap', 'unshare'] as const) {
        const cmd = boundCommand('cat marker', tool, { from: `${dir}/b`, to: `${dir}/a` }, false);
        const r = await sh(cmd, { cwd: dir, timeoutMs: 10_000 });
        if (r.code === 0 && r.output.trim() === 'copy') return tool;
      }
      return 'none';
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  })();
  return detected;
}

/**
 * CPUs this process may use: the scheduler's affinity (os.availableParallelism), capped by a
 * cgroup v2 CPU quota (a pod's limit), which affinity does not show.
 */
export function cpuBudget(): number {
  let quota = Number.POSITIVE_INFINITY;
  try {
    quota = cpuQuota(readFileSync('/sys/fs/cgroup/cpu.max', 'utf8'));
  } catch {
    // no cgroup v2 quota file: affinity only
  }
  return Math.max(1, Math.min(os.availableParallelism(), quota));
}

/** CPUs a cgroup v2 `cpu.max` grants (`<quota> <period>`, or `max <period>`). Pure. */
export function cpuQuota(cpuMax: string): number {
  const [quota, period] = cpuMax.trim().split(/\s+/);
  if (quota === undefined || quota === 'max' || !period) return Number.POSITIVE_INFINITY;
  return Math.max(1, Math.floor(Number(quota) / Number(period)));
}

/** Does anything in the workspace name its own absolute path (a file's text or a symlink)? */
async function namesItsOwnPath(dir: string): Promise<boolean> {
  const q = shellQuote(dir);
  const r = await sh(
    `grep -rIlF --exclude-dir=.git -m1 -- ${q} ${q} | head -1; find ${q} -path ${shellQuote(`${dir}/.git`)} -prune -o -lname ${shellQuote(`${dir}/*`)} -print | head -1`,
    { cwd: dir, timeoutMs: 300_000 },
  );
  return r.output.trim() !== '';
}

/** One place a test run can happen: the workspace directory, seen by the command at `seenAt`. */
export interface RunPlace {
  dir: string;
  /** The path the command sees `dir` at (mounted there); undefined: at `dir` itself. */
  seenAt?: string;
}

/**
 * Up to `wanted` places to run tests at once: the workspace itself and copies of it beside
 * it. Fewer (down to the workspace alone) when copies could import the original tree; `note`
 * says why. `release` removes the copies. `bindTool`: the mounting tool (default: detected).
 */
export async function workspaceCopies(
  dir: string,
  wanted: number,
  bindTool?: BindTool,
): Promise<{ places: RunPlace[]; note?: string; release: () => Promise<void> }> {
  const places: RunPlace[] = [{ dir }];
  const copies: string[] = [];
  const release = async () => {
    for (const c of copies) await rm(c, { recursive: true, force: true });
  };
  if (wanted <= 1) return { places, release };
  const tool = bindTool ?? (await detectBindTool());
  if (tool === 'none' && (await namesItsOwnPath(dir)))
    return {
      places,
      release,
      note: 'one at a time: the workspace names its own path and no tool here can mount a copy over it',
    };
  for (let k = 1; k < wanted; k++) {
    const copy = `${dir}.copy-${k}`;
    await rm(copy, { recursive: true, force: true });
    copies.push(copy);
    const r = await sh(`cp -a --reflink=auto ${shellQuote(dir)} ${shellQuote(copy)}`, {
      cwd: path.dirname(dir),
      timeoutMs: 600_000,
    });
    if (r.code !== 0) {
      await rm(copy, { recursive: true, force: true });
      copies.pop();
      return {
        places,
        release,
        note: `${places.length} at a time: copying the workspace failed: ${r.output.trim().slice(-300)}`,
      };
    }
    places.push(tool === 'none' ? { dir: copy } : { dir: copy, seenAt: dir });
  }
  return { places, release };
}
