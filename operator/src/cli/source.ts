import { join } from 'node:path';
import type { CurationRunSpec } from '../api/index.ts';
import { createPrSource, FileEtagCache, type PrSource } from '../mining/index.ts';

/**
 * The PR source a run's spec names, with the local run's caches: bare clones and GitHub
 * ETags live in the state directory, so a resumed run spends no rate limit on unchanged pages.
 */
export function createSource(
  spec: CurationRunSpec,
  stateRoot: string,
  githubToken: string | undefined,
): PrSource {
  return createPrSource(spec, {
    gitCacheDir: join(stateRoot, 'cache', 'git'),
    etagCache: new FileEtagCache(join(stateRoot, 'cache', 'github-etags')),
    ...(githubToken !== undefined && { githubToken }),
    onRateLimit: (event) => process.stderr.write(`scaleswe: GitHub rate limit: ${JSON.stringify(event)}\n`),
  });
}
