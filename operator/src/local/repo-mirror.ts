import { isAbsolute } from 'node:path';
import { openRepository } from '../mining/git.ts';

/** Mirrors opened by this process, by directory and URL: fetched once a run, shared by its stages. */
const opened = new Map<string, Promise<string>>();

/** True when `cloneURL` names a repository on this machine (a path or a file:// URL). Pure. */
export function isLocalRepository(cloneURL: string): boolean {
  return cloneURL.startsWith('file://') || isAbsolute(cloneURL);
}

/**
 * Where a local stage fetches its base commit from. A repository on this machine as is (it is
 * bound read-only into the sandbox); a remote one through a bare mirror the CLI keeps in
 * `mirrorsDir`, outside every sandbox's writable dirs: the sandbox's network cannot reach a Git
 * server on the host's loopback (a GitHub Enterprise or test server there), no stage needs a
 * network clone of its own, and no stage can rewrite another's history.
 */
export function stageRepository(cloneURL: string, mirrorsDir: string): Promise<string> {
  if (isLocalRepository(cloneURL)) return Promise.resolve(cloneURL);
  const key = `${mirrorsDir}\0${cloneURL}`;
  let mirror = opened.get(key);
  if (!mirror) {
    mirror = openRepository(cloneURL, mirrorsDir);
    // A failed clone is tried again by the next stage, not remembered.
    mirror.catch(() => opened.delete(key));
    opened.set(key, mirror);
  }
  return mirror;
}
