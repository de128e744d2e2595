import { join } from 'node:path';
import type { Recipe } from '../api/index.ts';
import { type LanguageModule, type RepoFacts, SETUP_HEADER } from './types.ts';

function recipes(facts: RepoFacts): Recipe[] {
  const has = (f: string) => facts.files.includes(f);
  let install = 'npm install --no-audit --no-fund --prefer-offline';
  if (has('pnpm-lock.yaml')) install = 'npx --yes pnpm install --frozen-lockfile';
  else if (has('yarn.lock') && has('.yarnrc.yml')) install = 'corepack yarn install --immutable';
  else if (has('yarn.lock')) install = 'npx --yes yarn@1 install --frozen-lockfile --non-interactive';
  else if (has('package-lock.json') || has('npm-shrinkwrap.json'))
    install = 'npm ci --no-audit --no-fund --prefer-offline';
  let pkg: { scripts?: Record<string, string>; dependencies?: object; devDependencies?: object } = {};
  try {
    pkg = JSON.parse(facts.manifests['package.json'] ?? '{}');
  } catch {
    // unreadable manifest: fall through to the node test runner
  }
  const deps = { ...pkg.dependencies, ...pkg.devDependencies } as Record<string, string>;
  const testScript = pkg.scripts?.test ?? '';
  const setupScript = `${SETUP_HEADER}${install}\n`;
  const out: Recipe[] = [];
  if ('vitest' in deps || /\bvitest\b/.test(testScript))
    out.push({
      setupScript,
      testCommand: 'npx vitest run --reporter=json --outputFile="$SCALESWE_RESULTS"',
      resultFormat: 'vitest-json',
      source: 'deterministic',
    });
  if ('jest' in deps || /\bjest\b/.test(testScript))
    out.push({
      setupScript,
      testCommand: 'npx jest --ci --json --outputFile="$SCALESWE_RESULTS"',
      resultFormat: 'jest-json',
      source: 'deterministic',
    });
  if ('mocha' in deps || /\bmocha\b/.test(testScript))
    out.push({
      setupScript,
      testCommand: 'npx mocha --reporter xunit --reporter-option output="$SCALESWE_RESULTS"',
      resultFormat: 'junit-xml',
      source: 'deterministic',
    });
  out.push({
    setupScript,
    testCommand: 'node --test --test-reporter=junit --test-reporter-destination="$SCALESWE_RESULTS"',
    resultFormat: 'junit-xml',
    source: 'deterministic',
  });
  return out;
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
  envManifests: ['package.json'],
  resultFormats: ['vitest-json', 'jest-json', 'junit-xml'],
  recipes,
  cacheEnv: (cacheDir) => ({ npm_config_cache: join(cacheDir, 'npm') }),
};
