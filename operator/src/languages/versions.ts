/**
 * Version numbers and Maven-style version ranges (the syntax of maven-enforcer's
 * `requireMavenVersion` and of POM dependency ranges), for choosing build tools. Pure.
 */

/** Qualifiers before a release sort below it (1.0-alpha < 1.0-rc1 < 1.0 < 1.0-sp1), as Maven orders them. */
const QUALIFIER_RANK: Record<string, number> = {
  alpha: 0,
  a: 0,
  beta: 1,
  b: 1,
  milestone: 2,
  m: 2,
  rc: 3,
  cr: 3,
  snapshot: 4,
  '': 5,
  ga: 5,
  final: 5,
  release: 5,
  sp: 6,
};

type Part = number | string;

function parts(version: string): Part[] {
  const out: Part[] = [];
  for (const token of version
    .trim()
    .toLowerCase()
    .split(/[.\-_+]|(?<=\d)(?=[a-z])|(?<=[a-z])(?=\d)/)) {
    if (token === '') continue;
    out.push(/^\d+$/.test(token) ? Number(token) : token);
  }
  // Zeros that end a run of numbers and release markers do not count: 3.9 == 3.9.0 ==
  // 3.9.0-final, and 3.9.0-rc1 is 3.9-rc1.
  const kept: Part[] = [];
  for (let i = out.length - 1; i >= 0; i--) {
    const p = out[i]!;
    const next = kept[0];
    if (typeof p === 'string' && QUALIFIER_RANK[p] === 5) continue;
    if (p === 0 && (next === undefined || typeof next === 'string')) continue;
    kept.unshift(p);
  }
  return kept;
}

function comparePart(a: Part | undefined, b: Part | undefined): number {
  // A missing part is the release itself: below a number (3.9 < 3.9.1), above a pre-release
  // qualifier (3.9-rc1 < 3.9), below a service pack (3.9 < 3.9-sp1).
  const rank = (p: Part | undefined): [number, number | string] => {
    if (p === undefined) return [1, 5];
    if (typeof p === 'number') return [2, p];
    const q = QUALIFIER_RANK[p];
    return q === undefined ? [1, p] : [1, q];
  };
  const [ka, va] = rank(a);
  const [kb, vb] = rank(b);
  if (ka !== kb) return ka - kb;
  if (typeof va === 'number' && typeof vb === 'number') return va - vb;
  if (typeof va === 'number') return -1; // known qualifiers before unknown ones
  if (typeof vb === 'number') return 1;
  return va < vb ? -1 : va > vb ? 1 : 0;
}

/** Negative, zero or positive as `a` sorts before, with or after `b`. */
export function compareVersions(a: string, b: string): number {
  const pa = parts(a);
  const pb = parts(b);
  for (let i = 0; i < Math.max(pa.length, pb.length); i++) {
    const c = comparePart(pa[i], pb[i]);
    if (c !== 0) return Math.sign(c);
  }
  return 0;
}

export interface VersionInterval {
  min?: string;
  minInclusive?: boolean;
  max?: string;
  maxInclusive?: boolean;
}

/**
 * A Maven version range: `[3.6.3,)`, `(,4.0)`, `[3.8.1]`, unions `[1,2),[3,)`. A bare
 * version means "at least" (the enforcer's reading of `<version>3.9</version>`).
 * Undefined when the text is not a range.
 */
export function parseVersionRange(text: string): VersionInterval[] | undefined {
  const spec = text.replace(/\s+/g, '');
  if (spec === '') return undefined;
  if (!/^[[(]/.test(spec)) return /^[\w.\-+]+$/.test(spec) ? [{ min: spec, minInclusive: true }] : undefined;
  const out: VersionInterval[] = [];
  for (const m of spec.matchAll(/([[(])([^\])]*)([\])]),?/g)) {
    const [, open, body, close] = m as unknown as [string, string, string, string];
    const bounds = body.split(',');
    if (bounds.length === 1) {
      if (open !== '[' || close !== ']' || !bounds[0]) return undefined;
      out.push({ min: bounds[0], minInclusive: true, max: bounds[0], maxInclusive: true });
    } else if (bounds.length === 2) {
      const [lo, hi] = bounds as [string, string];
      out.push({
        ...(lo && { min: lo, minInclusive: open === '[' }),
        ...(hi && { max: hi, maxInclusive: close === ']' }),
      });
    } else {
      return undefined;
    }
  }
  return out.length > 0 ? out : undefined;
}

export function satisfies(version: string, range: readonly VersionInterval[]): boolean {
  return range.some((r) => {
    if (r.min !== undefined) {
      const c = compareVersions(version, r.min);
      if (c < 0 || (c === 0 && !r.minInclusive)) return false;
    }
    if (r.max !== undefined) {
      const c = compareVersions(version, r.max);
      if (c > 0 || (c === 0 && !r.maxInclusive)) return false;
    }
    return true;
  });
}

/** The newest of `candidates` inside every range (none: undefined). */
export function newestSatisfying(
  candidates: readonly string[],
  ranges: readonly (readonly VersionInterval[])[],
): string | undefined {
  return [...candidates]
    .sort((a, b) => compareVersions(b, a))
    .find((v) => ranges.every((r) => satisfies(v, r)));
}
