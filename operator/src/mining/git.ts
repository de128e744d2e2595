import { execFile } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, mkdirSync } from 'node:fs';
import { readdir, rename, rm } from 'node:fs/promises';
import { basename, dirname, isAbsolute, join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

/** Thin shell over the git CLI: no prompts, no pager, no user diff drivers, paths unquoted. */
export async function git(gitDir: string, args: readonly string[]): Promise<string> {
  const { stdout } = await run(
    'git',
    ['--git-dir', gitDir, '-c', 'core.quotePath=false', '-c', 'diff.noprefix=false', ...args],
    {
      encoding: 'utf8',
      maxBuffer: 1024 * 1024 * 1024,
      env: { ...process.env, GIT_TERMINAL_PROMPT: '0', GIT_PAGER: 'cat', LC_ALL: 'C' },
    },
  );
  return stdout;
}

/** Temporary clones this process is writing now. */
const cloning = new Set<string>();

/**
 * Temporary clones of `dir` that no clone of this process is writing: left by a process that
 * was killed mid-clone (the `finally` below never ran). The cache belongs to one process at a
 * time (the leading operator, or the CLI holding its state directory).
 */
async function removeAbandonedClones(dir: string): Promise<void> {
  const prefix = `${basename(dir)}.`;
  const names = await readdir(dirname(dir)).catch(() => [] as string[]);
  for (const name of names) {
    const path = join(dirname(dir), name);
    if (name.startsWith(prefix) && name.endsWith('.tmp') && !cloning.has(path))
      await rm(path, { recursive: true, force: true });
  }
}

/**
 * The git directory to read: a local repository as is (work tree or bare), or a bare clone of a
 * URL in `cacheDir`, fetched again on each open so a resumed run sees new merges. An unreachable
 * remote with a cached clone still mines offline.
 */
export async function openRepository(url: string, cacheDir: string): Promise<string> {
  if (isAbsolute(url) && existsSync(url)) {
    try {
      return (await run('git', ['-C', url, 'rev-parse', '--absolute-git-dir'])).stdout.trim();
    } catch (err) {
      // One line, git's own words: "fatal: not a git repository (or any of the parent directories): .git".
      const stderr = String((err as { stderr?: unknown }).stderr ?? '').trim();
      throw new Error(`${url} cannot be opened as a git repository: ${stderr.split('\n')[0] || String(err)}`);
    }
  }
  mkdirSync(cacheDir, { recursive: true });
  const dir = join(cacheDir, `${createHash('sha256').update(url).digest('hex').slice(0, 16)}.git`);
  if (!existsSync(dir)) {
    // Cloned beside and renamed into place: runs sharing a URL clone concurrently, and the
    // loser of the rename uses the winner's clone instead of failing on a half-written dir.
    const tmp = `${dir}.${randomBytes(4).toString('hex')}.tmp`;
    await removeAbandonedClones(dir);
    cloning.add(tmp);
    try {
      // `--` keeps a URL like "-uhttp://x" from being read as an option; ext:: (runs commands) stays off.
      await run('git', ['-c', 'protocol.ext.allow=never', 'clone', '--bare', '--quiet', '--', url, tmp], {
        env: { ...process.env, GIT_TERMINAL_PROMPT: '0', LC_ALL: 'C' },
      }).catch((err: unknown) => {
        throw new Error(cloneFailure(url, tmp, err));
      });
      await rename(tmp, dir).catch((err: NodeJS.ErrnoException) => {
        if (!existsSync(dir)) throw err;
      });
    } finally {
      await rm(tmp, { recursive: true, force: true });
      cloning.delete(tmp);
    }
    return dir;
  }
  try {
    await git(dir, [
      'fetch',
      '--quiet',
      '--prune',
      'origin',
      '+refs/heads/*:refs/heads/*',
      '+refs/tags/*:refs/tags/*',
    ]);
  } catch {
    // Offline or the remote is gone: the cached history is still a valid source.
  }
  return dir;
}

/**
 * Pure: why a clone failed, the same words every time it fails the same way. The message
 * lands in a status condition, where anything that varies per attempt (the temporary clone
 * path, curl's "after 12 ms") would make every retry a new status write; credentials in the
 * URL never appear.
 */
export function cloneFailure(url: string, tmp: string, err: unknown): string {
  const e = err as { stderr?: unknown; code?: unknown; message?: unknown };
  const stderr = typeof e.stderr === 'string' ? e.stderr : '';
  const detail = (stderr.trim() || `exit ${String(e.code ?? e.message ?? 'unknown')}`)
    .split(tmp)
    .join('<clone dir>')
    .replace(/\b\d+ (ms|milliseconds|seconds)\b/g, 'N $1')
    .split('\n')
    .map((line) => line.trim())
    .filter((line) => line !== '')
    .join('; ');
  return `git clone ${redactURL(url)} failed: ${redactURL(detail)}`;
}

/** Pure: user info (a token, a password) removed from every URL in the text. */
export function redactURL(text: string): string {
  return text.replace(/([a-z][a-z0-9+.-]*:\/\/)[^\s/@'"]+@/gi, '$1');
}

/** owner/name from a clone URL or path: the last two path segments, without `.git`. */
export function repoSlugFromURL(url: string): string | undefined {
  const path = url.replace(/^[a-z+]+:\/\/[^/]+/i, '').replace(/^[^@/]+@[^:]+:/, '');
  const parts = path
    .replace(/\.git\/?$/, '')
    .split(/[/\\]/)
    .filter((p) => p !== '');
  const [owner, name] = parts.slice(-2);
  if (owner === undefined || name === undefined) return undefined;
  const clean = (s: string) => s.replace(/[^A-Za-z0-9_.-]/g, '-');
  return `${clean(owner)}/${clean(name)}`;
}
