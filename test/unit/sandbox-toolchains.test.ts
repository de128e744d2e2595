// Build tools as the repositories pin them, inside the local stage sandbox (bubblewrap: read-only
// root, a HOME of the stage's own): a Rust crate whose rust-toolchain pins a toolchain this
// machine lacks, Maven projects (one whose POM demands a newer Maven than installed), and a
// pnpm project pinning its pnpm. Each goes env → tests → prompt → verify through
// runStageProcess, as `scaleswe run` drives it, with one stage cache shared by the fixtures
// (as one run shares it). Needs the registries: crates.io, Maven Central, npm.
import { mkdtempSync, readdirSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import {
  CurationRunSpec,
  STAGES,
  type StageResult,
  SWEInstanceSpec,
  type SWEInstanceStatus,
} from '../../operator/src/api/index.ts';
import { MAVEN_RELEASES } from '../../operator/src/languages/maven.ts';
import { bwrapAvailable, runStageProcess } from '../../operator/src/local/executor.ts';
import { applyStageResult, initialStatus, stageInputFor } from '../../operator/src/pipeline/pipeline.ts';
import {
  buildGradleRepo,
  buildMavenRepo,
  buildNodeRepo,
  buildRustRepo,
  type FixtureRepo,
} from '../fixtures/repos.ts';

const scratch = mkdtempSync(join(tmpdir(), 'scaleswe-toolchains-'));
const cacheDir = join(scratch, 'cache');
// The shared cache holds a Maven repository, a Maven and a pnpm store: many files to delete.
afterAll(() => rm(scratch, { recursive: true, force: true }), 180_000);

/** Every stage in its own bubblewrap sandbox, results folded by the pipeline's own functions. */
async function runInSandbox(
  fixture: FixtureRepo,
): Promise<{ results: StageResult[]; status: SWEInstanceStatus }> {
  const runSpec = CurationRunSpec.parse({
    source: { git: { url: fixture.dir } },
    verification: { reruns: 1 },
  });
  const instance = SWEInstanceSpec.parse(fixture.spec);
  const options = { now: new Date(), maxAttempts: 1 };
  let status = initialStatus(options);
  const results: StageResult[] = [];
  for (const stage of STAGES) {
    const r = await runStageProcess(stageInputFor({ runSpec, instance, status, stage }), {
      workDir: join(scratch, 'work', fixture.name, stage),
      cacheDir,
      timeoutSeconds: 900,
      isolation: 'bwrap',
    });
    results.push(r);
    status = applyStageResult(status, r, options);
    if (r.outcome !== 'succeeded') break;
  }
  return { results, status };
}

function expectVerified(fixture: FixtureRepo, results: StageResult[], status: SWEInstanceStatus): void {
  expect(
    results.map((r) => [r.stage, r.outcome, r.reason]),
    results.map((r) => `${r.stage}: ${r.message}\n${r.logTail ?? ''}`).join('\n'),
  ).toEqual([
    ['env', 'succeeded', 'EnvReady'],
    ['tests', 'succeeded', 'TestsReady'],
    ['prompt', 'succeeded', 'PromptReady'],
    ['verify', 'succeeded', 'Verified'],
  ]);
  expect(status.phase).toBe('Verified');
  expect([...status.FAIL_TO_PASS!].sort()).toEqual([...fixture.expected.FAIL_TO_PASS].sort());
  expect([...status.PASS_TO_PASS!].sort()).toEqual([...fixture.expected.PASS_TO_PASS].sort());
}

describe('build tools inside the stage sandbox', () => {
  it('has bubblewrap', () => {
    expect(bwrapAvailable()).toBe(true);
  });

  it('rust: rustup keeps its toolchains; an uninstalled pin falls back to the default, recorded', async () => {
    const fixture = await buildRustRepo(join(scratch, 'repos'), { toolchain: '1.70.0' });
    const { results, status } = await runInSandbox(fixture);
    expectVerified(fixture, results, status);
    expect(status.recipe!.toolchain!['rust.via']).toContain('rust-toolchain pins 1.70.0');
    expect(status.recipe!.testCommand).toMatch(/^RUSTUP_TOOLCHAIN=\S+ cargo test/);
    // Cargo's home (its caches) is the shared stage cache, not the stage's HOME.
    expect(readdirSync(join(cacheDir, 'cargo'))).toContain('.global-cache');
  }, 600_000);

  it('maven: JUnit 5 through surefire, the local repository in the stage cache', async () => {
    const fixture = await buildMavenRepo(join(scratch, 'repos'));
    const { results, status } = await runInSandbox(fixture);
    expectVerified(fixture, results, status);
    expect(status.recipe!.toolchain).toMatchObject({
      maven: expect.stringMatching(/^3\./),
      'maven.via': 'installed',
    });
    expect(readdirSync(join(cacheDir, 'm2', 'repository'))).toContain('org');
  }, 900_000);

  it('maven: a POM that requires a newer Maven gets one fetched from Maven Central', async () => {
    const fixture = await buildMavenRepo(join(scratch, 'repos'), {
      requireMaven: '[3.9.0,)',
      dirName: 'clampj-39',
    });
    const { results, status } = await runInSandbox(fixture);
    expectVerified(fixture, results, status);
    const version = MAVEN_RELEASES[0];
    expect(status.recipe!.toolchain).toMatchObject({ maven: version });
    expect(status.recipe!.toolchain!['maven.via']).toMatch(/^fetched \(installed 3\.8\.\d+ is too old/);
    expect(status.recipe!.setupScript).toContain(`apache-maven-${version}-bin.tar.gz`);
    expect(readdirSync(join(cacheDir, 'scaleswe'))).toContain(`apache-maven-${version}`);
  }, 900_000);

  it('gradle: the installed Gradle (no wrapper), its user home in the stage cache', async () => {
    const fixture = await buildGradleRepo(join(scratch, 'repos'));
    const { results, status } = await runInSandbox(fixture);
    expectVerified(fixture, results, status);
    expect(status.recipe!.toolchain).toMatchObject({ gradle: expect.stringMatching(/^\d+\.\d+/) });
    expect(status.recipe!.setupScript).toContain(' gradle --no-daemon -q testClasses');
    expect(readdirSync(join(cacheDir, 'gradle'))).toContain('caches');
  }, 900_000);

  it('pnpm: the version pinned in packageManager, through corepack', async () => {
    const fixture = await buildNodeRepo(join(scratch, 'repos'), { pnpm: '8.15.4', dirName: 'rangekit-pnpm' });
    const { results, status } = await runInSandbox(fixture);
    expectVerified(fixture, results, status);
    expect(status.recipe!.toolchain).toMatchObject({
      pnpm: '8.15.4',
      'pnpm.via': 'packageManager (corepack)',
    });
    expect(status.recipe!.setupScript).toContain('corepack pnpm install --frozen-lockfile');
    expect(readdirSync(join(cacheDir, 'corepack', 'v1', 'pnpm'))).toEqual(['8.15.4']);
    expect(readdirSync(cacheDir)).toContain('pnpm-store');
  }, 600_000);
});
