import type { Language, Recipe, ResultFormat } from '../api/index.ts';
import type { CoverageEngine } from './coverage.ts';
import type { MutationSyntax } from './mutation.ts';

/** What the env stage knows of a checkout when it picks recipes: pure input, no I/O. */
export interface RepoFacts {
  /** Paths relative to the repository root. */
  files: string[];
  /**
   * Contents of the files the language modules asked for (`envManifests`, `envFiles`), by
   * path relative to the root.
   */
  manifests: Record<string, string>;
  /** Stdout of the modules' `probes`, by probe name, run in the sandbox at the base commit. */
  probes?: Record<string, string>;
  /** When the PR was opened (RFC 3339): the era its toolchain and dependencies come from. */
  createdAt?: string;
  /** `owner/name` of the repository (a GitHub path: Go's import path when go.mod does not say). */
  repo?: string;
  /**
   * Output of the language modules' `toolProbes` run in the sandbox (name → output), for the
   * probes that succeeded: which build tools and versions this sandbox has.
   */
  tools?: Record<string, string>;
  /** Limit of one test (verification.perTestTimeoutSeconds), for runners that have one. */
  perTestTimeoutSeconds?: number;
}

/** The machine outside the sandbox, as the local executor sees it (plain values: no I/O). */
export interface HostFacts {
  env: Record<string, string | undefined>;
  /** The user's home directory (the sandbox gets a HOME of its own). */
  home: string;
}

/** One setup or test run of a failed recipe, for classifying why the environment did not come up. */
export interface EnvAttemptOutput {
  phase: 'setup' | 'tests';
  output: string;
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
  /** Other files (not manifests: lockfiles, CI workflows, version pins) whose contents the recipes read. */
  readonly envFiles?: readonly RegExp[];
  /**
   * Bash commands the env stage runs in the sandbox at the repository root before choosing
   * recipes (what interpreters exist, metadata only a parser of the language can read);
   * their stdout lands in `RepoFacts.probes`. They must not run the repository's code.
   */
  readonly probes?: Readonly<Record<string, string>>;
  /** Every result format its recipes emit (each needs a parser in agents/parsers). */
  readonly resultFormats: readonly ResultFormat[];
  /** Candidate recipes, best first; empty when none applies. */
  recipes(facts: RepoFacts): Recipe[];
  /**
   * A deterministic repair of one of its own recipes from the output of its test run (e.g.
   * install the distribution of a module the tests could not import); undefined: nothing to do.
   */
  repair?(recipe: Recipe, output: string, facts: RepoFacts): Recipe | undefined;
  /** The clearest cause when none of its recipes worked; undefined leaves the generic reason. */
  classifyEnvFailure?(
    facts: RepoFacts,
    attempts: readonly EnvAttemptOutput[],
  ): { reason: string; message: string } | undefined;
  /**
   * The recipe's test command limited to these test files (paths the instance's test patch
   * touches that exist in the checkout), as SWE-bench runs an instance; undefined when its
   * runner cannot be limited to them (the whole suite runs then). Pure.
   */
  scopeTests?(recipe: Recipe, testFiles: readonly string[]): string | undefined;
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
   * Commands (name → bash) the env stage runs in the sandbox, outside the checkout, before
   * choosing recipes: which build tools it has. Each successful output lands in
   * `RepoFacts.tools` under its name.
   */
  readonly toolProbes?: Readonly<Record<string, string>>;
  /**
   * The pinned lock: `freeze` (bash at the repository root after setup; stdout is the resolved
   * versions, empty when nothing applies) and, when a replay can take them, `replayEnv`:
   * the environment of a setup replay that installs exactly those versions from `lockFile`.
   */
  /**
   * How its source lines are read by the diff-level mutator (mutation.ts): comments, strings,
   * literals, neutral return value, deletable statements. Absent: its files get no mutants.
   */
  readonly mutation?: MutationSyntax;
  /**
   * How line coverage of some tests is measured (coverage.ts), for the diff coverage of a gold
   * patch. Absent: its patches are recorded as not measured.
   */
  readonly coverage?: CoverageEngine;
  readonly lock?: {
    readonly freeze: string;
    replayEnv?(lockFile: string): Record<string, string>;
  };
}

/** A path as one shell word. */
export function shellWord(path: string): string {
  return /^[A-Za-z0-9_./@%+=:,-]+$/.test(path) ? path : `'${path.replace(/'/g, `'\\''`)}'`;
}

/** First line of every setup script: fail on the first failing command. */
export const SETUP_HEADER = 'set -euo pipefail\n';
