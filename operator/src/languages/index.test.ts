import { existsSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { Agents, LANGUAGES, type Language, RESULT_FORMATS } from '../api/index.ts';
import {
  candidateRecipes,
  detectLanguages,
  ENV_MANIFESTS,
  LANGUAGE_MODULES,
  languageCacheEnv,
  languageFromRootFiles,
  languageModule,
  languageOfLinguist,
  languageOfPath,
  languageProbes,
  languageToolchainEnv,
} from './index.ts';

/** Every root manifest spelling each language accepts. */
const MANIFEST_EXAMPLES: Record<Language, string[]> = {
  go: ['go.mod'],
  rust: ['Cargo.toml'],
  java: ['pom.xml', 'build.gradle', 'build.gradle.kts', 'settings.gradle', 'settings.gradle.kts'],
  python: [
    'pyproject.toml',
    'setup.py',
    'setup.cfg',
    'tox.ini',
    'noxfile.py',
    'Pipfile',
    'requirements.txt',
    'requirements-dev.txt',
    'requirements/test.txt',
  ],
  node: ['package.json'],
};

describe('registry drift', () => {
  it('has exactly one module per API language', () => {
    expect(LANGUAGE_MODULES.map((m) => m.name).sort()).toEqual([...LANGUAGES].sort());
    for (const l of LANGUAGES) expect(languageModule(l).name).toBe(l);
  });
  it('every language has a default sandbox image and its Dockerfile', () => {
    expect(Object.keys(Agents.parse({}).images).sort()).toEqual([...LANGUAGES].sort());
    for (const m of LANGUAGE_MODULES) {
      expect(existsSync(new URL(`../../../sandbox-images/${m.name}/Dockerfile`, import.meta.url))).toBe(true);
    }
  });
  it('no extension, linguist name, lockfile or cache variable is claimed twice', () => {
    const claims = (pick: (m: (typeof LANGUAGE_MODULES)[number]) => readonly string[]) => {
      const all = LANGUAGE_MODULES.flatMap((m) => pick(m).map((x) => x.toLowerCase()));
      expect(new Set(all).size).toBe(all.length);
    };
    claims((m) => m.extensions);
    claims((m) => m.linguist);
    claims((m) => m.lockfiles);
    claims((m) => Object.keys(m.cacheEnv('/c')));
  });
  it('result formats are known to the API', () => {
    for (const m of LANGUAGE_MODULES) for (const f of m.resultFormats) expect(RESULT_FORMATS).toContain(f);
  });
});

describe('detection', () => {
  it.each(LANGUAGES.map((l) => [l]))("each of %s's manifests detects it, alone", (language) => {
    for (const f of MANIFEST_EXAMPLES[language]) {
      expect(languageFromRootFiles([f])).toBe(language);
      expect(detectLanguages([f])).toEqual([language]);
    }
    // The files the env stage reads for a language are its manifests or its tools' pins
    // (rust-toolchain, wrapper properties, lockfiles), never another language's manifest.
    for (const f of languageModule(language).envManifests)
      expect([language, undefined]).toContain(languageFromRootFiles([f]));
  });
  it('prefers the strongest manifest', () => {
    expect(languageFromRootFiles(['package.json', 'go.mod'])).toBe('go');
    expect(languageFromRootFiles(['pyproject.toml', 'Cargo.toml', 'package.json'])).toBe('rust');
    expect(languageFromRootFiles(['package.json', 'requirements.txt', 'build.gradle.kts'])).toBe('java');
    expect(languageFromRootFiles(['README.md', 'package.json', 'pyproject.toml'])).toBe('python');
    expect(languageFromRootFiles(['package.json'])).toBe('node');
    expect(languageFromRootFiles(['Makefile'])).toBeUndefined();
  });
  it('lists every ecosystem present, root manifests only', () => {
    const files = ['pyproject.toml', 'package.json', 'go.mod', 'Cargo.toml', 'pom.xml', 'src/x.py'];
    expect(detectLanguages(files)).toEqual(['python', 'node', 'go', 'rust', 'java']);
    expect(detectLanguages(['README.md', 'build.gradle.kts'])).toEqual(['java']);
    expect(detectLanguages(['web/package.json', 'tools/go.mod', 'src/setup.py'])).toEqual([]);
    // Mining and the env stage share one rule set: tox.ini makes a root python for mining too.
    expect(languageFromRootFiles(['tox.ini', 'package.json'])).toBe('python');
  });
  it('language of a path by its extension', () => {
    expect(languageOfPath('pkg/mod.PY')).toBe('python');
    expect(languageOfPath('types/index.d.ts')).toBe('node');
    expect(languageOfPath('src/App.kt')).toBe('java');
    expect(languageOfPath('cmd/main.go')).toBe('go');
    expect(languageOfPath('src/lib.rs')).toBe('rust');
    expect(languageOfPath('main.c')).toBeUndefined();
    expect(languageOfPath('Makefile')).toBeUndefined();
  });
  it('maps GitHub linguist names', () => {
    expect(languageOfLinguist('Jupyter Notebook')).toBe('python');
    expect(languageOfLinguist('TypeScript')).toBe('node');
    expect(languageOfLinguist('Kotlin')).toBe('java');
    expect(languageOfLinguist('C++')).toBeUndefined();
  });
});

describe('env stage fan-out', () => {
  it('reads the manifests every recipe builder needs', () => {
    expect([...ENV_MANIFESTS].sort()).toEqual(
      [
        'Cargo.toml',
        'go.mod',
        'package.json',
        'pom.xml',
        'pyproject.toml',
        'setup.cfg',
        'tox.ini',
        'Pipfile',
        'rust-toolchain.toml',
        'rust-toolchain',
        'pnpm-lock.yaml',
        '.mvn/wrapper/maven-wrapper.properties',
        'gradle/wrapper/gradle-wrapper.properties',
      ].sort(),
    );
  });
  it('the PR language comes first; an undetected hint still gets its recipes', () => {
    const rs = candidateRecipes({ files: ['package.json', 'go.mod'], manifests: {} }, 'go');
    expect(rs[0]!.resultFormat).toBe('go-test-json');
    expect(rs[0]!.testCommand).toContain('-count=1');
    expect(rs.slice(1).every((r) => r.resultFormat === 'junit-xml')).toBe(true);
    expect(
      candidateRecipes({ files: ['package.json'], manifests: {} }, 'rust').map((r) => r.resultFormat),
    ).toEqual(['cargo', 'junit-xml']);
    expect(candidateRecipes({ files: ['Makefile'], manifests: {} })).toEqual([]);
  });
  it('every recipe emits a format its module declares', () => {
    const files = [
      ...Object.values(MANIFEST_EXAMPLES).flat(),
      'pnpm-lock.yaml',
      'mvnw',
      'gradlew',
      'requirements-dev.txt',
    ];
    const pkg = JSON.stringify({ devDependencies: { vitest: '3', jest: '30', mocha: '11' } });
    for (const m of LANGUAGE_MODULES) {
      const rs = m.recipes({ files, manifests: { 'package.json': pkg } });
      expect(rs.length).toBeGreaterThan(0);
      for (const r of rs) expect(m.resultFormats).toContain(r.resultFormat);
      expect(new Set(rs.map((r) => r.resultFormat))).toEqual(new Set(m.resultFormats));
    }
  });
});

describe('cache env', () => {
  it('composes every ecosystem under the one cache dir', () => {
    expect(languageCacheEnv('/cache')).toEqual({
      PIP_CACHE_DIR: '/cache/pip',
      UV_CACHE_DIR: '/cache/uv',
      npm_config_cache: '/cache/npm',
      GOMODCACHE: '/cache/go-mod',
      GOCACHE: '/cache/go-build',
      CARGO_HOME: '/cache/cargo',
      MAVEN_OPTS: '-Dmaven.repo.local=/cache/m2/repository',
      MAVEN_USER_HOME: '/cache/m2',
      GRADLE_USER_HOME: '/cache/gradle',
      COREPACK_HOME: '/cache/corepack',
      npm_config_store_dir: '/cache/pnpm-store',
      pnpm_config_store_dir: '/cache/pnpm-store',
      YARN_GLOBAL_FOLDER: '/cache/yarn-berry',
    });
  });
  it("keeps the host's rustup home visible to a sandbox with its own HOME", () => {
    expect(languageToolchainEnv({ env: {}, home: '/root' })).toMatchObject({ RUSTUP_HOME: '/root/.rustup' });
    expect(languageToolchainEnv({ env: { RUSTUP_HOME: '/opt/rustup' }, home: '/root' })).toMatchObject({
      RUSTUP_HOME: '/opt/rustup',
    });
  });
  it('probes only the tools of the languages asked for', () => {
    expect(Object.keys(languageProbes(['java'])).sort()).toEqual(['gradle', 'java', 'mvn']);
    expect(Object.keys(languageProbes(['rust', 'node'])).sort()).toEqual(['node', 'rustc', 'rustup']);
  });
});
