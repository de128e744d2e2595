import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { SAMPLE_EXPECTED } from '../../operator/src/cli/sample.ts';
import { bwrapAvailable } from '../../operator/src/local/executor.ts';
import { initialStatus, startStage } from '../../operator/src/pipeline/pipeline.ts';
import { type CliProcess, startCli } from '../support/cli.ts';

// The README's first command, end to end on the bundled sample, including the two ways a
// run is cut short: Ctrl-C (SIGINT) and a hard kill. Stages run under bubblewrap, as the
// CLI does by default; scripts/test.sh installs it.

const scratch = mkdtempSync(join(tmpdir(), 'scaleswe-run-'));
const state = join(scratch, 'state');
afterAll(() => rmSync(scratch, { recursive: true, force: true }), 120_000);

function start(): CliProcess {
  return startCli(['run', '--sample', '--state-dir', state, '--isolation', 'bwrap']);
}

async function waitFor(run: CliProcess, pattern: RegExp, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!pattern.test(run.out())) {
    if (Date.now() > deadline)
      throw new Error(`timed out waiting for ${pattern}; output:\n${run.out()}\n${run.err()}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

/** Every recorded stage result, with its modification time. */
function results(): Map<string, number> {
  const found = new Map<string, number>();
  const root = join(state, 'results');
  if (!existsSync(root)) return found;
  for (const instance of readdirSync(root)) {
    for (const file of readdirSync(join(root, instance))) {
      found.set(`${instance}/${file}`, statSync(join(root, instance, file)).mtimeMs);
    }
  }
  return found;
}

describe('scaleswe run --sample', () => {
  it('has bubblewrap (scripts/test.sh installs it)', () => {
    expect(bwrapAvailable()).toBe(true);
  });

  it('Ctrl-C stops with a message, a non-zero exit and the state intact', async () => {
    const run = start();
    // A loaded machine can take tens of seconds just to start the CLI: wait generously, and
    // never leave the run behind (its state lock would refuse the next test's run).
    try {
      await waitFor(run, /env started/, 240_000);
    } catch (error) {
      run.child.kill('SIGKILL');
      throw error;
    }
    run.child.kill('SIGINT');
    expect(await run.exit).toBe(130);
    expect(run.err()).toContain('interrupted; state kept in');
    expect(JSON.parse(readFileSync(join(state, 'run.json'), 'utf8')).name).toBe('sample');
    expect(readdirSync(join(state, 'instances')).sort()).toEqual(
      // #5 has no tests and no LLM is configured: rejected at mining, no instance.
      ['1', '3', '4'].map((n) => `scaleswe__minicalc-${n}.json`),
    );
  }, 300_000);

  it('resumes after a hard kill without redoing finished stages, and verifies the expected instances', async () => {
    const killed = start();
    await waitFor(killed, /(env|tests) finished/, 600_000);
    killed.child.kill('SIGKILL');
    await killed.exit;
    const beforeResume = results();
    expect(beforeResume.size).toBeGreaterThan(0);
    // Widen the window a kill can land in: one instance's file goes back to "env started",
    // as if the run died after env's result was written but before the instance caught up.
    const rewound = [...beforeResume.keys()].find((f) => f.endsWith('/env-1.json'))!.split('/')[0]!;
    const instanceFile = join(state, 'instances', `${rewound}.json`);
    const instance = JSON.parse(readFileSync(instanceFile, 'utf8'));
    const opts = { now: new Date(), maxAttempts: 3 };
    instance.status = startStage(initialStatus(opts), 'env', opts);
    writeFileSync(instanceFile, JSON.stringify(instance));
    // And a write the kill cut short: its temporary file never got renamed into place.
    writeFileSync(join(state, 'results', rewound, '.0123456789ab.tmp'), '{"stage":');

    const resumed = start();
    expect(await resumed.exit, resumed.err()).toBe(0);
    expect(resumed.out()).toContain('(resuming)');

    // Results recorded before the kill are untouched, and no stage has a second attempt.
    const after = results();
    for (const [file, mtime] of beforeResume) expect(after.get(file), file).toBe(mtime);
    expect([...after.keys()].filter((f) => !f.endsWith('-1.json'))).toEqual([]);

    const dataset = readFileSync(join(state, 'export', 'dataset.jsonl'), 'utf8')
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line));
    const byId = Object.fromEntries(dataset.map((r) => [r.instance_id, r]));
    expect(Object.keys(byId).sort()).toEqual(Object.keys(SAMPLE_EXPECTED.verified).sort());
    for (const [id, expected] of Object.entries(SAMPLE_EXPECTED.verified)) {
      expect(JSON.parse(byId[id].FAIL_TO_PASS).sort(), id).toEqual([...expected.FAIL_TO_PASS].sort());
      expect(JSON.parse(byId[id].PASS_TO_PASS).sort(), id).toEqual([...expected.PASS_TO_PASS].sort());
      expect(byId[id].problem_statement.length).toBeGreaterThan(20);
    }
    const run = JSON.parse(readFileSync(join(state, 'run.json'), 'utf8'));
    expect(
      run.rejected.map((r: { pullNumber: number; reason: string }) => ({
        pullNumber: r.pullNumber,
        reason: r.reason,
      })),
    ).toEqual(SAMPLE_EXPECTED.rejectedAtMining);
    for (const [id, reason] of Object.entries(SAMPLE_EXPECTED.rejectedInPipeline)) {
      const instance = JSON.parse(readFileSync(join(state, 'instances', `${id}.json`), 'utf8'));
      expect(instance.status.phase, id).toBe('Rejected');
      expect(instance.status.lastError?.reason, id).toBe(reason);
    }
    expect(readFileSync(join(state, 'export', 'report.md'), 'utf8')).toContain('| verified | 2 |');
  }, 1_200_000);
});
