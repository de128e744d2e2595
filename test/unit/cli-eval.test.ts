import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../support/cli.ts';

// `scaleswe eval` end to end: the bundled sample is curated (`scaleswe run --sample`, the two
// Verified instances #1 and #3), then predictions are graded in the stage sandbox — with the
// run's environments (--state-dir) and with a replay of the dataset's recipe (--repo). Each
// kind of prediction gets its exact verdict; bad input files stop the CLI with exit 2.

const scratch = mkdtempSync(join(tmpdir(), 'scaleswe-eval-cli-'));
const state = join(scratch, 'state');
const repo = join(state, 'sample-repo');
const dataset = join(state, 'export', 'dataset.jsonl');
afterAll(() => rmSync(scratch, { recursive: true, force: true }), 120_000);

const ONE = 'scaleswe__minicalc-1';
const THREE = 'scaleswe__minicalc-3';
let rows: Record<string, { base_commit: string; patch: string }>;

/** A diff at `base` of the sample repository after `edit` rewrote one file. */
function patchAt(base: string, file: string, edit: (text: string) => string): string {
  const dir = mkdtempSync(join(scratch, 'edit-'));
  execFileSync('git', ['clone', '-q', repo, dir]);
  execFileSync('git', ['-C', dir, 'checkout', '-q', base]);
  const path = join(dir, file);
  const before = readFileSync(path, 'utf8');
  const after = edit(before);
  if (after === before) throw new Error(`edit of ${file} changed nothing`);
  writeFileSync(path, after);
  return execFileSync('git', ['-C', dir, 'diff'], { encoding: 'utf8' });
}

interface Report {
  resolved_ids: string[];
  unresolved_ids: string[];
  error_ids: string[];
  empty_patch_ids: string[];
  errors: Record<string, { reason: string }>;
  [key: string]: unknown;
}
type InstanceReport = {
  status: string;
  reason: string;
  resolved: boolean;
  tests_status: Record<'FAIL_TO_PASS' | 'PASS_TO_PASS', { success: string[]; failure: string[] }>;
};

async function evaluate(name: string, predictions: string, extra: string[]) {
  const file = join(scratch, name);
  writeFileSync(file, predictions);
  const out = join(scratch, `out-${name}`);
  const r = await runCli([
    'eval',
    '--dataset',
    dataset,
    '--predictions',
    file,
    '--out',
    out,
    '--isolation',
    'bwrap',
    ...extra,
  ]);
  expect(r.code, `${r.out}\n${r.err}`).toBe(0);
  const report = JSON.parse(readFileSync(join(out, 'report.json'), 'utf8')) as Report;
  const instance = (id: string) =>
    (
      JSON.parse(readFileSync(join(out, 'logs', id, 'report.json'), 'utf8')) as Record<string, InstanceReport>
    )[id]!;
  const log = (id: string, f: string) => readFileSync(join(out, 'logs', id, f), 'utf8');
  return { report, instance, log, out: r.out };
}

const jsonl = (items: unknown[]) => items.map((i) => `${JSON.stringify(i)}\n`).join('');

beforeAll(async () => {
  const r = await runCli(['run', '--sample', '--state-dir', state, '--isolation', 'bwrap']);
  expect(r.code, `${r.out}\n${r.err}`).toBe(0);
  rows = Object.fromEntries(
    readFileSync(dataset, 'utf8')
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line))
      .map((row) => [row.instance_id, row]),
  );
  expect(Object.keys(rows).sort()).toEqual([ONE, THREE]);
}, 1_200_000);

describe('scaleswe eval', () => {
  it("with the run's environments: gold resolves, a wrong fix is unresolved, an unknown id is an error", async () => {
    const wrong = patchAt(rows[THREE]!.base_commit, 'minicalc/stats.py', (t) =>
      t.replace(
        '    """Arithmetic mean of values."""\n',
        '    """Arithmetic mean of values."""\n    if not values:\n        return None\n',
      ),
    );
    const { report, instance, log } = await evaluate(
      'preds-1.jsonl',
      jsonl([
        { instance_id: ONE, model_patch: rows[ONE]!.patch, model_name_or_path: 'gold' },
        { instance_id: THREE, model_patch: wrong, model_name_or_path: 'gold' },
        { instance_id: 'scaleswe__minicalc-99', model_patch: rows[ONE]!.patch, model_name_or_path: 'gold' },
      ]),
      ['--state-dir', state],
    );
    expect(report).toMatchObject({
      total_instances: 2,
      submitted_instances: 3,
      resolved_ids: [ONE],
      unresolved_ids: [THREE],
      error_ids: ['scaleswe__minicalc-99'],
      empty_patch_ids: [],
      errors: { 'scaleswe__minicalc-99': { reason: 'UnknownInstance' } },
    });
    expect(instance(ONE).tests_status.FAIL_TO_PASS).toEqual({
      success: ['tests/test_stats.py::test_clamp_above'],
      failure: [],
    });
    expect(instance(ONE).tests_status.PASS_TO_PASS.failure).toEqual([]);
    expect(instance(ONE).tests_status.PASS_TO_PASS.success).toHaveLength(4);
    expect(instance(THREE)).toMatchObject({
      status: 'unresolved',
      reason: 'FailToPassFailed',
      resolved: false,
    });
    expect(instance(THREE).tests_status.FAIL_TO_PASS).toEqual({
      success: [],
      failure: ['tests/test_stats.py::test_mean_empty'],
    });
    expect(log(THREE, 'patch.diff')).toBe(wrong);
    expect(log(THREE, 'test_output.txt')).toContain('FAILED tests/test_stats.py::test_mean_empty');
    expect(log(ONE, 'test_output.txt')).toContain('PASSED tests/test_stats.py::test_clamp_above');
    // The grading run's log tail: the run's environment adopted, no setup replayed.
    expect(log(ONE, 'run_instance.log')).toMatch(/environment [0-9a-f]{12} adopted at /);
    expect(log(ONE, 'run_instance.log')).not.toMatch(/^==> setup/m);
  }, 600_000);

  it('replaying the recipe (--repo, JSON list): a patch that does not apply is an error, an empty one an empty patch', async () => {
    const stale =
      'diff --git a/README.md b/README.md\n--- a/README.md\n+++ b/README.md\n@@ -1 +1 @@\n-no such line\n+x\n';
    const { report, instance, log } = await evaluate(
      'preds-2.json',
      JSON.stringify([
        { instance_id: ONE, model_patch: stale, model_name_or_path: 'm' },
        { instance_id: THREE, model_patch: '', model_name_or_path: 'm' },
      ]),
      ['--repo', repo],
    );
    expect(report).toMatchObject({
      resolved_ids: [],
      unresolved_ids: [],
      error_ids: [ONE],
      empty_patch_ids: [THREE],
      errors: { [ONE]: { reason: 'PatchDoesNotApply' } },
    });
    expect(instance(ONE)).toMatchObject({ status: 'error', reason: 'PatchDoesNotApply' });
    expect(log(ONE, 'test_output.txt')).toContain('patch does not apply');
    expect(log(ONE, 'run_instance.log')).toMatch(/^==> setup \(exit 0\)/m); // the recipe replayed
    expect(instance(THREE)).toMatchObject({ status: 'empty_patch', reason: 'EmptyPatch' });
    expect(log(THREE, 'run_instance.log')).toBe(''); // decided without a run
  }, 900_000);

  it('gold with a PASS_TO_PASS test broken is unresolved; an id predicted twice is an error', async () => {
    const breaks = patchAt(rows[ONE]!.base_commit, 'minicalc/stats.py', (t) =>
      t
        .replace(
          '    if value > high:\n        return value\n',
          '    if value > high:\n        return high\n',
        )
        .replace(/(def mean\(values\):\n(?:.*\n)*?)(\s+return .*\n)/, '$1    return -1\n'),
    );
    const { report, instance } = await evaluate(
      'preds-3.jsonl',
      jsonl([
        { instance_id: ONE, model_patch: breaks, model_name_or_path: 'm' },
        { instance_id: THREE, model_patch: rows[THREE]!.patch, model_name_or_path: 'm' },
        { instance_id: THREE, model_patch: rows[THREE]!.patch, model_name_or_path: 'm' },
      ]),
      ['--state-dir', state],
    );
    expect(report).toMatchObject({
      resolved_ids: [],
      unresolved_ids: [ONE],
      error_ids: [THREE],
      errors: { [THREE]: { reason: 'DuplicatePrediction' } },
    });
    expect(instance(ONE)).toMatchObject({ reason: 'PassToPassBroken' });
    expect(instance(ONE).tests_status.FAIL_TO_PASS.failure).toEqual([]);
    expect(instance(ONE).tests_status.PASS_TO_PASS.failure).toEqual(['tests/test_stats.py::test_mean']);
  }, 600_000);

  it("gold patches resolve every verified instance of the sample (issue #16's bar)", async () => {
    const { report } = await evaluate(
      'gold.jsonl',
      jsonl(
        Object.entries(rows).map(([id, row]) => ({
          instance_id: id,
          model_patch: row.patch,
          model_name_or_path: 'gold',
        })),
      ),
      ['--state-dir', state, '--parallel', '2'],
    );
    expect(report).toMatchObject({
      total_instances: 2,
      resolved_instances: 2,
      resolved_ids: [ONE, THREE],
      unresolved_ids: [],
      error_ids: [],
      incomplete_ids: [],
    });
  }, 600_000);

  it('the patched code runs in the stage sandbox: no host loopback, no host files outside its own', async () => {
    // A listener on the host's loopback and a file outside every directory the sandbox binds:
    // gold's fix holds only while the tests can reach neither.
    const server = createServer((socket) => socket.end());
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const port = (server.address() as AddressInfo).port;
    const secret = join(scratch, 'host-secret.txt');
    writeFileSync(secret, 'secret');
    const probe = patchAt(rows[ONE]!.base_commit, 'minicalc/stats.py', (t) =>
      t
        .replace(
          '"""Small statistics helpers."""\n',
          `"""Small statistics helpers."""\nimport os\nimport socket\n\n\ndef _sandboxed():\n    try:\n        socket.create_connection(("127.0.0.1", ${port}), timeout=3).close()\n        return False\n    except OSError:\n        return not os.path.exists(${JSON.stringify(secret)})\n`,
        )
        .replace(
          '    if value > high:\n        return value\n',
          '    if value > high:\n        return high if _sandboxed() else value\n',
        ),
    );
    const predictions = jsonl([{ instance_id: ONE, model_patch: probe, model_name_or_path: 'probe' }]);
    try {
      const sandboxed = await evaluate('probe.jsonl', predictions, ['--state-dir', state]);
      expect(sandboxed.report.resolved_ids, sandboxed.log(ONE, 'test_output.txt')).toEqual([ONE]);
      // The probe works: unsandboxed, the host file is there and the fix does not hold.
      const bare = await evaluate('probe-bare.jsonl', predictions, [
        '--state-dir',
        state,
        '--isolation',
        'none',
        '--i-accept-unsandboxed',
      ]);
      expect(bare.report.unresolved_ids).toEqual([ONE]);
    } finally {
      server.close();
    }
  }, 600_000);

  it('bad input files stop it with exit 2 and one line', async () => {
    const bad = join(scratch, 'bad.jsonl');
    writeFileSync(bad, '{"instance_id": "scaleswe__minicalc-1"}\n{oops\n');
    // A Scale-SWE format export: valid JSON, no recipe to grade with.
    const noRecipe = join(scratch, 'scaleswe.jsonl');
    writeFileSync(
      noRecipe,
      `${JSON.stringify({ instance_id: 'scaleswe_minicalc_pr1', repo: 'minicalc' })}\n`,
    );
    const cases: [string[], RegExp][] = [
      [['--dataset', join(scratch, 'nope.jsonl'), '--predictions', bad], /nope\.jsonl: no such file/],
      [['--dataset', dataset, '--predictions', bad], /bad\.jsonl line 2: not valid JSON/],
      [['--dataset', noRecipe, '--predictions', bad], /scaleswe\.jsonl line 1: .*records the recipe/],
    ];
    for (const [args, message] of cases) {
      const r = await runCli(['eval', ...args, '--out', join(scratch, 'never'), '--isolation', 'bwrap']);
      expect(r.code, r.err).toBe(2);
      expect(r.err).toMatch(message);
      expect(r.err.trim().split('\n')).toHaveLength(1);
    }
  }, 300_000);
});
