/** PromptAgent without an LLM: issue text, PR text, and the pure leak check (no setup needed). */
import { mkdtemp } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { buildPythonRepo } from '../../../test/fixtures/repos.ts';
import { runStage } from './run-stage.ts';

let root: string;
beforeAll(async () => {
  root = await mkdtemp(path.join(os.tmpdir(), 'scaleswe-prompt-'));
});

describe('prompt stage, no LLM', () => {
  it('prompt: a PR description that contains the fix is rejected', async () => {
    const leaky = await buildPythonRepo(root, {
      dirName: 'textutils-leaky',
      prBody: 'clamp ignored the upper bound. Added `if value > high: return high` before returning.',
    });
    const prompt = await runStage(
      { stage: 'prompt', instance: leaky.spec },
      { workDir: path.join(root, 'leaky') },
    );
    expect(prompt).toMatchObject({
      outcome: 'rejected',
      reason: 'StatementLeaksSolution',
      problemStatementSource: 'pr',
    });
    expect(prompt.message).toContain('if value > high:');
  }, 60_000);

  it('prompt: linked issues give the statement and the hints', async () => {
    const withIssue = await buildPythonRepo(root, {
      dirName: 'textutils-issue',
      issues: [
        {
          number: 3,
          title: 'clamp() returns values above the maximum',
          body: 'clamp(15, 0, 10) gives 15.',
          hints: ['Confirmed on 0.1.0.', 'Also for floats.'],
        },
      ],
    });
    const prompt = await runStage(
      { stage: 'prompt', instance: withIssue.spec },
      { workDir: path.join(root, 'issue') },
    );
    expect(prompt).toMatchObject({
      outcome: 'succeeded',
      problemStatementSource: 'issue',
      problemStatement: 'clamp() returns values above the maximum\nclamp(15, 0, 10) gives 15.',
      hintsText: 'Confirmed on 0.1.0.\n\nAlso for floats.',
    });
  }, 60_000);
  it('prompt: commit text is cleaned of trailers, separators and squashed commit subjects', async () => {
    const squash = await buildPythonRepo(root, {
      dirName: 'textutils-squash',
      prBody: `clamp(15, 0, 10) returns 15; values above the maximum should give the maximum.

* Respect the upper bound

* Update test_textutils.py

---------

Co-authored-by: Jane Doe <jane@example.com>
Signed-off-by: John Roe <john@example.com>`,
    });
    const prompt = await runStage(
      { stage: 'prompt', instance: squash.spec },
      { workDir: path.join(root, 'squash') },
    );
    expect(prompt).toMatchObject({
      outcome: 'succeeded',
      problemStatementSource: 'pr',
      problemStatement:
        'Respect the upper bound in clamp()\nclamp(15, 0, 10) returns 15; values above the maximum should give the maximum.',
    });
  }, 60_000);

  it('prompt: commit text that states the fix in words is rejected', async () => {
    const how = await buildPythonRepo(root, {
      dirName: 'textutils-how',
      prBody: 'Clamp the value to high when it exceeds the upper bound.',
    });
    const prompt = await runStage(
      { stage: 'prompt', instance: how.spec },
      { workDir: path.join(root, 'how') },
    );
    expect(prompt).toMatchObject({ outcome: 'rejected', reason: 'StatementDescribesFix' });
    expect(prompt.message).toContain('"Clamp the value to high when it exceeds the upper bound."');
  }, 60_000);

  it('prompt: nothing to write a statement from is a rejection', async () => {
    const bare = await buildPythonRepo(root, { dirName: 'textutils-bare', prBody: '' });
    const spec = { ...bare.spec, title: '' };
    const prompt = await runStage({ stage: 'prompt', instance: spec }, { workDir: path.join(root, 'bare') });
    expect(prompt).toMatchObject({ outcome: 'rejected', reason: 'NoProblemStatement' });
  }, 60_000);
  it('prompt: names new in the fix leak, names already in the repository do not', async () => {
    const repo = await buildPythonRepo(root, { dirName: 'textutils-names' });
    // A gold patch introducing normalize_range and mentioning the existing test_clamp_below.
    const patch = `diff --git a/textutils/__init__.py b/textutils/__init__.py
--- a/textutils/__init__.py
+++ b/textutils/__init__.py
@@ -5,4 +5,6 @@ def clamp(value, low, high):
     if value < low:
         return low
+    value = normalize_range(value, high)  # keeps test_clamp_below green
+
     return value
`;
    const run = (body: string, dir: string) =>
      runStage(
        { stage: 'prompt', instance: { ...repo.spec, patch, body } },
        { workDir: path.join(root, dir) },
      );
    const existing = await run(
      'Since 0.1 clamp(15, 0, 10) returns 15; test_clamp_below still passes.',
      'names-1',
    );
    expect(existing).toMatchObject({ outcome: 'succeeded', problemStatementSource: 'pr' });
    const leaking = await run(
      'clamp(15, 0, 10) returns 15; it should call normalize_range first.',
      'names-2',
    );
    expect(leaking).toMatchObject({ outcome: 'rejected', reason: 'StatementLeaksSolution' });
    expect(leaking.message).toContain('new identifier normalize_range');
  }, 60_000);
});
