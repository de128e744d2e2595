import type { CurationRunSpec } from '../api/index.ts';
import { GitPrSource } from '../mining/git-source.ts';
import type { PrSource } from '../mining/types.ts';

export interface SourceOptions {
  cacheDir: string;
}

/** The PR source a run's spec names. */
export async function createSource(spec: CurationRunSpec, opts: SourceOptions): Promise<PrSource> {
  const { git, github } = spec.source;
  if (git)
    return new GitPrSource({
      url: git.url,
      repo: git.repo,
      ref: git.ref,
      filters: spec.filters,
      cacheDir: opts.cacheDir,
    });
  if (github) throw new Error('the GitHub source is not wired into the CLI yet');
  throw new Error('spec.source names no source');
}
