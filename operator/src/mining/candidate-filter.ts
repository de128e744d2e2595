import { instanceIdFor, type Language } from '../api/index.ts';
import { changeShape, type SplitDiff } from './diff-split.ts';
import type { CandidatePR, LinkedIssueInput, MiningFilters, RejectedPR, RejectReason } from './types.ts';

/**
 * The candidate filter as pure decisions. Sources call them in this order, fetching what the
 * next one needs only when the previous passed, so a reason is the same whatever the source:
 *   inWindow (outside: not discovered at all) → screenMetadata → screenChange → screenLinks.
 */

/** Merged inside [mergedAfter, mergedBefore). PRs outside the window are not part of the run. */
export function inWindow(mergedAt: string, filters: MiningFilters): boolean {
  const t = Date.parse(mergedAt);
  if (filters.mergedAfter !== undefined && t < Date.parse(filters.mergedAfter)) return false;
  if (filters.mergedBefore !== undefined && t >= Date.parse(filters.mergedBefore)) return false;
  return true;
}

export interface PrMetadata {
  pullNumber: number;
  merged: boolean;
  /** undefined when the source has no labels (git history). */
  labels: readonly string[] | undefined;
}

export function screenMetadata(pr: PrMetadata, filters: MiningFilters): RejectedPR | undefined {
  if (!pr.merged) return reject(pr.pullNumber, 'NotMerged', 'closed without merging');
  const labels = new Set((pr.labels ?? []).map((l) => l.toLowerCase()));
  const missing = (filters.labels ?? []).filter((l) => !labels.has(l.toLowerCase()));
  if (missing.length > 0) {
    const why =
      pr.labels === undefined ? 'the source has no labels' : `missing label(s) ${missing.join(', ')}`;
    return reject(pr.pullNumber, 'LabelFiltered', why);
  }
  const excluded = (filters.excludeLabels ?? []).filter((l) => labels.has(l.toLowerCase()));
  if (excluded.length > 0)
    return reject(pr.pullNumber, 'LabelFiltered', `has label(s) ${excluded.join(', ')}`);
  return undefined;
}

/**
 * Patches travel in the SWEInstance spec, and Kubernetes objects must fit in etcd (~1.5 MiB):
 * a PR within maxLines can still carry megabytes of binary fixtures.
 */
export const MAX_PATCH_BYTES = 512 * 1024;

/**
 * Decisions that need the diff. `llm`: the run configures one (spec.llm), so TestAgent can write
 * tests for a PR without any; when it cannot, such a PR is rejected here, before an environment
 * is built for an instance that could only be rejected later.
 */
export function screenChange(
  pullNumber: number,
  split: SplitDiff,
  language: Language | undefined,
  filters: MiningFilters,
  llm: boolean,
): RejectedPR | undefined {
  const shape = changeShape(split.files);
  if (shape === 'empty') return reject(pullNumber, 'NoCodeChange', 'empty diff');
  if (shape === 'binaryOnly') return reject(pullNumber, 'BinaryOnly', `${split.files.length} binary file(s)`);
  if (shape === 'docsOrLockfileOnly') {
    return reject(pullNumber, 'DocsOrLockfileOnly', `only ${kinds(split)} changed`);
  }
  if (shape === 'noCode') return reject(pullNumber, 'NoCodeChange', `only ${kinds(split)} changed`);
  if (split.files.length > filters.maxFiles) {
    return reject(pullNumber, 'TooManyFiles', `${split.files.length} files > maxFiles ${filters.maxFiles}`);
  }
  if (split.lines > filters.maxLines) {
    return reject(pullNumber, 'TooManyLines', `${split.lines} changed lines > maxLines ${filters.maxLines}`);
  }
  const bytes = Buffer.byteLength(split.patch) + Buffer.byteLength(split.testPatch);
  if (bytes > MAX_PATCH_BYTES) {
    return reject(
      pullNumber,
      'TooManyLines',
      `patches total ${bytes} bytes > ${MAX_PATCH_BYTES} (binary changes)`,
    );
  }
  if (language === undefined) {
    return reject(pullNumber, 'UnsupportedLanguage', 'no python, node, go, rust or java code changed');
  }
  if (split.testPatch === '' && !filters.generateTests) {
    return reject(
      pullNumber,
      'NoTestsAndGenerationDisabled',
      'the PR changes no tests and generateTests is false',
    );
  }
  if (split.testPatch === '' && !llm) {
    return reject(
      pullNumber,
      'NoTestsAndNoLlm',
      'the PR changes no tests and no llm is configured to write them',
    );
  }
  return undefined;
}

export function screenLinks(
  pullNumber: number,
  issueNumbers: readonly number[],
  filters: MiningFilters,
): RejectedPR | undefined {
  if (filters.requireLinkedIssue && issueNumbers.length === 0) {
    return reject(pullNumber, 'NoLinkedIssue', 'no closing reference in title, body or commits');
  }
  return undefined;
}

export interface KeptPR {
  repo: string;
  cloneURL: string;
  pullNumber: number;
  title: string;
  body: string;
  baseCommit: string;
  mergeCommit: string | undefined;
  createdAt: string;
  mergedAt: string;
  language: Language;
  split: SplitDiff;
  issues: LinkedIssueInput[];
}

export function toCandidate(pr: KeptPR): CandidatePR {
  const candidate: CandidatePR = {
    instanceId: instanceIdFor(pr.repo, pr.pullNumber),
    repo: pr.repo,
    cloneURL: pr.cloneURL,
    pullNumber: pr.pullNumber,
    title: pr.title,
    body: pr.body,
    baseCommit: pr.baseCommit,
    patch: pr.split.patch,
    testPatch: pr.split.testPatch,
    issues: pr.issues,
    createdAt: pr.createdAt,
    mergedAt: pr.mergedAt,
    language: pr.language,
  };
  if (pr.mergeCommit !== undefined) candidate.mergeCommit = pr.mergeCommit;
  return candidate;
}

function kinds(split: SplitDiff): string {
  const seen = new Set(split.files.map((f) => (f.binary ? 'binary' : f.kind)));
  return [...seen].sort().join('/');
}

function reject(pullNumber: number, reason: RejectReason, detail: string): RejectedPR {
  return { pullNumber, reason, detail };
}
