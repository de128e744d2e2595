import { dirname, join } from 'node:path';
import { type LanguageModule, SETUP_HEADER, shellWord } from './types.ts';

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
  recipes: () => [
    {
      setupScript: `${SETUP_HEADER}go mod download\n`,
      // -count=1: never serve cached results, reruns must really run.
      testCommand: 'go test -json -count=1 ./...',
      resultFormat: 'go-test-json',
      source: 'deterministic',
    },
  ],
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
  cacheEnv: (cacheDir) => ({ GOMODCACHE: join(cacheDir, 'go-mod'), GOCACHE: join(cacheDir, 'go-build') }),
  // go.sum already pins what the build uses; the module list records the resolved graph.
  lock: { freeze: 'go list -m all 2>/dev/null' },
};
