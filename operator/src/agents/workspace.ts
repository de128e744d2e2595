import { mkdir, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { ScaleSweError } from '../api/index.ts';
import { type ExecResult, sh, shellQuote } from './exec.ts';

/**
 * A checkout of the base commit only. Agents read `git log --all` and would find the fix in
 * history otherwise, so there is no remote, no refs but a detached HEAD, no reflog, no FETCH_HEAD.
 */
export interface Workspace {
  dir: string;
  baseCommit: string;
  /** Tracked-file changes made by the setup script, re-applied by resetToSetup. */
  setupDiff: string;
}

const GIT_ENV = {
  GIT_TERMINAL_PROMPT: '0',
  GIT_AUTHOR_NAME: 'scaleswe',
  GIT_AUTHOR_EMAIL: 'scaleswe@localhost',
  GIT_COMMITTER_NAME: 'scaleswe',
  GIT_COMMITTER_EMAIL: 'scaleswe@localhost',
};

/** A git step on the workspace failed: an infrastructure failure (retried), never a verdict. */
export class WorkspaceError extends ScaleSweError {
  declare readonly reason: 'CheckoutFailed' | 'ResetFailed';
}

export async function git(
  dir: string,
  args: string,
  input?: string,
  timeoutMs = 600_000,
): Promise<ExecResult> {
  return sh(`git ${args}`, { cwd: dir, timeoutMs, env: GIT_ENV, ...(input !== undefined ? { input } : {}) });
}

async function must(dir: string, args: string, reason: WorkspaceError['reason']): Promise<string> {
  const r = await git(dir, args);
  if (r.code !== 0) throw new WorkspaceError(reason, `git ${args}: ${r.output.trim().slice(-2000)}`);
  return r.output;
}

export async function createWorkspace(cloneURL: string, baseCommit: string, dir: string): Promise<Workspace> {
  await rm(dir, { recursive: true, force: true });
  await mkdir(dir, { recursive: true });
  await must(dir, 'init -q .', 'CheckoutFailed');
  const full = await fetchBase(dir, cloneURL, baseCommit);
  await must(dir, `checkout -q --detach ${baseCommit}`, 'CheckoutFailed');
  // The shallow fetch brought the base commit's objects only; a full fetch must be pruned.
  await stripHistory(dir, full);
  return { dir, baseCommit, setupDiff: '' };
}

/** Fetches the base commit into `dir`; true when it took a full fetch (to be pruned). */
async function fetchBase(dir: string, cloneURL: string, baseCommit: string): Promise<boolean> {
  const url =
    /^[a-z][a-z0-9+.-]*:\/\//i.test(cloneURL) || cloneURL.includes('@') ? cloneURL : path.resolve(cloneURL);
  // Fast path: fetch just the commit (servers such as GitHub and local repos allow want-by-sha).
  const shallow = await git(dir, `fetch -q --depth=1 --no-tags ${shellQuote(url)} ${baseCommit}`);
  if (shallow.code === 0) return false;
  // Fallback: full fetch into a temporary ref, then strip everything past the base.
  await must(
    dir,
    `fetch -q --no-tags ${shellQuote(url)} '+refs/heads/*:refs/scaleswe-tmp/*'`,
    'CheckoutFailed',
  );
  return true;
}

/**
 * An existing prepared checkout (a restored environment) as a workspace: its tracked changes
 * are the setup's, and `head` is the commit it was prepared at.
 */
export async function takeWorkspace(dir: string, baseCommit: string): Promise<Workspace & { head: string }> {
  const head = (await must(dir, 'rev-parse HEAD', 'CheckoutFailed')).trim();
  const setupDiff = await must(dir, 'diff --binary', 'CheckoutFailed');
  return { dir, baseCommit, setupDiff, head };
}

/**
 * Moves a prepared checkout to another base commit, keeping what git ignores or excludes
 * (the installed environment). The old commit's objects are pruned with the rest, so the
 * stage sees only its own base's history.
 */
export async function switchBase(ws: Workspace, cloneURL: string, baseCommit: string): Promise<void> {
  await must(ws.dir, 'reset -q --hard HEAD', 'CheckoutFailed');
  await must(ws.dir, 'clean -fdq', 'CheckoutFailed');
  await fetchBase(ws.dir, cloneURL, baseCommit);
  await must(ws.dir, `checkout -q -f --detach ${baseCommit}`, 'CheckoutFailed');
  await must(ws.dir, 'clean -fdq', 'CheckoutFailed');
  await stripHistory(ws.dir, true);
  ws.baseCommit = baseCommit;
  ws.setupDiff = '';
}

/** Remove every ref, reflog and unreachable object so only the base commit's history remains. */
async function stripHistory(dir: string, prune: boolean): Promise<void> {
  const refs = (await must(dir, "for-each-ref --format='%(refname)'", 'CheckoutFailed'))
    .split('\n')
    .filter(Boolean);
  for (const ref of refs) await must(dir, `update-ref -d ${shellQuote(ref)}`, 'CheckoutFailed');
  await rm(path.join(dir, '.git', 'FETCH_HEAD'), { force: true });
  await rm(path.join(dir, '.git', 'ORIG_HEAD'), { force: true });
  await rm(path.join(dir, '.git', 'packed-refs'), { force: true });
  await must(dir, 'reflog expire --expire=now --all', 'CheckoutFailed');
  if (prune) await must(dir, 'gc -q --prune=now', 'CheckoutFailed');
}

/** Applies a unified diff with git. Returns the error text, or undefined when applied. */
export async function applyPatch(
  ws: Workspace,
  patch: string,
  opts: { index?: boolean } = {},
): Promise<string | undefined> {
  if (!patch.trim()) return undefined;
  const body = patch.endsWith('\n') ? patch : `${patch}\n`;
  // --index: stage the change too, so a later diff against the index shows only newer edits.
  const flags = opts.index ? '--index --whitespace=nowarn' : '--whitespace=nowarn';
  const r = await git(ws.dir, `apply ${flags} -`, body);
  if (r.code === 0) return undefined;
  // Some mined diffs carry offsets that plain apply refuses; retry with less context.
  const fuzzy = await git(ws.dir, `apply ${flags} -C1 -`, body);
  return fuzzy.code === 0 ? undefined : r.output.trim();
}

/**
 * Called after the setup script ran: untracked artifacts it created (.venv, node_modules,
 * target/) are excluded from git so later resets keep them, and tracked changes it made
 * (e.g. a rewritten lockfile) are remembered to be re-applied.
 */
export async function snapshotSetup(ws: Workspace): Promise<void> {
  const untracked = (await git(ws.dir, 'ls-files --others --exclude-standard --directory')).output
    .split('\n')
    .map((l) => l.trim())
    .filter(Boolean);
  if (untracked.length > 0) {
    const exclude = path.join(ws.dir, '.git', 'info', 'exclude');
    await mkdir(path.dirname(exclude), { recursive: true });
    await writeFile(exclude, `${untracked.map((p) => `/${p}`).join('\n')}\n`, { flag: 'a' });
  }
  ws.setupDiff = (await git(ws.dir, 'diff --binary')).output;
}

/** Back to base + setup: drops applied patches and files written since, keeps the environment. */
export async function resetToSetup(ws: Workspace): Promise<void> {
  await must(ws.dir, 'reset -q --hard HEAD', 'ResetFailed');
  await must(ws.dir, 'clean -fdq', 'ResetFailed');
  if (ws.setupDiff.trim()) await applyPatch(ws, ws.setupDiff);
}

/**
 * Diff of the given paths against the index, new files included (e.g. tests an agent wrote).
 * Only untracked paths are marked intent-to-add, and unmarked afterwards, so changes staged
 * earlier with `applyPatch(…, { index: true })` stay out of the diff.
 */
export async function diffPaths(ws: Workspace, paths: string[]): Promise<string> {
  if (paths.length === 0) return '';
  const quoted = paths.map(shellQuote).join(' ');
  const tracked = new Set((await git(ws.dir, `ls-files -- ${quoted}`)).output.split('\n').filter(Boolean));
  const fresh = paths
    .filter((p) => !tracked.has(p))
    .map(shellQuote)
    .join(' ');
  if (fresh) await git(ws.dir, `add -N -- ${fresh}`);
  const r = await git(ws.dir, `diff --binary -- ${quoted}`);
  if (fresh) await git(ws.dir, `rm -q --cached -- ${fresh}`);
  return r.output;
}

/** Back to the pristine base commit, environment included (between recipe attempts). */
export async function resetHard(ws: Workspace): Promise<void> {
  await must(ws.dir, 'reset -q --hard HEAD', 'ResetFailed');
  await must(ws.dir, 'clean -xdfq', 'ResetFailed');
  await writeFile(path.join(ws.dir, '.git', 'info', 'exclude'), '');
  ws.setupDiff = '';
}

/** Paths a patch touches (b/ side), for keeping generated tests apart from the gold change. */
export function patchPaths(patch: string): string[] {
  const out = new Set<string>();
  for (const m of patch.matchAll(/^diff --git a\/(\S+) b\/(\S+)$/gm)) out.add(m[2]!);
  return [...out];
}

export async function listFiles(ws: Workspace): Promise<string[]> {
  return (await git(ws.dir, 'ls-files')).output.split('\n').filter(Boolean);
}

/**
 * Puts `paths` back as the base commit has them (a path the base lacks is removed), so a
 * candidate patch's edits to the hidden tests' files never reach the test run — what
 * SWE-bench's eval script does with `git checkout <base> <test files>` before the test patch.
 */
export async function restoreBasePaths(ws: Workspace, paths: readonly string[]): Promise<void> {
  for (const p of paths) {
    const tracked = (await git(ws.dir, `ls-tree --name-only HEAD -- ${shellQuote(p)}`)).output.trim();
    if (tracked) await must(ws.dir, `checkout -q HEAD -- ${shellQuote(p)}`, 'ResetFailed');
    else await rm(path.join(ws.dir, p), { recursive: true, force: true });
  }
}
