/**
 * The language registry: one module per ecosystem, and the functions that fan out over
 * them. Mining (path kinds, language of a path / change / repository root), the env stage
 * (detection, manifests it reads, recipes) and the local executor (cache env) all ask here,
 * so there is one copy of each rule.
 *
 * A new language touches exactly:
 *   - operator/src/api/curation-run.ts: its name in `LANGUAGES` (its `agents.images` key and
 *     default image derive from it); then `npm run gen` regenerates crds/ and charts/;
 *   - operator/src/languages/<lang>.ts: its `LanguageModule`;
 *   - this file: its place in `LANGUAGE_MODULES` (by manifest strength, see there);
 *   - sandbox-images/<lang>/Dockerfile: the toolchain, FROM the sandbox base;
 *   - only if its recipes emit a format not yet known: `RESULT_FORMATS` in
 *     operator/src/api/swe-instance.ts and a parser in operator/src/agents/parsers/.
 * The drift tests (index.test.ts) fail until the module, LANGUAGES, agents.images and the
 * Dockerfile agree.
 */
import { LANGUAGES, type Language, type Recipe } from '../api/index.ts';
import type { CoverageEngine } from './coverage.ts';
import { go } from './go.ts';
import { java } from './java.ts';
import type { MutationSyntax } from './mutation.ts';
import { node } from './node.ts';
import { python } from './python.ts';
import { rust } from './rust.ts';
import type { EnvAttemptOutput, HostFacts, LanguageModule, RepoFacts } from './types.ts';

export type { EnvAttemptOutput, HostFacts, LanguageModule, RepoFacts } from './types.ts';

/**
 * Strongest root manifest first: a Go, Rust or Java repository often carries a package.json
 * (tooling, docs site) or Python helper scripts, never the other way round.
 */
export const LANGUAGE_MODULES: readonly LanguageModule[] = [go, rust, java, python, node];

const BY_NAME = Object.fromEntries(LANGUAGE_MODULES.map((m) => [m.name, m])) as Record<
  Language,
  LanguageModule
>;

export function languageModule(language: Language): LanguageModule {
  return BY_NAME[language];
}

const BY_EXTENSION = new Map(LANGUAGE_MODULES.flatMap((m) => m.extensions.map((e) => [e, m.name] as const)));

export function languageOfPath(path: string): Language | undefined {
  const ext = /\.([A-Za-z0-9]+)$/.exec(path)?.[1]?.toLowerCase();
  return ext === undefined ? undefined : BY_EXTENSION.get(ext);
}

const BY_LINGUIST = new Map(LANGUAGE_MODULES.flatMap((m) => m.linguist.map((n) => [n, m.name] as const)));

/** Our language for GitHub's (linguist) repository language, when we handle it. */
export function languageOfLinguist(name: string): Language | undefined {
  return BY_LINGUIST.get(name);
}

/** Language of a repository from its root files: the strongest manifest present. */
export function languageFromRootFiles(rootFiles: readonly string[]): Language | undefined {
  return LANGUAGE_MODULES.find((m) => rootFiles.some((f) => m.manifest.test(f)))?.name;
}

/**
 * Every language whose manifest is present, in the API's order (not by strength: the env
 * stage puts the PR's language first and tries the others in this order).
 */
export function detectLanguages(files: readonly string[]): Language[] {
  return LANGUAGES.filter((l) => files.some((f) => BY_NAME[l].manifest.test(f)));
}

/** File names that are tests in some ecosystem, wherever they live. */
export const LANGUAGE_TEST_FILES: readonly RegExp[] = LANGUAGE_MODULES.flatMap((m) => m.testFiles);

/** Repository-configuration file names of every ecosystem (see LanguageModule.configFiles). */
export const LANGUAGE_CONFIG_FILES: readonly RegExp[] = LANGUAGE_MODULES.flatMap((m) => m.configFiles);

/** Lockfile names of every ecosystem, lower case. */
export const LOCKFILES: ReadonlySet<string> = new Set(
  LANGUAGE_MODULES.flatMap((m) => m.lockfiles.map((f) => f.toLowerCase())),
);

/** Root files whose contents the env stage reads for `RepoFacts.manifests`. */
export const ENV_MANIFESTS: readonly string[] = [...new Set(LANGUAGE_MODULES.flatMap((m) => m.envManifests))];

/** Files (root manifests and other `envFiles`) whose contents the env stage reads for `RepoFacts.manifests`. */
export function envFilesToRead(files: readonly string[]): string[] {
  const patterns = LANGUAGE_MODULES.flatMap((m) => m.envFiles ?? []);
  return files.filter((f) => ENV_MANIFESTS.includes(f) || patterns.some((p) => p.test(f)));
}

/** The probes (name → bash command) of the languages present, for `RepoFacts.probes`. */
export function envProbes(files: readonly string[], hint?: Language): Record<string, string> {
  const langs = new Set<Language>(detectLanguages(files));
  if (hint) langs.add(hint);
  return Object.assign({}, ...[...langs].map((l) => BY_NAME[l].probes ?? {}));
}

/** A deterministic repair of a failed (or partly failed) recipe from its test output, if a module has one. */
export function repairRecipe(recipe: Recipe, output: string, facts: RepoFacts): Recipe | undefined {
  for (const m of LANGUAGE_MODULES) {
    const r = m.repair?.(recipe, output, facts);
    if (r) return r;
  }
  return undefined;
}

/** The clearest cause when no recipe worked (the PR's language asked first); undefined: generic. */
export function classifyEnvFailure(
  facts: RepoFacts,
  attempts: readonly EnvAttemptOutput[],
  hint?: Language,
): { reason: string; message: string } | undefined {
  const langs = detectLanguages(facts.files);
  if (hint) langs.sort((a, b) => Number(b === hint) - Number(a === hint));
  for (const l of langs) {
    const c = BY_NAME[l].classifyEnvFailure?.(facts, attempts);
    if (c) return c;
  }
  return undefined;
}

/** Candidate recipes, best first. `hint` (the PR's language) breaks ties in polyglot repos. */
export function candidateRecipes(facts: RepoFacts, hint?: Language): Recipe[] {
  const langs = detectLanguages(facts.files);
  if (hint && !langs.includes(hint)) langs.push(hint);
  if (hint) langs.sort((a, b) => Number(b === hint) - Number(a === hint));
  return langs.flatMap((l) => BY_NAME[l].recipes(facts));
}

/** Every ecosystem's package caches under one shared cache dir. */
export function languageCacheEnv(cacheDir: string): Record<string, string> {
  return Object.assign({}, ...LANGUAGE_MODULES.map((m) => m.cacheEnv(cacheDir)));
}

/**
 * The test command of `recipe` limited to `testFiles`, from the module whose runner the recipe
 * uses (by result format; junit-xml is shared, each module recognises its own commands);
 * undefined: run the whole suite.
 */
export function scopedTestCommand(recipe: Recipe, testFiles: readonly string[]): string | undefined {
  for (const m of LANGUAGE_MODULES) {
    if (!m.resultFormats.includes(recipe.resultFormat)) continue;
    const scoped = m.scopeTests?.(recipe, testFiles);
    if (scoped !== undefined) return scoped;
  }
  return undefined;
}

/** Where the host's toolchains live, for a local sandbox with a HOME of its own. */
export function languageToolchainEnv(host: HostFacts): Record<string, string> {
  return Object.assign({}, ...LANGUAGE_MODULES.map((m) => m.toolchainEnv?.(host) ?? {}));
}

/** The probes (name → command) of these languages, for `RepoFacts.tools` (toolProbes). */
export function languageProbes(languages: readonly Language[]): Record<string, string> {
  return Object.assign({}, ...languages.map((l) => BY_NAME[l].toolProbes ?? {}));
}

/** The freeze command (bash, stdout = resolved versions) of a language; undefined: none. */
export function freezeCommand(language: Language): string | undefined {
  return BY_NAME[language].lock?.freeze;
}

/** Environment of a setup replay that installs the versions in `lockFile` (empty: plain replay). */
export function lockReplayEnv(language: Language, lockFile: string): Record<string, string> {
  return BY_NAME[language].lock?.replayEnv?.(lockFile) ?? {};
}

/**
 * Type declarations (Python stubs, TypeScript .d.ts): nothing in them runs, so no test can kill a
 * mutant there or cover a line (more-itertools#653 counted its recipes.pyi lines as not run).
 */
const TYPE_DECLARATIONS = /\.(pyi|d\.[cm]?ts)$/;

/** The mutator syntax of a source file's language; undefined: no mutants for it (nor diff coverage). */
export function mutationSyntaxOf(path: string): MutationSyntax | undefined {
  const language = languageOfPath(path);
  const name = path.split('/').pop() ?? '';
  if (language === undefined || LANGUAGE_TEST_FILES.some((t) => t.test(name)) || TYPE_DECLARATIONS.test(name))
    return undefined;
  return BY_NAME[language].mutation;
}

/**
 * The coverage engine for a recipe's runner, from the module whose result formats it emits and
 * whose engine can wrap the command (coverage.ts); undefined: none can.
 */
export function coverageFor(
  recipe: Recipe,
  testCommand: string,
  tests: readonly string[],
  out: string,
): { language: Language; engine: CoverageEngine; prepare?: string; run: string } | undefined {
  for (const m of LANGUAGE_MODULES) {
    if (!m.coverage || !m.resultFormats.includes(recipe.resultFormat)) continue;
    const plan = m.coverage.plan(testCommand, tests, out);
    if (plan) return { language: m.name, engine: m.coverage, ...plan };
  }
  return undefined;
}
