import { describe, expect, it } from 'vitest';
import type { SWEInstanceStatus } from '../api/index.ts';
import {
  contentKey,
  OFFLOADED_FIELDS,
  offloadContent,
  parseContent,
  restoreContent,
  sha256Hex,
} from './instance-content.ts';

const where = { namespace: 'ns', name: 'run.acme.widgets-7' };
const full: SWEInstanceStatus = {
  phase: 'Verified',
  attempts: { env: 1, tests: 1, prompt: 1, verify: 1 },
  recipe: { setupScript: 'pip install -e .', testCommand: 'pytest -rA', resultFormat: 'pytest' },
  FAIL_TO_PASS: ['t::a'],
  PASS_TO_PASS: Array.from({ length: 500 }, (_, i) => `t::p${i}`),
  problemStatement: 'f is wrong',
  fullTestPatch: 'diff --git a/t b/t\n',
};

describe('offloadContent', () => {
  it('moves the bulky fields into one content-addressed object and leaves counts, digest and key', () => {
    const { status, object } = offloadContent(full, where);
    for (const f of OFFLOADED_FIELDS) expect(status[f]).toBeUndefined();
    expect(status).toMatchObject({ phase: 'Verified', recipe: full.recipe, attempts: full.attempts });
    expect(object?.sha256).toBe(sha256Hex(object!.body));
    expect(status.content).toEqual({
      key: contentKey(where, object!.sha256),
      sha256: object!.sha256,
      bytes: Buffer.byteLength(object!.body),
      fields: ['FAIL_TO_PASS', 'PASS_TO_PASS', 'problemStatement', 'fullTestPatch'],
      failToPass: 1,
      passToPass: 500,
    });
    expect(restoreContent(status, parseContent(status.content!, object!.body))).toEqual({
      ...full,
      content: status.content,
    });
  });

  it('is deterministic and idempotent: the same content gives the same key; offloading a restored status changes nothing', () => {
    const a = offloadContent(full, where);
    const b = offloadContent({ ...full }, where);
    expect(b).toEqual(a);
    const restored = restoreContent(a.status, parseContent(a.status.content!, a.object!.body));
    expect(offloadContent(restored, where)).toEqual(a);
    // Another label list, another key: an earlier object is never overwritten with new content.
    expect(offloadContent({ ...full, FAIL_TO_PASS: ['t::b'] }, where).object?.key).not.toBe(a.object?.key);
  });

  it('a status without bulky fields needs no object (and drops a stale ref)', () => {
    const { status, object } = offloadContent(
      { phase: 'Pending', content: offloadContent(full, where).status.content },
      where,
    );
    expect(object).toBeUndefined();
    expect(status).toEqual({ phase: 'Pending' });
  });

  it('refuses an object whose digest is not the one status names', () => {
    const { status } = offloadContent(full, where);
    expect(() => parseContent(status.content!, '{"FAIL_TO_PASS":[]}')).toThrow(/SHA-256/);
  });
});
