// A PR that adds or bumps a dependency changes a manifest or lockfile in its gold patch, and its
// tests often need that dependency (path-to-regexp#225 adds @types/semver for its new spec).
// Installed at base alone, the environment lacks it: the tests fail before *and* after the gold
// patch, and the instance ends NoFailToPass — a verdict on our environment, not on the PR. So
// setup runs with the PR's dependency files, and they are put back to base before anything is
// tested: the environment holds the PR's dependencies, the tree is the base commit's.
import path from 'node:path';
import { LANGUAGE_MODULES } from '../languages/index.ts';
import { parseDiff } from '../mining/diff-split.ts';

/** Only how maintainers run sessions, not what setup installs. */
const RUNNER_CONFIGS = new Set(['noxfile.py', 'tox.ini']);

/** Whether a path is a dependency manifest or lockfile of some language (pure). */
export function isDependencyFile(file: string): boolean {
  const name = path.posix.basename(file);
  if (RUNNER_CONFIGS.has(name)) return false;
  return LANGUAGE_MODULES.some(
    (m) =>
      m.manifest.test(name) ||
      m.manifest.test(file) ||
      m.lockfiles.includes(name) ||
      m.envManifests.includes(name),
  );
}

export interface DependencyChange {
  /** The gold patch's sections of dependency files, byte-exact. */
  patch: string;
  paths: string[];
}

/** The part of a gold patch that changes dependency files; undefined when it changes none. */
export function dependencyChange(goldPatch: string): DependencyChange | undefined {
  const files = parseDiff(goldPatch).filter((f) => !f.binary && isDependencyFile(f.path));
  if (files.length === 0) return undefined;
  return { patch: files.map((f) => f.text).join(''), paths: files.map((f) => f.path) };
}
