/**
 * Real Python projects that did not come up on one interpreter with today's packages
 * (issue 13), as generated fixture repositories through env → tests → prompt → verify: real
 * git, real interpreters, real uv/pip/pytest, a local package index speaking the simple API.
 */
import { mkdtemp } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  buildPythonEnvRepo,
  INDEX_RELEASES,
  type PythonEnvCase,
} from '../../../test/fixtures/python-env-repos.ts';
import { runPipeline } from '../../../test/support/in-process-pipeline.ts';
import { type PackageIndex, startPackageIndex } from '../../../test/support/package-index.ts';

let root: string;
let index: PackageIndex;
const saved: Record<string, string | undefined> = {};

beforeAll(async () => {
  root = await mkdtemp(path.join(os.tmpdir(), 'scaleswe-pyenv-'));
  index = await startPackageIndex(root, INDEX_RELEASES);
  // The documented knob: uv's and pip's own index variables reach the setup scripts. An extra
  // index (first match wins in uv), so pytest and setuptools still come from PyPI.
  for (const [k, v] of Object.entries({ UV_INDEX: index.url, PIP_EXTRA_INDEX_URL: index.url })) {
    saved[k] = process.env[k];
    process.env[k] = v;
  }
}, 60_000);

afterAll(async () => {
  for (const [k, v] of Object.entries(saved)) {
    if (v === undefined) delete process.env[k];
    else process.env[k] = v;
  }
  await index?.close();
});

async function verify(kind: PythonEnvCase) {
  const fixture = await buildPythonEnvRepo(root, kind);
  const { results, status } = await runPipeline(
    fixture.spec,
    // The whole suite: tests/test_env.py (untouched by the PR) is what needs the environment.
    { verification: { reruns: 1, scope: 'suite' } },
    { workDir: path.join(root, `run-${kind}`) },
  );
  const last = results.at(-1)!;
  expect(last, `${last.message}\n${last.logTail}`).toMatchObject({ stage: 'verify', reason: 'Verified' });
  expect(status.FAIL_TO_PASS).toEqual(fixture.expected.FAIL_TO_PASS);
  expect(status.PASS_TO_PASS).toEqual(fixture.expected.PASS_TO_PASS);
  return status.recipe!;
}

describe('python environments of the PR era', () => {
  it('a project that only works on an older Python verifies on it and records it', async () => {
    const recipe = await verify('old-python');
    const version = recipe.toolchain?.python ?? '';
    // <3.11 by requires-python, ≤3.9 by the PR's date (June 2021): the newest such one here.
    expect(Number(version.split('.')[1])).toBeLessThanOrEqual(9);
    expect(recipe.setupScript).toMatch(/^PY=\S*python3[.\d]*$/m);
    expect(recipe.setupScript).toContain(`# Python ${version};`);
  }, 600_000);

  it('an unpinned dependency that broke after the PR gets its release of the era', async () => {
    const recipe = await verify('dep-era');
    expect(recipe.setupScript).toContain('\nexport UV_EXCLUDE_NEWER=2021-03-01T00:00:00Z\n');
    expect(index.requested).toContain('tinydep');
  }, 600_000);

  it('a PR that adds a dependency its fix needs gets an environment with it; the tree stays at base', async () => {
    const recipe = await verify('pr-adds-dependency');
    // The recipe is the base commit's (setup.py there declares nothing); the dependency came
    // from the PR's setup.py, put in place for setup only.
    expect(recipe.setupScript).not.toContain('tinyextra');
    expect(index.requested).toContain('tinyextra');
  }, 600_000);

  it('test extras declared only in setup.py extras_require are installed', async () => {
    const recipe = await verify('setup-py-extras');
    expect(recipe.setupScript).toContain("\npi '.[test]' pytest\n");
  }, 600_000);

  it('test extras declared only as dotted TOML keys are installed', async () => {
    const recipe = await verify('dotted-toml-extras');
    expect(recipe.setupScript).toContain("\npi '.[test]' pytest\n");
  }, 600_000);

  it('the repair loop installs a module the conftest imports and no manifest declares', async () => {
    const recipe = await verify('undeclared-import');
    expect(recipe.setupScript).toMatch(/\npi tinymissing {2}# scaleswe: installed for a failed import\n$/);
  }, 600_000);

  it('an editable build with setuptools_scm of the era gets a packaging as new as its setuptools', async () => {
    // Before: the editable overlay failed (canonicalize_version() got an unexpected keyword
    // argument 'strip_trailing_zero') and the flat fallback could not read the version.
    const recipe = await verify('scm-version-era');
    expect(recipe.setupScript).toContain('--exclude-newer-package packaging=');
    expect(recipe.testCommand).not.toContain('PYTHONPATH');
  }, 600_000);
});
