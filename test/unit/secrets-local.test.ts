import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CurationRunSpec, SWEInstanceSpec } from '../../operator/src/api/index.ts';
import { runStageProcess, stageEnv, WITHHELD_ENV } from '../../operator/src/local/executor.ts';
import { startLocalLlmGateway } from '../../operator/src/local/llm-gateway.ts';
import { initialStatus, stageInputFor } from '../../operator/src/pipeline/pipeline.ts';

// A local run with an LLM: the provider key reaches the provider through the run's local
// gateway, as in the cluster; no stage process, input or file holds it.
const KEY = 'sk-local-secret-7c1e0d9a';
const authHeaders: string[] = [];
const models: string[] = [];
const provider = createServer((req, res) => {
  authHeaders.push(String(req.headers.authorization));
  let body = '';
  req.on('data', (c) => {
    body += c;
  });
  req.on('end', () => {
    models.push(JSON.parse(body).model);
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

const spec = CurationRunSpec.parse({
  source: { git: { url: '/nonexistent' } },
  llm: { baseURL: 'http://replaced', model: 'pinned-model', tokenBudgetPerInstance: 10_000 },
});
const instance = SWEInstanceSpec.parse({
  instanceId: 'acme__calc-3',
  runRef: 'r',
  repo: 'acme/calc',
  cloneURL: '/nonexistent',
  pullNumber: 3,
  baseCommit: 'a'.repeat(40),
  patch:
    'diff --git a/calc.py b/calc.py\n--- a/calc.py\n+++ b/calc.py\n@@ -1 +1,3 @@\n def mean(xs):\n+    if not xs:\n+        return 0.0\n',
  createdAt: '2026-01-01T00:00:00Z',
  language: 'python',
});

describe('LLM key in a local run', () => {
  // In the sandbox the gateway's loopback port is out of reach: the agent gets it through the
  // gateway's Unix socket (llm/socket-relay.ts); unsandboxed it calls the port directly.
  it.each(['bwrap', 'none'] as const)(
    'stays in the local gateway: the provider gets it, the stage process (%s) and its files never do',
    async (isolation) => {
      authHeaders.length = 0;
      const gateway = await startLocalLlmGateway({ ...spec.llm!, baseURL }, spec, KEY);
      const status = initialStatus({ now: new Date(), maxAttempts: 1 });
      const endpoint = gateway.endpointFor(instance, status, { stage: 'prompt', attempt: 1 }, 120);
      const input = stageInputFor({
        runSpec: spec,
        instance,
        status,
        stage: 'prompt',
        llmEndpoint: endpoint,
      });
      // Even when the user exported it, the stage does not inherit it.
      process.env.SCALESWE_LLM_API_KEY = KEY;
      try {
        const result = await runStageProcess(input, {
          workDir: join(work, 'stage'),
          cacheDir: join(work, 'cache'),
          timeoutSeconds: 120,
          isolation,
          llmSocket: gateway.socketPath,
        });
        expect(result.outcome, JSON.stringify(result)).not.toBe('failed');
        expect(JSON.stringify(result)).not.toContain(KEY);
      } finally {
        delete process.env.SCALESWE_LLM_API_KEY;
        await gateway.close();
      }
      expect(authHeaders.length).toBeGreaterThan(0);
      expect(authHeaders.every((h) => h === `Bearer ${KEY}`)).toBe(true);
      expect(models.every((m) => m === 'pinned-model')).toBe(true);
      const written = filesUnder(work);
      expect(written.some((f) => f.endsWith('result.json'))).toBe(true);
      expect(readFileSync(join(work, 'stage', 'input.json'), 'utf8')).toContain(endpoint.apiKey);
      for (const file of written) expect(readFileSync(file, 'utf8'), file).not.toContain(KEY);
    },
  );

  it('a stage environment withholds the credentials of the caller', () => {
    const env = stageEnv(
      { PATH: '/usr/bin', OPENAI_API_KEY: KEY, SCALESWE_LLM_API_KEY: KEY, GITHUB_TOKEN: 'ghp_x', LANG: 'C' },
      '/w/home',
      '/c',
    );
    expect(env).toMatchObject({ PATH: '/usr/bin', LANG: 'C', HOME: '/w/home' });
    for (const name of WITHHELD_ENV) expect(env[name], name).toBeUndefined();
  });
});
