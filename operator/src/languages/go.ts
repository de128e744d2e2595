import { dirname, join } from 'node:path';
import type { Recipe } from '../api/index.ts';
import { goCover } from './coverage.ts';
import { type LanguageModule, type RepoFacts, SETUP_HEADER, shellWord } from './types.ts';
import { compareVersions } from './versions.ts';

/**
 * go.mod's `go` and `toolchain` directives. They are single-line directives at the start of a
 * line (no block form), so a line reader is the grammar; comments after them are dropped.
 */
export function goModDirectives(goMod: string): { go?: string; toolchain?: string } {
  const out: { go?: string; toolchain?: string } = {};
  for (const line of goMod.split('\n')) {
    const m = /^\s*(go|toolchain)\s+([^\s/]+)/.exec(line);
    if (m) out[m[1] as 'go' | 'toolchain'] = m[2]!;
  }
  return out;
}

export interface GoToolchainChoice {
  /** GOTOOLCHAIN for setup and tests: a toolchain name (fetched through the module proxy) or `local`. */
  gotoolchain: string;
  toolchain: Record<string, string>;
}

/**
 * The Go toolchain the repository asks for, best first. A `toolchain` line names one exactly.
 * A `go` line is a minimum (Go keeps old modules building on newer releases, and gates new
 * vet checks by it), so the installed Go serves when it is at least that, else `go<line>`, as
 * GOTOOLCHAIN=auto would pick. The go command fetches a named toolchain through GOPROXY into
 * GOMODCACHE, so offline test runs find it; the installed Go is the fallback when that fails.
 * Pure: `installed` is `go env GOVERSION` of the sandbox.
 */
export function chooseGoToolchain(
  goMod: string | undefined,
  installed: string | undefined,
): GoToolchainChoice[] {
  if (goMod === undefined) return [];
  const local = installed?.replace(/^go/, '');
  const localChoice = (via: string): GoToolchainChoice => ({
    gotoolchain: 'local',
    toolchain: { go: local ?? 'installed', 'go.via': via },
  });
  const { go, toolchain } = goModDirectives(goMod);
  let wanted: string | undefined;
  let via = '';
  if (toolchain && /^go1\.\d+/.test(toolchain)) {
    wanted = toolchain;
    via = 'go.mod toolchain line';
  } else if (go && /^1\.\d+/.test(go) && local !== undefined && compareVersions(go, local) > 0) {
    // Named toolchains exist from 1.21 on; `go 1.22` means go1.22.0.
    wanted = `go${/^1\.\d+$/.test(go) ? `${go}.0` : go}`;
    via = 'go.mod go line, newer than the installed Go';
  }
  if (!wanted) return [localChoice(go ? `installed (go.mod: go ${go})` : 'installed')];
  if (wanted === installed) return [localChoice(`${via} (installed)`)];
  return [
    { gotoolchain: wanted, toolchain: { go: wanted.replace(/^go/, ''), 'go.via': `${via} (GOTOOLCHAIN)` } },
    localChoice(`installed (go.mod asks ${wanted}; used when it cannot be fetched)`),
  ];
}

function goRecipes(facts: RepoFacts): Recipe[] {
  // -count=1: never serve cached results, reruns must really run. -timeout bounds one package's
  // test binary (Go has no per-test limit): a hang fails that package, the others still run.
  // -vet=off: `go test` runs vet checks that grow with each Go release, and one complaint fails
  // the package's build: code that passed its era's vet then has no tests at all (backoff of
  // 2021: "ExampleRetryContext refers to unknown identifier"). Vet is a linter, not a test.
  const limit = facts.perTestTimeoutSeconds === undefined ? '' : ` -timeout=${facts.perTestTimeoutSeconds}s`;
  const base: Recipe = {
    setupScript: `${SETUP_HEADER}go mod download\n`,
    testCommand: `go test -json -count=1 -vet=off${limit} ./...`,
    resultFormat: 'go-test-json',
    source: 'deterministic',
  };
  if (!facts.files.some((f) => f === 'go.mod' || f.endsWith('/go.mod'))) {
    // No go.mod anywhere: a GOPATH-era repository, which today's go command builds only as a
    // module. Its path from an import comment (what `go mod init` reads), else the repository's
    // GitHub path, as the code imports itself. `go 1.16`, the last release without modules by
    // default: newer go lines change loop variables, which old code never met.
    const path = shellWord(`github.com/${facts.repo ?? 'unknown/unknown'}`);
    return [
      {
        ...base,
        // A go.mod here is an earlier setup's, kept with a prepared environment (pflag#216 after
        // #211): made anew, so every replay is the same.
        setupScript: `${SETUP_HEADER}rm -f go.mod go.sum\ngo mod init 2>/dev/null || go mod init ${path}\ngo mod edit -go=1.16\ngo mod tidy\n`,
        // -mod=mod: a GOPATH-era vendor/ has no modules.txt, which -mod=vendor would insist on.
        testCommand: base.testCommand.replace(' -vet=off', ' -vet=off -mod=mod'),
        toolchain: {
          go: facts.tools?.go?.replace(/^go/, '') ?? 'installed',
          'go.via': 'installed (no go.mod: a module made at setup)',
        },
      },
    ];
  }
  const choices = chooseGoToolchain(facts.manifests['go.mod'], facts.tools?.go);
  if (choices.length === 0) return [base];
  return choices.map(({ gotoolchain, toolchain }) => ({
    ...base,
    // `go version` makes the go command fetch the toolchain during setup, while the network is there.
    setupScript: `${SETUP_HEADER}export GOTOOLCHAIN=${gotoolchain}\ngo version\ngo mod download\n`,
    testCommand: `GOTOOLCHAIN=${gotoolchain} ${base.testCommand}`,
    toolchain,
  }));
}

export const go: LanguageModule = {
  name: 'go',
  extensions: ['go'],
  linguist: ['Go'],
  manifest: /^go\.mod$/,
  testFiles: [/^.*_test\.go$/],
  lockfiles: ['go.sum'],
  configFiles: [/^\.golangci\.(ya?ml|toml|json)$/, /^\.goreleaser\.ya?ml$/],
  envManifests: ['go.mod'],
  resultFormats: ['go-test-json'],
  recipes: goRecipes,
  // `go test` selects packages, not files: the packages holding the touched _test.go files.
  scopeTests(recipe, testFiles) {
    const packages = [
      ...new Set(
        testFiles
          .filter((f) => f.endsWith('_test.go'))
          .map((f) => (dirname(f) === '.' ? '.' : `./${dirname(f)}`)),
      ),
    ];
    if (packages.length === 0 || !/ \.\/\.\.\.(\s|$)/.test(recipe.testCommand)) return undefined;
    return recipe.testCommand.replace(/ \.\/\.\.\.(?=\s|$)/, ` ${packages.sort().map(shellWord).join(' ')}`);
  },
  // Outside the checkout, so go.mod cannot switch the toolchain that answers.
  toolProbes: { go: 'GOTOOLCHAIN=local go env GOVERSION' },
  cacheEnv: (cacheDir) => ({ GOMODCACHE: join(cacheDir, 'go-mod'), GOCACHE: join(cacheDir, 'go-build') }),
  // go.sum already pins what the build uses; the module list records the resolved graph.
  // Go has no neutral value for every type: no return mutants.
  coverage: goCover,
  mutation: {
    lineComment: '//',
    quotes: `"'`,
    blocks: [
      ['/*', '*/'],
      ['`', '`'],
    ],
    booleans: ['true', 'false'],
    logical: ['&&', '||'],
    deletedStatement: '',
    skip: /^(package\s|import\b|func\s|"|\*)/,
  },
  lock: { freeze: 'go list -m all 2>/dev/null' },
};
