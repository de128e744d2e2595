import type { Language, Recipe, ResultFormat } from '../api/index.ts';

/** What the env stage knows of a checkout when it picks recipes: pure input, no I/O. */
export interface RepoFacts {
  /** Paths relative to the repository root. */
  files: string[];
  /** Contents of the root manifests the language modules asked for (`envManifests`), by file name. */
  manifests: Record<string, string>;
}

/**
 * Everything the pipeline knows about one ecosystem. Patterns match paths relative to the
 * repository root (mining passes bare root names, the env stage the whole file list).
 */
export interface LanguageModule {
  /** The API's language name; also the key of its sandbox image in `agents.images`. */
  readonly name: Language;
  /** Extensions of its source files, lower case, without the dot. */
  readonly extensions: readonly string[];
  /** GitHub linguist names of repositories in this language. */
  readonly linguist: readonly string[];
  /** Root files that make a repository one of this language. */
  readonly manifest: RegExp;
  /** File names (the last path segment) that are tests wherever they live. */
  readonly testFiles: readonly RegExp[];
  /** Lockfile names (compared case-insensitively). */
  readonly lockfiles: readonly string[];
  /**
   * File names (the last path segment) of repository configuration: linters, formatters, type
   * checkers, coverage, test-environment runners, toolchain pins. A PR changing only these has
   * nothing for an agent to implement; manifests that declare dependencies or the build are not here.
   */
  readonly configFiles: readonly RegExp[];
  /** Root files whose contents the recipes read. */
  readonly envManifests: readonly string[];
  /** Every result format its recipes emit (each needs a parser in agents/parsers). */
  readonly resultFormats: readonly ResultFormat[];
  /** Candidate recipes, best first; empty when none applies. */
  recipes(facts: RepoFacts): Recipe[];
  /** Package-manager caches under the shared cache dir, so local reruns skip the downloads. */
  cacheEnv(cacheDir: string): Record<string, string>;
}

/** First line of every setup script: fail on the first failing command. */
export const SETUP_HEADER = 'set -euo pipefail\n';
