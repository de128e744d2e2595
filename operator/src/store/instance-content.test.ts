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

  it("moves the solve attempts' patches too: status keeps the attempts, the grade and the ref; restoring puts each patch back on its attempt", () => {
    const solving: SWEInstanceStatus = {
      ...full,
      solveAttempts: [
        {
          attempt: 1,
          phase: 'Done',
          tries: 0,
          patch: 'diff --git a/w b/w\n+1\n',
          tokensUsed: 5,
          durationMs: 1,
        },
        { attempt: 2, phase: 'Solving', tries: 0, tokensUsed: 0, durationMs: 0 },
        { attempt: 3, phase: 'Grading', tries: 1, patch: '', tokensUsed: 9, durationMs: 2 },
      ],
    };
    const { status, object } = offloadContent(solving, where);
    expect(status.solveAttempts?.map((a) => a.patch)).toEqual([undefined, undefined, undefined]);
    expect(status.solveAttempts?.map((a) => a.phase)).toEqual(['Done', 'Solving', 'Grading']);
    expect(status.content?.fields).toContain('solvePatches');
    const content = parseContent(status.content!, object!.body);
    expect(content.solvePatches).toEqual({ '1': 'diff --git a/w b/w\n+1\n', '3': '' });
    const restored = restoreContent(status, content);
    expect(restored.solveAttempts).toEqual(solving.solveAttempts);
    expect(restored).not.toHaveProperty('solvePatches');
    // Idempotent: offloading the restored status gives the same object and status.
    expect(offloadContent(restored, where)).toEqual({ status, object });
    // A new patch, a new object: the grading pod of that attempt reads it from there.
    const next = offloadContent(
      {
        ...restored,
        solveAttempts: restored.solveAttempts!.map((a) => (a.attempt === 2 ? { ...a, patch: 'p2' } : a)),
      },
      where,
    );
    expect(next.object?.key).not.toBe(object?.key);
  });

  it('refuses an object whose digest is not the one status names', () => {
    const { status } = offloadContent(full, where);
    expect(() => parseContent(status.content!, '{"FAIL_TO_PASS":[]}')).toThrow(/SHA-256/);
  });
});
