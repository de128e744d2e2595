/**
 * Go's `toolchain` line honoured: the env stage fetches the pinned release through the module
 * proxy, records it, and the tests (offline) run on it — TestToolchain passes only there.
 */
import { mkdtemp } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { buildGoRepo } from '../../../test/fixtures/repos.ts';
import { runPipeline } from '../../../test/support/in-process-pipeline.ts';

describe('go module pinning a toolchain', () => {
  it('runs its tests on the pinned toolchain and records it', async () => {
    const root = await mkdtemp(path.join(os.tmpdir(), 'scaleswe-gotoolchain-'));
    const fixture = await buildGoRepo(root, { goToolchain: 'go1.22.5' });
    const { results } = await runPipeline(
      fixture.spec,
      {},
      { workDir: path.join(root, 'work'), stages: ['env', 'tests'] },
    );
    const [env, tests] = results;
    expect(
      results.map((r) => r.reason),
      results.at(-1)?.logTail,
    ).toEqual(['EnvReady', 'TestsReady']);
    expect(env!.recipe!.toolchain).toEqual({ go: '1.22.5', 'go.via': 'go.mod toolchain line (GOTOOLCHAIN)' });
    expect(tests!.FAIL_TO_PASS).toEqual(fixture.expected.FAIL_TO_PASS);
    expect(tests!.PASS_TO_PASS).toEqual(fixture.expected.PASS_TO_PASS);
  }, 400_000);
});
