import type { CurationRun } from '../api/index.ts';
import { ScaleSweError } from '../api/index.ts';
import { createPrSource } from '../mining/index.ts';
import type { PrSource } from '../mining/types.ts';

export interface SourceContext {
  /** Reads one key of a Secret in the run's namespace. */
  readSecret(namespace: string, name: string, key: string): Promise<string | undefined>;
  gitCacheDir?: string;
}

/** Builds the PrSource of a run; tests and the benchmark swap in their own. */
export type PrSourceFactory = (run: CurationRun, ctx: SourceContext) => Promise<PrSource>;

/** A source the run's spec can never make work (not retried: the run fails with this reason). */
export class InvalidSourceError extends ScaleSweError {
  constructor(message: string) {
    super('InvalidSource', message);
  }
}

/** source.git → git history; source.github → the GitHub API, token from the named Secret. */
export const defaultSourceFactory: PrSourceFactory = async (run, ctx) => {
  const ref = run.spec.source.github?.tokenSecretRef;
  // A missing Secret is retried (it may be created later); a bad source spec is not.
  const githubToken = ref ? await ctx.readSecret(run.metadata.namespace ?? '', ref.name, ref.key) : undefined;
  if (ref && githubToken === undefined)
    throw new Error(`secret ${ref.name} has no key ${ref.key} (source.github.tokenSecretRef)`);
  try {
    return createPrSource(run.spec, {
      ...(githubToken !== undefined && { githubToken }),
      ...(ctx.gitCacheDir && { gitCacheDir: ctx.gitCacheDir }),
    });
  } catch (err) {
    throw new InvalidSourceError((err as Error).message);
  }
};
