import { join } from 'node:path';
import { parse as parseYaml } from 'yaml';
import type { Recipe } from '../api/index.ts';
import { v8Coverage } from './coverage.ts';
import { type LanguageModule, type RepoFacts, SETUP_HEADER, shellWord } from './types.ts';

/** `packageManager` of package.json (`pnpm@8.15.4+sha512.…`): name and version, hash dropped. */
export function packageManagerPin(pkg: {
  packageManager?: unknown;
}): { name: string; version: string } | undefined {
  if (typeof pkg.packageManager !== 'string') return undefined;
  const at = pkg.packageManager.lastIndexOf('@');
  if (at <= 0) return undefined;
  const name = pkg.packageManager.slice(0, at);
  const version = pkg.packageManager.slice(at + 1).split('+')[0]!;
  return /^(npm|pnpm|yarn)$/.test(name) && version ? { name, version } : undefined;
}

/** pnpm's major that writes a lockfile version (5.3 → 6, 5.4 → 7, 6.x → 8, 7.0/9.0 → 9). */
export function pnpmMajorForLockfile(lockfile: string | undefined): string | undefined {
  if (!lockfile) return undefined;
  let version: unknown;
  try {
    // Only the header is needed; lockfiles can be large, so parse up to the first blank line.
    version = (parseYaml(lockfile.split(/\n\s*\n/, 1)[0]!) as { lockfileVersion?: unknown } | null)
      ?.lockfileVersion;
  } catch {
    return undefined;
  }
  const major = {
    '5.3': '6',
    '5.4': '7',
    '6': '8',
    '6.0': '8',
    '6.1': '8',
    '7.0': '9',
    '9': '9',
    '9.0': '9',
  } as Record<string, string>;
  return major[String(version)];
}

/**
 * pnpm majors the CI workflows install (`pnpm/action-setup` or `pnpm/setup` with `version`):
 * what the project really used at that commit, when package.json pins none. One lockfile
 * format spans majors (9.0 is written by pnpm 9 to 11), and a newer major's settings in
 * pnpm-workspace.yaml stop an older one (nanoid of 2026 on pnpm 9: "packages field missing").
 */
export function workflowPnpmMajors(workflow: string): number[] {
  let doc: unknown;
  try {
    doc = parseYaml(workflow, { schema: 'failsafe' });
  } catch {
    return [];
  }
  const out: number[] = [];
  const walk = (v: unknown): void => {
    if (Array.isArray(v)) v.forEach(walk);
    else if (v && typeof v === 'object') {
      const step = v as { uses?: unknown; with?: { version?: unknown } };
      const major = /^v?(\d+)/.exec(String(step.with?.version ?? ''))?.[1];
      if (typeof step.uses === 'string' && /^pnpm\/(action-)?setup@/.test(step.uses) && major)
        out.push(Number(major));
      Object.values(v).forEach(walk);
    }
  };
  walk(doc);
  return out;
}

const WORKFLOW = /^\.github\/workflows\/[^/]+\.ya?ml$/;

/**
 * Setup lines before any corepack call: corepack from npm when the image lacks it; its
 * downloads from the registry npm is configured for (its default for yarn is a host the
 * sandboxes may not reach); no prompt, and no `packageManager` written into the checkout.
 * Registry mirrors serve metadata without npm's signatures, which corepack would refuse, so
 * signature checks are off unless the environment sets keys; a pin's own hash is still checked.
 */
const COREPACK_PRELUDE = `command -v corepack >/dev/null || corepack() { npx --yes corepack@0.34.6 "$@"; }
registry="$(npm config get registry)"
export COREPACK_NPM_REGISTRY="\${COREPACK_NPM_REGISTRY:-\${registry%/}}" COREPACK_ENABLE_DOWNLOAD_PROMPT=0 \\
  COREPACK_ENABLE_AUTO_PIN=0 COREPACK_INTEGRITY_KEYS="\${COREPACK_INTEGRITY_KEYS-0}"
`;

/** The install command, through corepack for pnpm and yarn so the pinned version runs. */
export function nodeInstall(
  files: readonly string[],
  pkg: { packageManager?: unknown },
  manifests: Record<string, string>,
): { script: string; toolchain: Record<string, string> } {
  const has = (f: string) => files.includes(f);
  const pin = packageManagerPin(pkg);
  const manager = pin?.name ?? (has('pnpm-lock.yaml') ? 'pnpm' : has('yarn.lock') ? 'yarn' : undefined);
  if (manager === 'pnpm') {
    const locked = pnpmMajorForLockfile(manifests['pnpm-lock.yaml']);
    // The newest major CI installs, if it can read the lockfile (none older than its writer).
    const ci = Math.max(
      ...Object.entries(manifests)
        .filter(([f]) => WORKFLOW.test(f))
        .flatMap(([, text]) => workflowPnpmMajors(text)),
    );
    const fromCi = !pin && ci >= Number(locked ?? 0) ? String(ci) : undefined;
    const major = pin ? undefined : (fromCi ?? locked);
    // With a pin, plain `corepack pnpm` runs exactly it (and checks its hash when given).
    const spec = pin ? 'pnpm' : major ? `pnpm@${major}` : 'pnpm';
    const frozen = has('pnpm-lock.yaml') ? ' --frozen-lockfile' : '';
    return {
      // A committed lockfile is the era's resolution: pnpm 11's minimum release age would check
      // each entry's publish time, which registry mirrors may not serve.
      script: `${COREPACK_PRELUDE}export pnpm_config_minimum_release_age=0\ncorepack ${spec} install${frozen}\n`,
      toolchain: {
        pnpm: pin?.version ?? major ?? 'latest',
        'pnpm.via': pin
          ? 'packageManager (corepack)'
          : fromCi
            ? 'CI workflow (corepack)'
            : major
              ? 'lockfile version (corepack)'
              : 'corepack',
      },
    };
  }
  if (manager === 'yarn') {
    const berry = pin ? !pin.version.startsWith('1.') : has('.yarnrc.yml');
    const spec = pin || berry ? 'yarn' : 'yarn@1';
    const frozen = has('yarn.lock') ? (berry ? ' --immutable' : ' --frozen-lockfile --non-interactive') : '';
    return {
      script: `${COREPACK_PRELUDE}corepack ${spec} install${frozen}\n`,
      toolchain: {
        yarn: pin?.version ?? (berry ? 'yarnPath or corepack default' : '1'),
        'yarn.via': pin ? 'packageManager (corepack)' : 'corepack',
      },
    };
  }
  const ci = has('package-lock.json') || has('npm-shrinkwrap.json');
  return {
    script: `${ci ? 'npm ci' : 'npm install'} --no-audit --no-fund --prefer-offline\n`,
    toolchain: pin ? { npm: 'bundled with node', 'npm.pinned': pin.version } : {},
  };
}

function recipes(facts: RepoFacts): Recipe[] {
  let pkg: {
    scripts?: Record<string, string>;
    dependencies?: object;
    devDependencies?: object;
    packageManager?: unknown;
  } = {};
  try {
    pkg = JSON.parse(facts.manifests['package.json'] ?? '{}');
  } catch {
    // unreadable manifest: fall through to the node test runner
  }
  const deps = { ...pkg.dependencies, ...pkg.devDependencies } as Record<string, string>;
  const testScript = pkg.scripts?.test ?? '';
  const install = nodeInstall(facts.files, pkg, facts.manifests);
  const setupScript = `${SETUP_HEADER}${install.script}`;
  const nodeVersion = /^v?(\d[^\s]*)/.exec(facts.tools?.node ?? '')?.[1];
  const toolchain = { ...(nodeVersion && { node: nodeVersion }), ...install.toolchain };
  const out: Recipe[] = [];
  if ('vitest' in deps || /\bvitest\b/.test(testScript))
    out.push({
      setupScript,
      testCommand: 'npx vitest run --reporter=json --outputFile="$SCALESWE_RESULTS"',
      resultFormat: 'vitest-json',
      source: 'deterministic',
      toolchain,
    });
  if ('jest' in deps || /\bjest\b/.test(testScript))
    out.push({
      setupScript,
      testCommand: 'npx jest --ci --json --outputFile="$SCALESWE_RESULTS"',
      resultFormat: 'jest-json',
      source: 'deterministic',
      toolchain,
    });
  if ('mocha' in deps || /\bmocha\b/.test(testScript))
    out.push({
      setupScript,
      testCommand: 'npx mocha --reporter xunit --reporter-option output="$SCALESWE_RESULTS"',
      resultFormat: 'junit-xml',
      source: 'deterministic',
      toolchain,
    });
  out.push({
    setupScript,
    testCommand: 'node --test --test-reporter=junit --test-reporter-destination="$SCALESWE_RESULTS"',
    resultFormat: 'junit-xml',
    source: 'deterministic',
    toolchain,
  });
  return out;
}

/**
 * The dependency whose own install script (postinstall …) failed in npm's output, if any:
 * npm reports `path …/node_modules/<pkg>` then `command failed`. The project's own scripts
 * (path = the checkout) are not meant.
 */
export function failedDependencyScript(output: string): string | undefined {
  const m =
    /^npm (?:error|ERR!) path \S*\/node_modules\/((?:@[^/\s]+\/)?[^/\s]+)\s*\n(?:npm (?:error|ERR!) .*\n)*?npm (?:error|ERR!) command failed/m.exec(
      output,
    );
  return m?.[1];
}

const NO_SCRIPTS_MARK = '# scaleswe: without install scripts';

/**
 * A dependency's install script failed (jshttp/cookie: top-sites' postinstall downloads a list
 * from the web, which sandboxes do not reach): install again without install scripts. Most
 * packages need none (native modules do, and then the tests say so); npm only.
 */
function repair(recipe: Recipe, output: string): Recipe | undefined {
  if (recipe.source !== 'deterministic' || recipe.setupScript.includes(NO_SCRIPTS_MARK)) return undefined;
  const dependency = failedDependencyScript(output);
  const install = /^npm (ci|install) (.*)$/m;
  if (!dependency || !install.test(recipe.setupScript)) return undefined;
  return {
    ...recipe,
    setupScript: recipe.setupScript.replace(
      install,
      (line) => `${NO_SCRIPTS_MARK} (${dependency}'s failed)\n${line} --ignore-scripts`,
    ),
    toolchain: { ...recipe.toolchain, 'npm.scripts': `skipped (${dependency}'s install script failed)` },
  };
}

export const node: LanguageModule = {
  name: 'node',
  extensions: ['js', 'jsx', 'mjs', 'cjs', 'ts', 'tsx', 'mts', 'cts'],
  linguist: ['JavaScript', 'TypeScript'],
  manifest: /^package\.json$/,
  // jest, vitest, mocha; snapshots belong to the tests that wrote them.
  testFiles: [/^.*\.(test|spec)\.[cm]?[jt]sx?$/, /^.*\.snap$/],
  lockfiles: ['package-lock.json', 'npm-shrinkwrap.json', 'yarn.lock', 'pnpm-lock.yaml', 'bun.lockb'],
  configFiles: [
    /^\.(eslintrc|prettierrc|stylelintrc|commitlintrc|lintstagedrc|markdownlintrc)(\.(js|cjs|mjs|json|ya?ml|toml))?$/,
    /^(eslint|prettier|stylelint|commitlint)\.config\.(js|cjs|mjs|ts)$/,
    /^\.(eslintignore|prettierignore|npmignore|nvmrc|node-version)$/,
    /^biome\.jsonc?$/,
  ],
  envManifests: ['package.json', 'pnpm-lock.yaml'],
  envFiles: [WORKFLOW],
  resultFormats: ['vitest-json', 'jest-json', 'junit-xml'],
  recipes,
  repair,
  // vitest, jest, mocha and node --test all take test files as arguments.
  scopeTests(recipe, testFiles) {
    if (!/\b(vitest|jest|mocha|node --test)\b/.test(recipe.testCommand)) return undefined;
    const files = testFiles.filter(
      (f) => /\.[cm]?[jt]sx?$/.test(f) && !/(^|\/)(fixtures?|__fixtures__|__mocks__|helpers?)\//.test(f),
    );
    return files.length === 0 ? undefined : `${recipe.testCommand} ${files.map(shellWord).join(' ')}`;
  },
  toolProbes: { node: 'node --version' },
  // npm's cache, corepack's package managers, pnpm's store (npm_config_* for pnpm ≤ 10,
  // pnpm_config_* after) and yarn berry's global cache; yarn 1 follows XDG_CACHE_HOME.
  cacheEnv: (cacheDir) => ({
    npm_config_cache: join(cacheDir, 'npm'),
    COREPACK_HOME: join(cacheDir, 'corepack'),
    npm_config_store_dir: join(cacheDir, 'pnpm-store'),
    pnpm_config_store_dir: join(cacheDir, 'pnpm-store'),
    YARN_GLOBAL_FOLDER: join(cacheDir, 'yarn-berry'),
  }),
  // name@version of every installed package, whichever manager installed node_modules.
  lock: {
    freeze:
      "[ -d node_modules ] && npm ls --all --parseable --long 2>/dev/null | cut -d: -f2 | grep '@' | sort -u || true",
  },
  coverage: v8Coverage,
  mutation: {
    lineComment: '//',
    quotes: `'"`,
    blocks: [
      ['/*', '*/'],
      ['`', '`'],
    ],
    booleans: ['true', 'false'],
    logical: ['&&', '||'],
    strictEquality: true,
    neutralReturn: 'undefined',
    deletedStatement: '',
    skip: /^(import\s|export\s.*\sfrom\s|(export\s+)?(default\s+)?(async\s+)?function\b|\*|["'`])/,
  },
};
