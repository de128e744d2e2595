import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { SWEInstanceSpec } from '../api/index.ts';
import { DirStore, loadPrContent } from './dataset-store.ts';
import { sha256Hex } from './instance-content.ts';
import {
  diffStat,
  offloadPrContent,
  PR_FIELDS,
  parsePrContent,
  prContentKey,
  restorePrContent,
} from './pr-content.ts';
import { instanceOfKey } from './store-gc.ts';

const scratch = mkdtempSync(join(tmpdir(), 'scaleswe-pr-content-'));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

const where = { namespace: 'ns', name: 'run.acme.widgets-7' };
const patch = [
  'diff --git a/src/w.py b/src/w.py',
  '--- a/src/w.py',
  '+++ b/src/w.py',
  '@@ -1,2 +1,2 @@',
  ' def f():',
  '-    return 1',
  '+    return 2',
  'diff --git a/src/v.py b/src/v.py',
  'new file mode 100644',
  '--- /dev/null',
  '+++ b/src/v.py',
  '@@ -0,0 +1,2 @@',
  '+--- not a header: a line the diff adds',
  '+x = 1',
  '',
].join('\n');
const testPatch =
  'diff --git a/t/test_w.py b/t/test_w.py\n--- a/t/test_w.py\n+++ b/t/test_w.py\n@@ -1 +1 @@\n-assert f() == 1\n+assert f() == 2\n';
/** A mined spec as the run reconciler builds it (parsed: defaults filled in). */
const mined = () =>
  SWEInstanceSpec.parse({
    instanceId: 'acme__widgets-7',
    runRef: 'run',
    repo: 'acme/widgets',
    cloneURL: 'https://example.com/acme/widgets.git',
    pullNumber: 7,
    title: 'Widgets render wrong',
    body: 'Fixes #3.\n\nThe fix — with ünïcode.',
    baseCommit: 'a'.repeat(40),
    mergeCommit: 'b'.repeat(40),
    patch,
    testPatch,
    issues: [{ number: 3, title: 'Resize bug', body: 'Resize twice.', hints: ['try 2x'] }],
    createdAt: '2026-01-01T00:00:00Z',
    mergedAt: '2026-01-02T00:00:00Z',
    language: 'python',
  });

describe('offloadPrContent', () => {
  it('moves title, body, patches and issues into one content-addressed object; the spec keeps a ref with counts', () => {
    const full = mined();
    const { spec, object } = offloadPrContent(full, where);
    for (const f of PR_FIELDS) expect(spec).not.toHaveProperty(f);
    expect(spec).toMatchObject({
      instanceId: full.instanceId,
      baseCommit: full.baseCommit,
      language: 'python',
    });
    expect(object.sha256).toBe(sha256Hex(object.body));
    expect(object.key).toBe(`instances/ns/run.acme.widgets-7/pr-${object.sha256}.json`);
    expect(spec.prContent).toEqual({
      key: prContentKey(where, object.sha256),
      sha256: object.sha256,
      bytes: Buffer.byteLength(object.body),
      patchFiles: 2,
      patchLines: 4,
      testPatchFiles: 1,
      testPatchLines: 2,
      issues: 1,
    });
    // As the API server hands it back (defaults filled in), then restored: the mined spec again.
    const stored = SWEInstanceSpec.parse(spec);
    expect(stored).toMatchObject({ title: '', body: '', patch: '', testPatch: '', issues: [] });
    expect(restorePrContent(stored, parsePrContent(stored.prContent!, object.body))).toEqual({
      ...full,
      prContent: spec.prContent,
    });
    // What etcd keeps shrinks.
    expect(Buffer.byteLength(JSON.stringify(spec))).toBeLessThan(Buffer.byteLength(JSON.stringify(full)));
  });

  it('a crash between the object write and the instance create: the re-mined PR writes the same key, one object in all', async () => {
    const store = new DirStore(join(scratch, 'crash'));
    const first = offloadPrContent(mined(), where);
    await store.put(first.object.key, first.object.body);
    // …the operator dies here: no instance. The restarted one mines the page again.
    const again = offloadPrContent(mined(), where);
    expect(again).toEqual(first);
    await store.put(again.object.key, again.object.body);
    expect(await store.list('instances/')).toEqual([first.object.key]);
    // The instance it then creates reads back exactly the mined PR.
    const created = SWEInstanceSpec.parse(again.spec);
    expect(await loadPrContent(store, created)).toEqual({ ...mined(), prContent: again.spec.prContent });
    // Another PR text, another key: an object a live instance names is never overwritten.
    expect(offloadPrContent({ ...mined(), body: 'edited' }, where).object.key).not.toBe(first.object.key);
  });

  it("offloading a restored spec gives the same object and ref (an old ref is not carried into the new one's body)", () => {
    const a = offloadPrContent(mined(), where);
    const restored = restorePrContent(
      SWEInstanceSpec.parse(a.spec),
      parsePrContent(a.spec.prContent!, a.object.body),
    );
    expect(offloadPrContent(restored, where)).toEqual(a);
  });

  it('refuses an object whose digest is not the one the spec names; a ref without a store is an error, not an empty PR', async () => {
    const { spec } = offloadPrContent(mined(), where);
    expect(() => parsePrContent(spec.prContent!, '{"patch":""}')).toThrow(/SHA-256/);
    await expect(loadPrContent(undefined, SWEInstanceSpec.parse(spec))).rejects.toThrow(
      /spec names dataset store object .* no dataset store is configured/,
    );
    await expect(
      loadPrContent(new DirStore(join(scratch, 'empty')), SWEInstanceSpec.parse(spec)),
    ).rejects.toThrow(/is missing/);
  });

  it('is swept with its instance: the key names the instance', () => {
    expect(instanceOfKey(prContentKey(where, 'ab12'))).toEqual(where);
  });
});

describe('diffStat', () => {
  it('counts files and the lines hunks add or delete (not the ---/+++ headers)', () => {
    expect(diffStat(patch)).toEqual({ files: 2, lines: 4 });
    expect(diffStat('')).toEqual({ files: 0, lines: 0 });
  });
});
