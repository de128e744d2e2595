import { join } from 'node:path';
import { parse as parseToml } from 'smol-toml';
import type { Recipe } from '../api/index.ts';
import { type LanguageModule, type RepoFacts, SETUP_HEADER } from './types.ts';

/** The toolchain a repository pins in `rust-toolchain.toml` or `rust-toolchain` (plain or TOML). */
export function pinnedToolchain(manifests: Record<string, string>): string | undefined {
  for (const file of ['rust-toolchain.toml', 'rust-toolchain']) {
    const source = manifests[file]?.trim();
    if (!source) continue;
    // The legacy file is the bare channel name; later ones are TOML with [toolchain].
    if (file === 'rust-toolchain' && !source.includes('[')) return source.split(/\s/)[0];
    try {
      const channel = (parseToml(source).toolchain as { channel?: unknown } | undefined)?.channel;
      if (typeof channel === 'string' && channel) return channel;
    } catch {
      // not TOML: nothing pinned we can read
    }
  }
  return undefined;
}

/**
 * The components and targets a `rust-toolchain.toml` asks for. rustup installs missing ones on
 * the first cargo call — which writes to its read-only home in the sandbox (EROFS) — so a file
 * that lists any is bypassed with RUSTUP_TOOLCHAIN (a build that truly needs them then fails
 * on its own terms).
 */
export function toolchainExtras(manifests: Record<string, string>): string[] {
  for (const file of ['rust-toolchain.toml', 'rust-toolchain']) {
    const source = manifests[file]?.trim();
    if (!source?.includes('[')) continue;
    try {
      const toolchain = (parseToml(source).toolchain ?? {}) as { components?: unknown; targets?: unknown };
      const list = (v: unknown) =>
        Array.isArray(v) ? v.filter((x): x is string => typeof x === 'string') : [];
      return [...list(toolchain.components), ...list(toolchain.targets)];
    } catch {
      return [];
    }
  }
  return [];
}

export interface RustupFacts {
  /** Installed toolchain names (`stable-x86_64-unknown-linux-gnu`, `1.95.0-…`). */
  toolchains: string[];
  default: string | undefined;
}

/** `rustup toolchain list` output. */
export function readRustupList(output: string): RustupFacts {
  const toolchains: string[] = [];
  let fallback: string | undefined;
  for (const line of output.split('\n')) {
    const [name, ...rest] = line.trim().split(/\s+/);
    if (!name || name === 'no') continue; // "no installed toolchains"
    toolchains.push(name);
    if (rest.join(' ').includes('default')) fallback = name;
  }
  return { toolchains, default: fallback };
}

/** `rustc -vV`: the release and host triple. */
export function readRustcVersion(output: string | undefined): { release?: string; host?: string } {
  const field = (key: string) => new RegExp(`^${key}: (\\S+)$`, 'm').exec(output ?? '')?.[1];
  const release = field('release');
  const host = field('host');
  return { ...(release && { release }), ...(host && { host }) };
}

/** rustup names a toolchain `<channel>` or `<channel>-<host>`. */
function installed(rustup: RustupFacts, channel: string, host: string | undefined): boolean {
  return rustup.toolchains.some((t) => t === channel || (host !== undefined && t === `${channel}-${host}`));
}

/** The short channel of an installed toolchain name (`stable-x86_64-unknown-linux-gnu` → `stable`). */
function channelOf(name: string, host: string | undefined): string {
  return host && name.endsWith(`-${host}`) ? name.slice(0, -host.length - 1) : name;
}

export interface RustToolchainChoice {
  /** Value for RUSTUP_TOOLCHAIN when the pin cannot be honoured (rustup would refuse to run). */
  override?: string;
  toolchain: Record<string, string>;
}

/**
 * Honour the pin when that toolchain is installed (rustup reads the file itself). rustup
 * cannot install one inside the sandbox (its home is read-only, its download host often
 * unreachable), so an uninstalled pin falls back to the default toolchain, recorded as such.
 */
export function chooseRustToolchain(facts: RepoFacts): RustToolchainChoice {
  const pin = pinnedToolchain(facts.manifests);
  const rustc = readRustcVersion(facts.tools?.rustc);
  const version = rustc.release ?? 'installed';
  const probe = facts.tools?.rustup;
  if (probe === undefined) {
    const via = pin ? `installed (rust-toolchain pins ${pin}; no rustup in the sandbox)` : 'installed';
    return { toolchain: { rust: version, 'rust.via': via } };
  }
  const rustup = readRustupList(probe);
  const fallback = channelOf(rustup.default ?? 'stable', rustc.host);
  const extras = toolchainExtras(facts.manifests);
  const bypassed = `rust-toolchain asks for ${extras.join(', ')}, which rustup cannot install here: file bypassed`;
  if (!pin && extras.length === 0) return { toolchain: { rust: version, 'rust.via': 'rustup default' } };
  if (!pin)
    return { override: fallback, toolchain: { rust: version, 'rust.via': `${fallback} (${bypassed})` } };
  if (installed(rustup, pin, rustc.host)) {
    if (extras.length === 0) return { toolchain: { rust: pin, 'rust.via': 'rust-toolchain' } };
    return { override: pin, toolchain: { rust: pin, 'rust.via': `${pin} (${bypassed})` } };
  }
  return {
    override: fallback,
    toolchain: {
      rust: version,
      'rust.via': `${fallback} (rust-toolchain pins ${pin}: not installed, and rustup cannot install it here)`,
    },
  };
}

function recipes(facts: RepoFacts): Recipe[] {
  const choice = chooseRustToolchain(facts);
  const pin = choice.override ? `export RUSTUP_TOOLCHAIN=${choice.override}\n` : '';
  return [
    {
      setupScript: `${SETUP_HEADER}${pin}cargo fetch\ncargo test --no-run\n`,
      testCommand: `${choice.override ? `RUSTUP_TOOLCHAIN=${choice.override} ` : ''}cargo test --no-fail-fast 2>&1`,
      resultFormat: 'cargo',
      source: 'deterministic',
      toolchain: choice.toolchain,
    },
  ];
}

/** rustc's note on a lint error: the lint is denied (by the crate, often `deny(warnings)`). */
const DENIED_LINT =
  /`#\[deny\([\w:]+\)\]` (?:on by default|implied by `#\[deny\(warnings\)\]`)|the lint level is defined here/;
const CAP_LINTS = '--cap-lints=warn';

/**
 * Old crates deny warnings in their test builds (`#![cfg_attr(test, deny(warnings))]`), and
 * each rustc since adds warnings (unexpected_cfgs, …): code that built then fails to build now
 * (httparse#111 of 2022). Lints are not behaviour, so cap them at warnings as cargo does for
 * dependencies, in setup and tests alike (the same flags, or cargo rebuilds). RUSTFLAGS replaces
 * a `.cargo/config` `build.rustflags`, so not where the project sets its own.
 */
function repair(recipe: Recipe, output: string, facts: RepoFacts): Recipe | undefined {
  if (recipe.source !== 'deterministic' || recipe.resultFormat !== 'cargo') return undefined;
  if (recipe.setupScript.includes(CAP_LINTS) || !DENIED_LINT.test(output)) return undefined;
  if (facts.files.some((f) => /^\.cargo\/config(\.toml)?$/.test(f))) return undefined;
  if (!recipe.setupScript.startsWith(SETUP_HEADER)) return undefined;
  return {
    ...recipe,
    setupScript: `${SETUP_HEADER}export RUSTFLAGS=${CAP_LINTS}  # scaleswe: lints the crate denies only warn\n${recipe.setupScript.slice(SETUP_HEADER.length)}`,
    testCommand: `RUSTFLAGS=${CAP_LINTS} ${recipe.testCommand}`,
  };
}

export const rust: LanguageModule = {
  name: 'rust',
  extensions: ['rs'],
  linguist: ['Rust'],
  manifest: /^Cargo\.toml$/,
  // Integration tests live in tests/ (a generic test dir); unit tests sit inside the sources.
  testFiles: [],
  lockfiles: ['Cargo.lock'],
  configFiles: [/^\.?(rustfmt|clippy|deny)\.toml$/, /^rust-toolchain(\.toml)?$/],
  envManifests: ['Cargo.toml', 'rust-toolchain.toml', 'rust-toolchain'],
  resultFormats: ['cargo'],
  recipes,
  repair,
  // Integration tests (tests/<name>.rs) are cargo targets; unit tests inside the sources are
  // not selectable by file, so a test patch touching those runs the whole suite.
  scopeTests(recipe, testFiles) {
    const rs = testFiles.filter((f) => f.endsWith('.rs'));
    const targets = rs.map((f) => /^tests\/([A-Za-z0-9_-]+)\.rs$/.exec(f)?.[1]);
    if (rs.length === 0 || targets.some((t) => t === undefined) || !/cargo test /.test(recipe.testCommand))
      return undefined;
    return recipe.testCommand.replace(
      'cargo test ',
      `cargo test ${targets.map((t) => `--test ${t}`).join(' ')} `,
    );
  },
  toolProbes: { rustup: 'rustup toolchain list', rustc: 'rustc -vV' },
  // Registry and git caches go to the stage cache; the toolchains stay where rustup put them.
  cacheEnv: (cacheDir) => ({ CARGO_HOME: join(cacheDir, 'cargo') }),
  // Cargo.lock is the resolved graph (setup's `cargo fetch` writes it when the repo has none).
  lock: { freeze: 'cat Cargo.lock 2>/dev/null || true' },
  // rustup finds its toolchains through RUSTUP_HOME, by default under HOME — which the sandbox
  // replaces: point it at the user's (read-only in the sandbox, and only read there).
  toolchainEnv: (host) => ({ RUSTUP_HOME: host.env.RUSTUP_HOME ?? join(host.home, '.rustup') }),
  mutation: {
    lineComment: '//',
    quotes: '"',
    blocks: [['/*', '*/']],
    booleans: ['true', 'false'],
    logical: ['&&', '||'],
    // As cargo-mutants does: every type the tests can observe usually has a Default.
    neutralReturn: 'Default::default()',
    deletedStatement: '',
    skip: /^(use\s|mod\s|#|(pub(\([^)]*\))?\s+)?(const\s+|async\s+|unsafe\s+)*fn\s|\*|")/,
  },
};
