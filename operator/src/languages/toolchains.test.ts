import { describe, expect, it } from 'vitest';
import { chooseGoToolchain, go, goModDirectives } from './go.ts';
import { java } from './java.ts';
import { MAVEN_RELEASES, mavenChoices, mavenVersionFromProbe, readPom, wrapperVersion } from './maven.ts';
import { node, nodeInstall, packageManagerPin, pnpmMajorForLockfile, workflowPnpmMajors } from './node.ts';
import { chooseRustToolchain, pinnedToolchain, rust } from './rust.ts';
import type { RepoFacts } from './types.ts';
import { compareVersions, newestSatisfying, parseVersionRange, satisfies } from './versions.ts';

describe('versions', () => {
  it('orders as Maven does', () => {
    const sorted = ['3.9.0', '3.10', '3.9', '3.9.0-rc1', '3.8.7', '3.9-alpha-1', '3.9.1', '3.9-sp1'];
    sorted.sort(compareVersions);
    expect(sorted).toEqual(['3.8.7', '3.9-alpha-1', '3.9.0-rc1', '3.9.0', '3.9', '3.9-sp1', '3.9.1', '3.10']);
    expect(compareVersions('3.9', '3.9.0')).toBe(0);
    expect(compareVersions('1.10.0', '1.9.9')).toBe(1);
  });
  it('reads ranges: brackets, bare minimums, exact, unions', () => {
    const has = (range: string, v: string) => satisfies(v, parseVersionRange(range)!);
    expect(has('[3.9.0,)', '3.8.7')).toBe(false);
    expect(has('[3.9.0,)', '3.9.0')).toBe(true);
    expect(has('3.9', '3.9.6')).toBe(true);
    expect(has('3.9', '3.8.8')).toBe(false);
    expect(has('(,3.9)', '3.9.0')).toBe(false);
    expect(has('[3.6,4)', '3.9.11')).toBe(true);
    expect(has('[3.8.1]', '3.8.1')).toBe(true);
    expect(has('[3.8.1]', '3.8.2')).toBe(false);
    expect(has('[1,2),[3.5,)', '3.6')).toBe(true);
    expect(has('[1,2),[3.5,)', '2.5')).toBe(false);
    expect(parseVersionRange(`\${x}`)).toBeUndefined();
    expect(parseVersionRange('[1,2,3]')).toBeUndefined();
  });
  it('picks the newest candidate inside every range', () => {
    expect(newestSatisfying(['3.6.3', '3.9.11', '3.8.8'], [parseVersionRange('[3.6,3.9)')!])).toBe('3.8.8');
    expect(newestSatisfying(['3.6.3'], [parseVersionRange('[4,)')!])).toBeUndefined();
  });
});

const pom = (build: string, extra = '') => `<?xml version="1.0"?>
<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>${extra}
  <groupId>x</groupId><artifactId>y</artifactId><version>1</version>
  <properties><maven.min>3.9.0</maven.min></properties>
  <build>${build}</build>
</project>`;

const ENFORCER = `<plugins><plugin>
  <groupId>org.apache.maven.plugins</groupId><artifactId>maven-enforcer-plugin</artifactId>
  <executions><execution><id>enforce</id><goals><goal>enforce</goal></goals>
    <configuration><rules><requireMavenVersion><version>[\${maven.min},)</version></requireMavenVersion></rules></configuration>
  </execution></executions>
</plugin></plugins>`;

describe('maven', () => {
  it('reads enforcer and prerequisites requirements from the POM, properties resolved', () => {
    expect(readPom(pom(ENFORCER), ['pom.xml'])).toEqual({
      mavenRequirements: ['[3.9.0,)'],
      remoteParent: false,
    });
    const managed = pom(
      `<pluginManagement>${ENFORCER.replace(`[\${maven.min},)`, '3.6.3')}</pluginManagement>`,
      '<prerequisites><maven>3.5</maven></prerequisites>',
    );
    expect(readPom(managed, [])!.mavenRequirements).toEqual(['3.5', '3.6.3']);
    expect(readPom('not xml <', [])).toBeUndefined();
  });
  it('a parent outside the repository is remote; one inside is not', () => {
    const parent = (rel: string) =>
      pom('', `<parent><groupId>p</groupId><artifactId>p</artifactId><version>1</version>${rel}</parent>`);
    expect(readPom(parent(''), ['pom.xml'])!.remoteParent).toBe(true); // default ../pom.xml
    expect(readPom(parent('<relativePath/>'), ['pom.xml'])!.remoteParent).toBe(true);
    expect(
      readPom(parent('<relativePath>build/parent</relativePath>'), ['build/parent/pom.xml'])!.remoteParent,
    ).toBe(false);
  });
  it('reads the probed and the wrapper-pinned versions', () => {
    expect(mavenVersionFromProbe('\x1b[1mApache Maven 3.8.7\x1b[m\nMaven home: /usr/share/maven')).toBe(
      '3.8.7',
    );
    const props =
      'distributionUrl=https\\://repo.maven.apache.org/maven2/org/apache/maven/apache-maven/3.9.9/apache-maven-3.9.9-bin.zip\n';
    expect(wrapperVersion(props, 'maven')).toBe('3.9.9');
    expect(
      wrapperVersion(
        'distributionUrl=https\\://services.gradle.org/distributions/gradle-8.5-bin.zip',
        'gradle',
      ),
    ).toBe('8.5');
  });
  it('wrapper first; the installed Maven when it suffices; else a fetched one', () => {
    const enforced = readPom(pom(ENFORCER), ['pom.xml']);
    expect(
      mavenChoices({ pom: enforced, hasWrapper: true, installed: '3.8.7' }).map((c) => c.command),
    ).toEqual(['./mvnw']);
    const [tooOld, ...rest] = mavenChoices({ pom: enforced, hasWrapper: false, installed: '3.8.7' });
    expect(rest).toEqual([]);
    expect(tooOld).toMatchObject({ via: 'fetched', version: MAVEN_RELEASES[0] });
    expect(tooOld!.note).toContain('3.8.7 is too old');
    expect(tooOld!.prepare).toContain(
      `apache-maven/${MAVEN_RELEASES[0]}/apache-maven-${MAVEN_RELEASES[0]}-bin.tar.gz`,
    );
    expect(tooOld!.prepare).toContain('sha512sum -c');
    expect(mavenChoices({ pom: enforced, hasWrapper: false, installed: '3.9.6' })).toMatchObject([
      { command: 'mvn', via: 'installed', version: '3.9.6', prepare: '' },
    ]);
    // An unreadable parent may demand more: the installed Maven first, a newer one as fallback.
    const remote = { mavenRequirements: [], remoteParent: true };
    expect(mavenChoices({ pom: remote, hasWrapper: false, installed: '3.8.7' }).map((c) => c.via)).toEqual([
      'installed',
      'fetched',
    ]);
    expect(mavenChoices({ pom: undefined, hasWrapper: false, installed: undefined })[0]!.via).toBe('fetched');
  });
  it('the recipe records the chosen Maven and uses it in setup and tests', () => {
    const [r] = java.recipes({
      files: ['pom.xml'],
      manifests: { 'pom.xml': pom(ENFORCER) },
      tools: { mvn: 'Apache Maven 3.8.7', java: 'openjdk version "17.0.15" 2025-04-15' },
    });
    expect(r!.toolchain).toMatchObject({ maven: MAVEN_RELEASES[0], java: '17.0.15' });
    expect(r!.testCommand).toContain(`apache-maven-${MAVEN_RELEASES[0]}/bin/mvn" -B test`);
  });
  it('points Maven, its wrapper and Gradle at the stage cache', () => {
    expect(java.cacheEnv('/c')).toEqual({
      MAVEN_OPTS: '-Dmaven.repo.local=/c/m2/repository',
      MAVEN_USER_HOME: '/c/m2',
      GRADLE_USER_HOME: '/c/gradle',
    });
  });
});

describe('rust', () => {
  const rustup =
    'stable-x86_64-unknown-linux-gnu (active, default)\nnightly-x86_64-unknown-linux-gnu\n1.95.0-x86_64-unknown-linux-gnu\n';
  const rustc =
    'rustc 1.95.0 (abc 2026-03-21)\nbinary: rustc\nhost: x86_64-unknown-linux-gnu\nrelease: 1.95.0\n';
  it('reads rust-toolchain.toml and the legacy rust-toolchain', () => {
    expect(
      pinnedToolchain({
        'rust-toolchain.toml': '[toolchain]\nchannel = "1.70.0"\ncomponents = ["clippy"]\n',
      }),
    ).toBe('1.70.0');
    expect(pinnedToolchain({ 'rust-toolchain': 'nightly-2024-01-01\n' })).toBe('nightly-2024-01-01');
    expect(pinnedToolchain({ 'rust-toolchain': '[toolchain]\nchannel = "beta"\n' })).toBe('beta');
    expect(pinnedToolchain({ 'rust-toolchain.toml': 'not = [toml' })).toBeUndefined();
  });
  it('honours an installed pin, falls back to the default toolchain otherwise', () => {
    const facts = (pin: string | undefined, tools: Record<string, string>): RepoFacts => ({
      files: ['Cargo.toml'],
      manifests: pin ? { 'rust-toolchain.toml': `[toolchain]\nchannel = "${pin}"\n` } : {},
      tools,
    });
    expect(chooseRustToolchain(facts('1.95.0', { rustup, rustc }))).toEqual({
      toolchain: { rust: '1.95.0', 'rust.via': 'rust-toolchain' },
    });
    expect(chooseRustToolchain(facts('nightly', { rustup, rustc })).override).toBeUndefined();
    const fallback = chooseRustToolchain(facts('1.70.0', { rustup, rustc }));
    expect(fallback.override).toBe('stable');
    expect(fallback.toolchain.rust).toBe('1.95.0');
    expect(fallback.toolchain['rust.via']).toContain('pins 1.70.0: not installed');
    const [recipe] = rust.recipes(facts('1.70.0', { rustup, rustc }));
    expect(recipe!.setupScript).toContain('export RUSTUP_TOOLCHAIN=stable\n');
    expect(recipe!.testCommand).toMatch(/^RUSTUP_TOOLCHAIN=stable cargo test/);
    // Components or targets the file asks for would make rustup write to its read-only home:
    // the file is bypassed, on the pinned toolchain when installed, else the default.
    const extras = (toml: string): RepoFacts => ({
      files: ['Cargo.toml'],
      manifests: { 'rust-toolchain.toml': toml },
      tools: { rustup, rustc },
    });
    const unpinned = chooseRustToolchain(extras('[toolchain]\ncomponents = ["rust-src"]\n'));
    expect(unpinned.override).toBe('stable');
    expect(unpinned.toolchain['rust.via']).toContain('asks for rust-src');
    expect(rust.recipes(extras('[toolchain]\ncomponents = ["rust-src"]\n'))[0]!.testCommand).toMatch(
      /^RUSTUP_TOOLCHAIN=stable cargo test/,
    );
    const pinned = chooseRustToolchain(
      extras(
        '[toolchain]\nchannel = "nightly"\ncomponents = ["miri"]\ntargets = ["wasm32-unknown-unknown"]\n',
      ),
    );
    expect(pinned.override).toBe('nightly');
    expect(pinned.toolchain['rust.via']).toContain('miri, wasm32-unknown-unknown');
    // No rustup (Debian's cargo in the cluster image): the installed compiler, said so.
    expect(chooseRustToolchain(facts('1.70.0', { rustc })).toolchain['rust.via']).toContain('no rustup');
  });
  it("lints an old crate denies, which today's rustc raises, are capped at warnings by a repair round", () => {
    // rustc 1.95 on httparse of 2022 (`#![cfg_attr(test, deny(warnings))]`).
    const output =
      'error: unexpected `cfg` condition name: `httparse_simd`\n   --> src/simd/mod.rs:277:5\n' +
      'note: the lint level is defined here\n  --> src/lib.rs:3:23\n' +
      '  = note: `#[deny(unexpected_cfgs)]` implied by `#[deny(warnings)]`\n' +
      'error: could not compile `httparse` (lib test) due to 30 previous errors\n';
    const facts: RepoFacts = { files: ['Cargo.toml', 'src/lib.rs'], manifests: {}, tools: { rustc } };
    const [recipe] = rust.recipes(facts);
    const repaired = rust.repair!(recipe!, output, facts);
    expect(repaired!.setupScript).toMatch(
      /^set -euo pipefail\nexport RUSTFLAGS=--cap-lints=warn {2}# .*\ncargo fetch\ncargo test --no-run\n$/,
    );
    expect(repaired!.testCommand).toBe('RUSTFLAGS=--cap-lints=warn cargo test --no-fail-fast 2>&1');
    expect(rust.scopeTests!(repaired!, ['tests/uri.rs'])).toBe(
      'RUSTFLAGS=--cap-lints=warn cargo test --test uri --no-fail-fast 2>&1',
    );
    expect(rust.repair!(repaired!, output, facts)).toBeUndefined();
    // Not for other build errors, nor where .cargo/config sets the flags RUSTFLAGS would replace.
    expect(
      rust.repair!(recipe!, 'error[E0425]: cannot find value `x` in this scope\n', facts),
    ).toBeUndefined();
    const configured = { ...facts, files: [...facts.files, '.cargo/config.toml'] };
    expect(rust.repair!(recipe!, output, configured)).toBeUndefined();
  });
});

describe('node', () => {
  it('reads packageManager and the pnpm lockfile version', () => {
    expect(packageManagerPin({ packageManager: 'pnpm@8.15.4+sha512.abc' })).toEqual({
      name: 'pnpm',
      version: '8.15.4',
    });
    expect(packageManagerPin({ packageManager: 'bun@1' })).toBeUndefined();
    expect(pnpmMajorForLockfile("lockfileVersion: '6.0'\n\nsettings:\n  autoInstallPeers: true\n")).toBe('8');
    expect(pnpmMajorForLockfile("lockfileVersion: '9.0'\n\nimporters: {}\n")).toBe('9');
    expect(pnpmMajorForLockfile('lockfileVersion: 5.4\n\nspecifiers: {}\n')).toBe('7');
  });
  it('runs the pinned pnpm through corepack and records it', () => {
    const pinned = nodeInstall(['package.json', 'pnpm-lock.yaml'], { packageManager: 'pnpm@8.15.4' }, {});
    expect(pinned.script).toContain('corepack pnpm install --frozen-lockfile\n');
    expect(pinned.script).not.toContain('npx --yes pnpm');
    expect(pinned.toolchain).toEqual({ pnpm: '8.15.4', 'pnpm.via': 'packageManager (corepack)' });
    const byLock = nodeInstall(
      ['package.json', 'pnpm-lock.yaml'],
      {},
      { 'pnpm-lock.yaml': "lockfileVersion: '6.0'\n" },
    );
    expect(byLock.script).toContain('corepack pnpm@8 install --frozen-lockfile\n');
    const berry = nodeInstall(['package.json', 'yarn.lock'], { packageManager: 'yarn@4.1.0' }, {});
    expect(berry.script).toContain('corepack yarn install --immutable\n');
    expect(nodeInstall(['package.json', 'package-lock.json'], {}, {}).script).toMatch(/^npm ci /);
  });
  it('without a pin, the newest pnpm major CI installs, when it can read the lockfile', () => {
    // nanoid of 2026: lockfile 9.0 (pnpm 9 writes it too), CI on pnpm 11 and 10.
    const workflow = (v: string, action = 'pnpm/setup@5d160c5') =>
      `jobs:\n  full:\n    steps:\n      - uses: actions/checkout@v4\n      - name: Install pnpm\n        uses: ${action}\n        with:\n          version: ${v}\n`;
    const files = [
      'package.json',
      'pnpm-lock.yaml',
      '.github/workflows/test.yml',
      '.github/workflows/old.yaml',
    ];
    const manifests = {
      'pnpm-lock.yaml': "lockfileVersion: '9.0'\n",
      '.github/workflows/test.yml': workflow('11'),
      '.github/workflows/old.yaml': workflow('10.2.0', 'pnpm/action-setup@v4'),
    };
    const ci = nodeInstall(files, {}, manifests);
    expect(ci.script).toContain(
      'export pnpm_config_minimum_release_age=0\ncorepack pnpm@11 install --frozen-lockfile\n',
    );
    expect(ci.toolchain).toEqual({ pnpm: '11', 'pnpm.via': 'CI workflow (corepack)' });
    expect(workflowPnpmMajors(workflow('v8.6.0', 'pnpm/action-setup@v2'))).toEqual([8]);
    // A CI major older than the lockfile's writer cannot read it; a pin wins over CI.
    const old = {
      ...manifests,
      '.github/workflows/test.yml': workflow('8'),
      '.github/workflows/old.yaml': '',
    };
    expect(nodeInstall(files, {}, old).script).toContain('corepack pnpm@9 install');
    expect(nodeInstall(files, { packageManager: 'pnpm@10.1.0' }, manifests).toolchain['pnpm.via']).toBe(
      'packageManager (corepack)',
    );
  });
  it('puts corepack, the pnpm store and yarn berry under the stage cache', () => {
    expect(node.cacheEnv('/c')).toMatchObject({
      COREPACK_HOME: '/c/corepack',
      npm_config_store_dir: '/c/pnpm-store',
      YARN_GLOBAL_FOLDER: '/c/yarn-berry',
    });
  });
});

describe('go toolchain', () => {
  const mod = (lines: string) =>
    `module example.com/m\n\n${lines}\n\nrequire x v1.0.0 // go 1.99 in a comment\n`;
  it('reads the go and toolchain directives', () => {
    expect(goModDirectives(mod('go 1.21.3\ntoolchain go1.22.5 // pinned'))).toEqual({
      go: '1.21.3',
      toolchain: 'go1.22.5',
    });
    expect(goModDirectives('module m\n')).toEqual({});
  });
  it('fetches the toolchain line, falls back to the installed Go', () => {
    const [pinned, fallback] = chooseGoToolchain(mod('go 1.21\ntoolchain go1.22.5'), 'go1.26.8');
    expect(pinned).toEqual({
      gotoolchain: 'go1.22.5',
      toolchain: { go: '1.22.5', 'go.via': 'go.mod toolchain line (GOTOOLCHAIN)' },
    });
    expect(fallback!.gotoolchain).toBe('local');
    expect(fallback!.toolchain.go).toBe('1.26.8');
    expect(chooseGoToolchain(mod('toolchain go1.26.8'), 'go1.26.8')).toHaveLength(1);
  });
  it('a go line is a minimum: the installed Go when it is new enough, else that release', () => {
    expect(chooseGoToolchain(mod('go 1.17'), 'go1.26.8')).toEqual([
      { gotoolchain: 'local', toolchain: { go: '1.26.8', 'go.via': 'installed (go.mod: go 1.17)' } },
    ]);
    expect(chooseGoToolchain(mod('go 1.27'), 'go1.26.8')[0]!.gotoolchain).toBe('go1.27.0');
    expect(chooseGoToolchain(mod('go 1.27.2'), 'go1.26.8')[0]!.gotoolchain).toBe('go1.27.2');
    expect(chooseGoToolchain(undefined, 'go1.26.8')).toEqual([]);
  });
  it('recipes set GOTOOLCHAIN for setup and tests, and record the choice', () => {
    const [r] = go.recipes({
      files: ['go.mod'],
      manifests: { 'go.mod': mod('go 1.21\ntoolchain go1.22.5') },
      tools: { go: 'go1.26.8' },
    });
    expect(r!.setupScript).toContain('export GOTOOLCHAIN=go1.22.5\ngo version\ngo mod download');
    expect(r!.testCommand).toBe('GOTOOLCHAIN=go1.22.5 go test -json -count=1 -vet=off ./...');
    expect(r!.toolchain).toEqual({ go: '1.22.5', 'go.via': 'go.mod toolchain line (GOTOOLCHAIN)' });
    expect(go.scopeTests!(r!, ['a/x_test.go'])).toBe(
      'GOTOOLCHAIN=go1.22.5 go test -json -count=1 -vet=off ./a',
    );
  });
  it('a repository without go.mod (GOPATH era) becomes a module of its import path at setup', () => {
    const [r, ...rest] = go.recipes({
      files: ['flag.go', 'flag_test.go', 'sub/x.go'],
      manifests: {},
      tools: { go: 'go1.26.8' },
      repo: 'spf13/pflag',
    });
    expect(rest).toEqual([]);
    expect(r!.setupScript).toBe(
      'set -euo pipefail\nrm -f go.mod go.sum\ngo mod init 2>/dev/null || go mod init github.com/spf13/pflag\ngo mod edit -go=1.16\ngo mod tidy\n',
    );
    expect(r!.testCommand).toBe('go test -json -count=1 -vet=off -mod=mod ./...');
    expect(r!.toolchain).toEqual({ go: '1.26.8', 'go.via': 'installed (no go.mod: a module made at setup)' });
    expect(go.scopeTests!(r!, ['sub/x_test.go'])).toBe('go test -json -count=1 -vet=off -mod=mod ./sub');
    // A nested module is not the GOPATH era: the usual recipe.
    expect(go.recipes({ files: ['tools/go.mod', 'x.go'], manifests: {} })[0]!.setupScript).toContain(
      'go mod download',
    );
  });
});
