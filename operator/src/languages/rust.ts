import { join } from 'node:path';
import { type LanguageModule, SETUP_HEADER } from './types.ts';

export const rust: LanguageModule = {
  name: 'rust',
  extensions: ['rs'],
  linguist: ['Rust'],
  manifest: /^Cargo\.toml$/,
  // Integration tests live in tests/ (a generic test dir); unit tests sit inside the sources.
  testFiles: [],
  lockfiles: ['Cargo.lock'],
  configFiles: [/^\.?(rustfmt|clippy|deny)\.toml$/, /^rust-toolchain(\.toml)?$/],
  envManifests: ['Cargo.toml'],
  resultFormats: ['cargo'],
  recipes: () => [
    {
      setupScript: `${SETUP_HEADER}cargo fetch\ncargo test --no-run\n`,
      testCommand: 'cargo test --no-fail-fast 2>&1',
      resultFormat: 'cargo',
      source: 'deterministic',
    },
  ],
  cacheEnv: (cacheDir) => ({ CARGO_HOME: join(cacheDir, 'cargo') }),
};
