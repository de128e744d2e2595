/**
 * End to end on a real Node package (npm + vitest), Go module and Rust crate, no LLM:
 * env → tests → prompt → verify through runPipeline, exact FAIL_TO_PASS / PASS_TO_PASS.
 */
import { mkdtemp } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { buildGoRepo, buildNodeRepo, buildRustRepo } from '../../../test/fixtures/repos.ts';
import { runPipeline } from '../../../test/support/in-process-pipeline.ts';

describe.each([
  { name: 'node (npm + vitest)', build: buildNodeRepo, format: 'vitest-json', install: 'npm install' },
  { name: 'go module', build: buildGoRepo, format: 'go-test-json', install: 'go mod download' },
  { name: 'rust crate', build: buildRustRepo, format: 'cargo', install: 'cargo fetch' },
])('$name fixture, no LLM', ({ build, format, install }) => {
  it('verifies with the exact FAIL_TO_PASS / PASS_TO_PASS', async () => {
    const root = await mkdtemp(path.join(os.tmpdir(), 'scaleswe-e2e-'));
    const fixture = await build(root);
    const { results, status } = await runPipeline(
      fixture.spec,
      { verification: { reruns: 2 } },
      { workDir: path.join(root, 'work') },
    );
    const [env, tests, prompt, verify] = results;
    expect(
      results.map((r) => [r.stage, r.outcome, r.reason]),
      results.at(-1)?.logTail,
    ).toEqual([
      ['env', 'succeeded', 'EnvReady'],
      ['tests', 'succeeded', 'TestsReady'],
      ['prompt', 'succeeded', 'PromptReady'],
      ['verify', 'succeeded', 'Verified'],
    ]);
    expect(env!.recipe).toMatchObject({ resultFormat: format, source: 'deterministic' });
    expect(env!.recipe!.setupScript).toContain(install);
    expect(status.recipe).toEqual(env!.recipe);
    expect(status.phase).toBe('Verified');
    for (const r of [tests!, verify!]) {
      expect(r.FAIL_TO_PASS).toEqual(fixture.expected.FAIL_TO_PASS);
      expect(r.PASS_TO_PASS).toEqual(fixture.expected.PASS_TO_PASS);
    }
    expect(prompt!.problemStatementSource).toBe('pr');
    expect(results.every((r) => r.tokensUsed === 0 && r.trajectories.length === 0)).toBe(true);
  }, 400_000);
});

describe('the PR touches only tests that the toolchain skips (dtolnay/thiserror#191)', () => {
  it('the environment is judged by the whole suite; the instance is rejected at tests, not env', async () => {
    const root = await mkdtemp(path.join(os.tmpdir(), 'scaleswe-e2e-'));
    const fixture = await buildRustRepo(root, { prTestsIgnored: true });
    const { results } = await runPipeline(fixture.spec, {}, { workDir: path.join(root, 'work') });
    const [env, tests] = results;
    // Before: env rejected EnvSetupFailed "no test ran (1 skipped)" from the scoped run alone.
    expect(env, env?.logTail).toMatchObject({ outcome: 'succeeded', reason: 'EnvReady' });
    expect(env!.message).toContain('2 of 2 test(s) ran');
    expect(tests).toMatchObject({ outcome: 'rejected', reason: 'NoFailToPass' });
    expect(tests!.message).toContain('before: 2 skipped; after: 2 skipped');
  }, 400_000);
});

describe('a Go repository of the GOPATH era (spf13/pflag#211)', () => {
  it('setup makes a module of it, vet stays out of the tests, and the instance verifies', async () => {
    const root = await mkdtemp(path.join(os.tmpdir(), 'scaleswe-e2e-'));
    const fixture = await buildGoRepo(root, { gopathEra: true });
    const { results, status } = await runPipeline(fixture.spec, {}, { workDir: path.join(root, 'work') });
    // Before: `go mod download` without a go.mod: setup exited 1, EnvSetupFailed; with a module
    // but vet on, the test build fails ("Println arg list ends with redundant newline").
    expect(
      results.map((r) => [r.stage, r.reason]),
      results.at(-1)?.logTail,
    ).toEqual([
      ['env', 'EnvReady'],
      ['tests', 'TestsReady'],
      ['prompt', 'PromptReady'],
      ['verify', 'Verified'],
    ]);
    expect(status.FAIL_TO_PASS).toEqual(fixture.expected.FAIL_TO_PASS);
    expect(status.PASS_TO_PASS).toEqual(fixture.expected.PASS_TO_PASS);
    expect(status.recipe!.toolchain?.['go.via']).toBe('installed (no go.mod: a module made at setup)');
  }, 400_000);
});

describe('the PR moves the crate to an edition its base does not compile in (seanmonstar/httparse#121)', () => {
  it("setup falls back to the base's manifest, and the instance verifies", async () => {
    const root = await mkdtemp(path.join(os.tmpdir(), 'scaleswe-e2e-'));
    const fixture = await buildRustRepo(root, { editionBump: true });
    const { results, status } = await runPipeline(fixture.spec, {}, { workDir: path.join(root, 'work') });
    // Before: setup ran `cargo test --no-run` with the PR's Cargo.toml (edition 2021) over the
    // base code (a bare trait object): exit 101, EnvSetupFailed.
    expect(
      results.map((r) => [r.stage, r.reason]),
      results.at(-1)?.logTail,
    ).toEqual([
      ['env', 'EnvReady'],
      ['tests', 'TestsReady'],
      ['prompt', 'PromptReady'],
      ['verify', 'Verified'],
    ]);
    expect(status.FAIL_TO_PASS).toEqual(fixture.expected.FAIL_TO_PASS);
  }, 400_000);
});

describe('a compile-time regression test: the PR changes no test function (dtolnay/thiserror#408)', () => {
  it("the target's tests, unbuilt at base, are FAIL_TO_PASS in the tests and verify stages", async () => {
    const root = await mkdtemp(path.join(os.tmpdir(), 'scaleswe-e2e-'));
    const fixture = await buildRustRepo(root, { compileOnlyTest: true });
    const { results, status } = await runPipeline(fixture.spec, {}, { workDir: path.join(root, 'work') });
    const [, tests, , verify] = results;
    // Before: NoFailToPass ("FAIL_TO_PASS limited to the 0 test(s) the test patch adds or changes").
    expect(status.phase, results.at(-1)?.logTail).toBe('Verified');
    expect(tests!.message).toContain("the base does not build the PR's test files");
    for (const r of [tests!, verify!]) {
      expect(r.FAIL_TO_PASS).toEqual(fixture.expected.FAIL_TO_PASS);
      expect(r.PASS_TO_PASS).toEqual(fixture.expected.PASS_TO_PASS);
    }
  }, 400_000);
});

describe("a dev dependency's install script downloads from the web (jshttp/cookie#272)", () => {
  it('the setup is repaired to install without install scripts, and the instance verifies', async () => {
    const root = await mkdtemp(path.join(os.tmpdir(), 'scaleswe-e2e-'));
    const fixture = await buildNodeRepo(root, { failingInstallScript: true });
    const { results, status } = await runPipeline(fixture.spec, {}, { workDir: path.join(root, 'work') });
    // Before: both recipes' `npm install` failed (setup exited 1): EnvSetupFailed, or
    // RegistryUnreachable (retried forever) where the executor classifies the output.
    expect(
      results.map((r) => [r.stage, r.reason]),
      results.at(-1)?.logTail,
    ).toEqual([
      ['env', 'EnvReady'],
      ['tests', 'TestsReady'],
      ['prompt', 'PromptReady'],
      ['verify', 'Verified'],
    ]);
    expect(status.recipe!.setupScript).toContain(
      'npm install --no-audit --no-fund --prefer-offline --ignore-scripts',
    );
    expect(status.recipe!.toolchain?.['npm.scripts']).toBe("skipped (sitelist's install script failed)");
    expect(status.FAIL_TO_PASS).toEqual(fixture.expected.FAIL_TO_PASS);
    expect(status.PASS_TO_PASS).toEqual(fixture.expected.PASS_TO_PASS);
  }, 400_000);
});
