import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { StageInput } from '../api/index.ts';
import { StageContext } from './stage-context.ts';
import { runTestsStage } from './test-agent.ts';

const root = mkdtempSync(path.join(tmpdir(), 'scaleswe-test-agent-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

/** A PR without test changes, at the tests stage with no LLM configured. */
const noTests = (generateTests: boolean) =>
  new StageContext(
    StageInput.parse({
      stage: 'tests',
      instance: {
        instanceId: 'o__r-1',
        runRef: 'r',
        repo: 'o/r',
        cloneURL: '/nonexistent',
        pullNumber: 1,
        baseCommit: 'a'.repeat(40),
        patch: 'diff --git a/x.py b/x.py\n',
        testPatch: '',
        createdAt: '2021-01-01T00:00:00Z',
        language: 'python',
      },
      config: { generateTests },
    }),
    path.join(root, String(generateTests)),
  );

describe('TestAgent: a PR without tests, no LLM', () => {
  it('generation enabled but no llm: NoTestsAndNoLlm, the message names the missing llm', async () => {
    const out = await runTestsStage(noTests(true));
    expect(out).toMatchObject({ outcome: 'rejected', reason: 'NoTestsAndNoLlm' });
    expect(out.message).toContain('no llm is configured');
    expect(out.message).not.toContain('disabled');
  });

  it('generation disabled: NoTestsAndGenerationDisabled', async () => {
    const out = await runTestsStage(noTests(false));
    expect(out).toMatchObject({ outcome: 'rejected', reason: 'NoTestsAndGenerationDisabled' });
    expect(out.message).toContain('generateTests: false');
  });
});
