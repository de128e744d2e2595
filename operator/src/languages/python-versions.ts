/**
 * Which Python interpreter an instance runs on: pure functions over what the machine (or the
 * sandbox image) has and what the repository declares at its base commit.
 */
import { satisfies, validRange } from '@renovatebot/pep440';

export interface Interpreter {
  /** Full version, e.g. "3.9.18". */
  version: string;
  /** Absolute path, so a replay uses this interpreter whatever PATH or pyenv shims say. */
  path: string;
}

/** What the repository says about its interpreter (all optional; an absent field allows anything). */
export interface PythonConstraints {
  /** PEP 440 specifier set: `requires-python`, `python_requires`, poetry's `python`. */
  requiresPython?: string | undefined;
  /** Minor versions the maintainers test or claim ("3.9"): classifiers, tox envlist, CI matrices. */
  declared: string[];
  /** Minor version the repository pins (`.python-version`). */
  pinned?: string | undefined;
}

/**
 * First release of each minor version. A PR cannot have been written for a Python released
 * after it was opened; the dependencies of its era (the date cutoff) may not even support it.
 */
export const PYTHON_RELEASES: Readonly<Record<string, string>> = {
  '3.6': '2016-12-23',
  '3.7': '2018-06-27',
  '3.8': '2019-10-14',
  '3.9': '2020-10-05',
  '3.10': '2021-10-04',
  '3.11': '2022-10-24',
  '3.12': '2023-10-02',
  '3.13': '2024-10-07',
  '3.14': '2025-10-07',
};

/** How many interpreters the env stage tries (each costs a setup and a test run per recipe). */
export const MAX_INTERPRETERS = 3;

export function minorOf(version: string): string {
  return /^(\d+\.\d+)/.exec(version)?.[1] ?? version;
}

function compareVersions(a: string, b: string): number {
  const pa = a.split('.').map(Number);
  const pb = b.split('.').map(Number);
  for (let i = 0; i < Math.max(pa.length, pb.length); i++) {
    const d = (pa[i] ?? 0) - (pb[i] ?? 0);
    if (d !== 0) return d;
  }
  return 0;
}

/**
 * Lines "<version> <path>" printed by the discovery probe → one interpreter per full version
 * (the first path wins: the probe lists pyenv and uv installs before PATH).
 */
export function parseInterpreters(probeOutput: string): Interpreter[] {
  const seen = new Map<string, Interpreter>();
  for (const line of probeOutput.split('\n')) {
    const m = /^(\d+\.\d+\.\d+)\s+(\/\S+)$/.exec(line.trim());
    if (!m || seen.has(m[1]!)) continue;
    seen.set(m[1]!, { version: m[1]!, path: m[2]! });
  }
  return [...seen.values()];
}

/** Does the version satisfy a PEP 440 specifier set? An unreadable one constrains nothing. */
export function allows(requiresPython: string | undefined, version: string): boolean {
  const spec = requiresPython?.trim();
  if (!spec || !validRange(spec)) return true;
  return satisfies(version, spec);
}

/**
 * Interpreters to try, best first: Python 3 only (venvs, uv and current pytest do not do 2.7),
 * within `requires-python`; among those released by the PR's date the pinned minor, then the
 * declared minors, then the others, each newest first; then the ones released after the PR
 * (oldest first, nearest its era), as a last resort. Empty: nothing here can run it.
 */
export function rankInterpreters(
  available: readonly Interpreter[],
  constraints: PythonConstraints,
  prDate?: string,
  max = MAX_INTERPRETERS,
): Interpreter[] {
  // Newest patch per minor: the same minor twice adds a setup, not a chance.
  const byMinor = new Map<string, Interpreter>();
  for (const i of available) {
    if (!i.version.startsWith('3.') || !allows(constraints.requiresPython, i.version)) continue;
    const have = byMinor.get(minorOf(i.version));
    if (!have || compareVersions(i.version, have.version) > 0) byMinor.set(minorOf(i.version), i);
  }
  const cutoff = prDate ? Date.parse(prDate) : Number.NaN;
  const released = (i: Interpreter) => {
    const d = PYTHON_RELEASES[minorOf(i.version)];
    // An unknown (newer than the table) minor counts as released today.
    return d ? Date.parse(d) : Date.now();
  };
  const all = [...byMinor.values()].sort((a, b) => compareVersions(b.version, a.version));
  const inEra = Number.isNaN(cutoff) ? all : all.filter((i) => released(i) <= cutoff);
  const later = all.filter((i) => !inEra.includes(i)).reverse();
  const rank = (i: Interpreter) => {
    const minor = minorOf(i.version);
    if (minor === constraints.pinned) return 0;
    return constraints.declared.includes(minor) ? 1 : 2;
  };
  const era = inEra
    .map((i, n) => ({ i, n }))
    .sort((a, b) => rank(a.i) - rank(b.i) || a.n - b.n)
    .map((x) => x.i);
  return [...era, ...later].slice(0, max);
}
