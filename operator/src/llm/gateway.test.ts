import { createServer, type IncomingHttpHeaders } from 'node:http';
import type { AddressInfo } from 'node:net';
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TrajectoryStep } from '../api/index.ts';
import { LlmGateway } from './gateway.ts';
import { type GatewayClaims, mintGatewayToken, verifyGatewayToken } from './gateway-token.ts';

const PROVIDER_KEY = 'sk-provider-secret-do-not-leak';
const secret = Buffer.from('gateway-test-secret');
const seen: { headers: IncomingHttpHeaders; body: { model: string } }[] = [];

// A provider speaking the chat-completions wire format; every reply costs 40 tokens.
const provider = createServer((req, res) => {
  let body = '';
  req.on('data', (c) => {
    body += c;
  });
  req.on('end', () => {
    seen.push({ headers: req.headers, body: JSON.parse(body) });
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(
      JSON.stringify({
        id: `chatcmpl-${seen.length}`,
        object: 'chat.completion',
        created: 1,
        model: 'provider-model',
        choices: [{ index: 0, finish_reason: 'stop', message: { role: 'assistant', content: 'ok' } }],
        usage: { prompt_tokens: 30, completion_tokens: 10, total_tokens: 40 },
      }),
    );
  });
});

const exchanges: { claims: GatewayClaims; step: TrajectoryStep }[] = [];
let gateway: LlmGateway;
let gatewayURL = '';

beforeAll(async () => {
  await new Promise<void>((r) => provider.listen(0, '127.0.0.1', r));
  const providerURL = `http://127.0.0.1:${(provider.address() as AddressInfo).port}/v1`;
  gateway = new LlmGateway({
    secret,
    resolveProvider: async () => ({
      baseURL: providerURL,
      apiKey: PROVIDER_KEY,
      model: 'pinned-model',
      requestsPerMinute: 5,
    }),
    onExchange: (claims, step) => exchanges.push({ claims, step }),
  });
  gatewayURL = `http://127.0.0.1:${await gateway.listen(0, '127.0.0.1')}/v1`;
});
afterAll(async () => {
  await gateway.close();
  provider.close();
});

function claims(partial: Partial<GatewayClaims> = {}): GatewayClaims {
  return {
    namespace: 'ns',
    instance: 'run.acme.calc-1',
    instanceId: 'acme__calc-1',
    stage: 'env',
    attempt: 1,
    budget: 100,
    expiresAt: Date.now() + 60_000,
    ...partial,
  };
}

const client = (token: string) => new OpenAI({ baseURL: gatewayURL, apiKey: token, maxRetries: 0 });
const ask = (token: string) =>
  client(token).chat.completions.create({
    model: 'whatever-the-pod-wants',
    messages: [{ role: 'user', content: 'hi' }],
  });

describe('gateway tokens', () => {
  it('verify only unexpired tokens signed with the secret', () => {
    const token = mintGatewayToken(secret, claims());
    expect(verifyGatewayToken(secret, token, Date.now())?.instanceId).toBe('acme__calc-1');
    expect(verifyGatewayToken(Buffer.from('other'), token, Date.now())).toBeUndefined();
    expect(verifyGatewayToken(secret, token, Date.now() + 120_000)).toBeUndefined();
    const [p, , s] = token.split('.');
    const forged = Buffer.from(JSON.stringify(claims({ budget: 10 ** 9 }))).toString('base64url');
    expect(verifyGatewayToken(secret, `${p}.${forged}.${s}`, Date.now())).toBeUndefined();
  });
});

describe('LLM gateway with the real openai client', () => {
  it('forwards with the provider key, pins the model and records the exchange', async () => {
    const token = mintGatewayToken(secret, claims({ attempt: 2 }));
    const reply = await ask(token);
    expect(reply.choices[0]?.message.content).toBe('ok');
    const upstream = seen.at(-1)!;
    expect(upstream.headers.authorization).toBe(`Bearer ${PROVIDER_KEY}`);
    expect(upstream.body.model).toBe('pinned-model');
    expect(JSON.stringify(reply)).not.toContain(PROVIDER_KEY);
    const recorded = exchanges.at(-1)!;
    expect(recorded.claims.attempt).toBe(2);
    expect(recorded.step.usage?.total_tokens).toBe(40);
    expect(recorded.step.request.messages).toEqual([{ role: 'user', content: 'hi' }]);
  });

  it('rejects unknown tokens and provider keys alike', async () => {
    await expect(ask('sk-not-a-gateway-token')).rejects.toMatchObject({ status: 401 });
  });

  it('stops a pod that spent its token budget', async () => {
    const grant = claims({ attempt: 3, budget: 80 });
    const token = mintGatewayToken(secret, grant);
    await ask(token);
    await ask(token);
    // Charged per grant, input and output apart as the provider reported them (30 + 10 a reply).
    expect(gateway.tokensUsed(grant)).toBe(80);
    expect(gateway.tokenSplit(grant)).toEqual({ inputTokens: 60, outputTokens: 20 });
    await expect(ask(token)).rejects.toMatchObject({ status: 429, code: 'token_budget_exhausted' });
  });

  it('limits requests per minute per pod', async () => {
    const token = mintGatewayToken(secret, claims({ attempt: 4, budget: 10_000 }));
    for (let i = 0; i < 5; i++) await ask(token);
    await expect(ask(token)).rejects.toMatchObject({ status: 429, code: 'rate_limit_exceeded' });
    // Another pod is not affected.
    await expect(ask(mintGatewayToken(secret, claims({ attempt: 5 })))).resolves.toBeDefined();
  });
});
