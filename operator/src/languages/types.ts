import type { Language, Recipe, ResultFormat } from '../api/index.ts';

/** What the env stage knows of a checkout when it picks recipes: pure input, no I/O. */
export interface RepoFacts {
  /** Paths relative to the repository root. */
  files: string[];
  /** Contents of the root manifests the language modules asked for (`envManifests`), by file name. */
  manifests: Record<string, string>;
  /**
   * Output of the language modules' `probes` run in the sandbox (name → output), for the
   * probes that succeeded: which build tools and versions this sandbox has.
   */
  tools?: Record<string, string>;
}

/** The machine outside the sandbox, as the local executor sees it (plain values: no I/O). */
export interface HostFacts {
  env: Record<string, string | undefined>;
  /** The user's home directory (the sandbox gets a HOME of its own). */
  home: string;
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
  /** Root files whose contents the recipes read. */
  readonly envManifests: readonly string[];
  /** Every result format its recipes emit (each needs a parser in agents/parsers). */
  readonly resultFormats: readonly ResultFormat[];
  /** Candidate recipes, best first; empty when none applies. */
  recipes(facts: RepoFacts): Recipe[];
  /**
   * Package-manager homes and caches under the shared cache dir: writable inside the sandbox
   * (the root file system is not) and reused across stages. Also set in sandbox pods.
   */
  cacheEnv(cacheDir: string): Record<string, string>;
  /**
   * Where the host's installed toolchains live, for a local sandbox whose HOME is not the
   * user's (they stay visible read-only); pods have theirs in the image.
   */
  toolchainEnv?(host: HostFacts): Record<string, string>;
  /**
   * Commands (name → bash) the env stage runs in the sandbox before choosing recipes; each
   * output of a successful probe lands in `RepoFacts.tools` under its name.
   */
  readonly probes?: Readonly<Record<string, string>>;
}

/** First line of every setup script: fail on the first failing command. */
export const SETUP_HEADER = 'set -euo pipefail\n';
