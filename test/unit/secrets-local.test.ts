import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { StageInput } from '../../operator/src/api/index.ts';
import { runStageProcess } from '../../operator/src/local/executor.ts';

// A local run with an LLM: the provider key reaches the provider (and only through the
// agent process's environment); nothing the run writes contains it.
const KEY = 'sk-local-secret-7c1e0d9a';
const authHeaders: string[] = [];
const provider = createServer((req, res) => {
  authHeaders.push(String(req.headers.authorization));
  req.resume();
  req.on('end', () => {
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(
      JSON.stringify({
        id: 'chatcmpl-1',
        object: 'chat.completion',
        created: 1,
        model: 'm',
        choices: [
          {
            index: 0,
            finish_reason: 'stop',
            message: {
              role: 'assistant',
              content:
                '{"leaks": false, "reason": "describes the symptom only"} The mean of an empty list crashes.',
            },
          },
        ],
        usage: { prompt_tokens: 50, completion_tokens: 20, total_tokens: 70 },
      }),
    );
  });
});
const work = mkdtempSync(join(tmpdir(), 'scaleswe-secret-'));
let baseURL = '';
beforeAll(async () => {
  await new Promise<void>((r) => provider.listen(0, '127.0.0.1', r));
  baseURL = `http://127.0.0.1:${(provider.address() as AddressInfo).port}/v1`;
});
afterAll(() => {
  provider.close();
  rmSync(work, { recursive: true, force: true });
});

function filesUnder(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    return statSync(path).isDirectory() ? filesUnder(path) : [path];
  });
}

describe('LLM key in a local run', () => {
  it('is sent to the provider and written nowhere', async () => {
    const input = StageInput.parse({
      stage: 'prompt',
      instance: {
        instanceId: 'acme__calc-3',
        runRef: 'r',
        repo: 'acme/calc',
        cloneURL: '/nonexistent',
        pullNumber: 3,
        title: '',
        body: '',
        baseCommit: 'a'.repeat(40),
        patch:
          'diff --git a/calc.py b/calc.py\n--- a/calc.py\n+++ b/calc.py\n@@ -1 +1,3 @@\n def mean(xs):\n+    if not xs:\n+        return 0.0\n',
        createdAt: '2026-01-01T00:00:00Z',
        language: 'python',
      },
      config: { llm: { baseURL, model: 'm', tokenBudget: 10_000 } },
    });
    const result = await runStageProcess(input, {
      workDir: join(work, 'stage'),
      cacheDir: join(work, 'cache'),
      timeoutSeconds: 120,
      isolation: 'none',
      env: { SCALESWE_LLM_API_KEY: KEY },
    });
    expect(result.outcome, JSON.stringify(result)).not.toBe('failed');
    expect(authHeaders.length).toBeGreaterThan(0);
    expect(authHeaders.every((h) => h === `Bearer ${KEY}`)).toBe(true);
    const written = filesUnder(work);
    expect(written.some((f) => f.endsWith('result.json'))).toBe(true);
    for (const file of written) expect(readFileSync(file, 'utf8'), file).not.toContain(KEY);
    expect(JSON.stringify(result)).not.toContain(KEY);
  });
});
