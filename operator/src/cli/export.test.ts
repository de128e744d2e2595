import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { calcSpec as spec } from '../../../test/fixtures/calc-instance.ts';
import { type InstanceRecord, SWEInstanceSpec, type Trajectory } from '../api/index.ts';
import { DirStore, loadRecordContent } from '../store/dataset-store.ts';
import { offloadContent } from '../store/instance-content.ts';
import { offloadPrContent } from '../store/pr-content.ts';
import { writeExport } from './export.ts';

const scratch = mkdtempSync(join(tmpdir(), 'scaleswe-export-stream-'));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

const full: InstanceRecord[] = [1, 2, 3].map((n) => ({
  spec: spec(n),
  status:
    n === 2
      ? { phase: 'Rejected', lastError: { stage: 'tests', reason: 'NoFailToPass', message: '', time: '' } }
      : {
          phase: 'Verified',
          recipe: { setupScript: 'pip install -e .', testCommand: 'pytest -rA', resultFormat: 'pytest' },
          FAIL_TO_PASS: [`test_calc.py::test_add_${n}`],
          PASS_TO_PASS: Array.from({ length: 50 * n }, (_, i) => `test_calc.py::test_p${i}`),
          problemStatement: `add is wrong (${n})`,
          hintsText: '',
        },
}));

describe('writeExport from light instances (content in the dataset store)', () => {
  it('writes the same files as from full instances, reading content of Verified instances only', async () => {
    // Spec and status both light, as the operator with a store keeps them (the spec as read back
    // from the API server: defaults filled in).
    const store = new DirStore(join(scratch, 'store'));
    const light: InstanceRecord[] = [];
    for (const i of full) {
      const where = { namespace: 'ns', name: i.spec.instanceId };
      const { status, object } = offloadContent(i.status!, where);
      const pr = offloadPrContent(i.spec, where);
      for (const o of [object, pr.object]) if (o) await store.put(o.key, o.body);
      light.push({ spec: SWEInstanceSpec.parse(pr.spec), status });
    }
    expect(light[0]!.status?.FAIL_TO_PASS).toBeUndefined();
    expect(light[0]!.spec).toMatchObject({ patch: '', testPatch: '', title: '', body: '', issues: [] });
    const read: string[] = [];
    const contentOf = async (i: InstanceRecord): Promise<InstanceRecord> => {
      read.push(i.spec.instanceId);
      return loadRecordContent(store, i);
    };
    const at = new Date('2026-12-04T00:00:00Z');
    const run = { runName: 'r', source: undefined, discovered: 3, rejectedByReason: {}, trajectories: [] };
    const a = join(scratch, 'full');
    const b = join(scratch, 'light');
    const fromFull = await writeExport(a, { ...run, instances: full }, { parquet: true }, at);
    const fromLight = await writeExport(b, { ...run, instances: light, contentOf }, { parquet: true }, at);

    expect(read).toEqual(['acme__calc-1', 'acme__calc-3']);
    expect(fromLight.verified).toBe(2);
    expect(fromFull.verified).toBe(2);
    for (const file of ['dataset.jsonl', 'report.md', 'trajectories.jsonl', 'dataset.parquet'])
      expect(readFileSync(join(b, file)), file).toEqual(readFileSync(join(a, file)));
    // The report's F2P/P2P columns come from the counts the light status keeps.
    expect(readFileSync(join(b, 'report.md'), 'utf8')).toContain('| 1 | 150 |');
  });
});

describe('writeExport with streamed trajectories', () => {
  const step = (content: string) => ({
    request: { model: 'm', messages: [{ role: 'user', content: 'go' }] },
    response: { choices: [{ message: { role: 'assistant', content }, finish_reason: 'stop' }] },
    startedAt: '2026-01-01T00:00:00Z',
    durationMs: 1,
  });
  // Instance 2 is Rejected: `onlyPhase: 'Verified'` drops its example from both files.
  const trajectories: Trajectory[] = [1, 2, 3].flatMap((n) =>
    (['env', 'tests'] as const).map((stage) => ({
      instanceId: `acme__calc-${n}`,
      stage,
      agent: stage === 'env' ? 'EnvAgent' : 'TestAgent',
      steps: [step(`${stage} of ${n}`)],
    })),
  );

  it('writes the same aligned files as from a list, filters included', async () => {
    const run = { runName: 'r', source: undefined, discovered: 3, rejectedByReason: {}, instances: full };
    const at = new Date('2026-12-04T00:00:00Z');
    for (const options of [{}, { onlyPhase: 'Verified' as const }]) {
      const a = join(scratch, `list-${Object.keys(options).length}`);
      const b = join(scratch, `stream-${Object.keys(options).length}`);
      const fromList = await writeExport(a, { ...run, trajectories }, options, at);
      let pulled = 0;
      const fromStream = await writeExport(
        b,
        {
          ...run,
          trajectories: [],
          streamTrajectories: async function* () {
            for (const t of trajectories) {
              pulled++;
              yield t;
            }
          },
        },
        options,
        at,
      );
      expect(pulled).toBe(6);
      expect(fromStream.examples).toBe(fromList.examples);
      for (const file of ['trajectories.jsonl', 'trajectories.meta.jsonl'])
        expect(readFileSync(join(b, file), 'utf8'), file).toBe(readFileSync(join(a, file), 'utf8'));
      const meta = readFileSync(join(b, 'trajectories.meta.jsonl'), 'utf8').trim().split('\n');
      expect(meta.map((l) => JSON.parse(l).instance_id)).toEqual(
        options.onlyPhase
          ? ['acme__calc-1', 'acme__calc-1', 'acme__calc-3', 'acme__calc-3']
          : trajectories.map((t) => t.instanceId),
      );
    }
  });
});
