import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { TrajectoryStep } from '../api/index.ts';
import { type GatewayClaims, grantKey, verifyGatewayToken } from './gateway-token.ts';

/** Where a grant's requests go: resolved by the operator from the run spec and its Secret. */
export interface ProviderTarget {
  baseURL: string;
  apiKey: string | undefined;
  model: string;
  requestsPerMinute: number;
}

export interface GatewayOptions {
  secret: Buffer;
  resolveProvider: (claims: GatewayClaims) => Promise<ProviderTarget>;
  onExchange?: (claims: GatewayClaims, step: TrajectoryStep) => void;
  now?: () => number;
  /** Largest request body accepted from a pod. */
  maxBodyBytes?: number;
}

interface Usage {
  tokens: number;
  /** Of tokens, as the provider reported them apart (what llm.price prices). */
  inputTokens: number;
  outputTokens: number;
  recent: number[];
}

const MINUTE = 60_000;

function sendError(res: ServerResponse, status: number, type: string, message: string, headers = {}): void {
  res.writeHead(status, { 'content-type': 'application/json', ...headers });
  res.end(JSON.stringify({ error: { message, type, code: type } }));
}

async function readBody(req: IncomingMessage, limit: number): Promise<string | undefined> {
  let size = 0;
  const chunks: Buffer[] = [];
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > limit) return undefined;
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks).toString('utf8');
}

/** Pure: may this grant send another request now? */
export function admit(
  usage: Usage,
  claims: GatewayClaims,
  requestsPerMinute: number,
  now: number,
): { ok: true } | { ok: false; status: 429; type: string; message: string; retryAfterSeconds?: number } {
  if (usage.tokens >= claims.budget) {
    return {
      ok: false,
      status: 429,
      type: 'token_budget_exhausted',
      message: `token budget of ${claims.budget} for ${claims.instanceId}/${claims.stage} is spent`,
    };
  }
  const recent = usage.recent.filter((t) => now - t < MINUTE);
  if (recent.length >= requestsPerMinute) {
    const retryAfterSeconds = Math.ceil((MINUTE - (now - recent[0]!)) / 1000);
    return {
      ok: false,
      status: 429,
      type: 'rate_limit_exceeded',
      message: 'requests per minute exceeded',
      retryAfterSeconds,
    };
  }
  return { ok: true };
}

/**
 * The operator's LLM gateway: the only holder of provider keys. Sandbox pods call it with a
 * per-pod token; it enforces the token budget and request rate, pins the model, forwards to
 * the OpenAI-compatible provider and records every exchange.
 */
export class LlmGateway {
  private readonly options: GatewayOptions;
  private readonly usage = new Map<string, Usage>();
  private readonly servers: Server[] = [];

  constructor(options: GatewayOptions) {
    this.options = options;
  }

  tokensUsed(claims: GatewayClaims): number {
    return this.usage.get(grantKey(claims))?.tokens ?? 0;
  }

  /** Input and output tokens a grant spent, as the provider reported them. */
  tokenSplit(claims: GatewayClaims): { inputTokens: number; outputTokens: number } {
    const usage = this.usage.get(grantKey(claims));
    return { inputTokens: usage?.inputTokens ?? 0, outputTokens: usage?.outputTokens ?? 0 };
  }

  async listen(port: number, host = '0.0.0.0'): Promise<number> {
    const server = this.serve();
    await new Promise<void>((resolve) => server.listen(port, host, resolve));
    return (server.address() as AddressInfo).port;
  }

  /** Also serves on a Unix socket (a local stage sandbox reaches the gateway only that way). */
  async listenOnSocket(path: string): Promise<void> {
    const server = this.serve();
    await new Promise<void>((resolve) => server.listen(path, resolve));
  }

  async close(): Promise<void> {
    await Promise.all(this.servers.map((s) => new Promise<void>((resolve) => s.close(() => resolve()))));
  }

  private serve(): Server {
    const server = createServer((req, res) => {
      this.handle(req, res).catch((error: unknown) => {
        if (!res.headersSent) sendError(res, 502, 'gateway_error', (error as Error).message);
        else res.end();
      });
    });
    this.servers.push(server);
    return server;
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const now = this.options.now?.() ?? Date.now();
    const token = /^Bearer (.+)$/.exec(req.headers.authorization ?? '')?.[1];
    const claims = token ? verifyGatewayToken(this.options.secret, token, now) : undefined;
    if (!claims) return sendError(res, 401, 'invalid_api_key', 'unknown or expired gateway token');
    const path = new URL(req.url ?? '/', 'http://gateway').pathname.replace(/\/+$/, '');
    const target = await this.options.resolveProvider(claims);
    if (req.method === 'GET' && path.endsWith('/models')) {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(
        JSON.stringify({
          object: 'list',
          data: [{ id: target.model, object: 'model', owned_by: 'gateway' }],
        }),
      );
      return;
    }
    if (req.method !== 'POST' || !path.endsWith('/chat/completions')) {
      return sendError(res, 404, 'not_found', `${req.method} ${path} is not served by the gateway`);
    }
    const body = await readBody(req, this.options.maxBodyBytes ?? 8 * 1024 * 1024);
    if (body === undefined) return sendError(res, 413, 'request_too_large', 'request body too large');
    let request: { model?: string; stream?: boolean; messages?: unknown[] };
    try {
      request = JSON.parse(body);
    } catch {
      return sendError(res, 400, 'invalid_request_error', 'body is not JSON');
    }
    if (request.stream)
      return sendError(res, 400, 'invalid_request_error', 'streaming is not supported by the gateway');
    const key = grantKey(claims);
    const usage = this.usage.get(key) ?? { tokens: 0, inputTokens: 0, outputTokens: 0, recent: [] };
    this.usage.set(key, usage);
    const decision = admit(usage, claims, target.requestsPerMinute, now);
    if (!decision.ok) {
      const headers = decision.retryAfterSeconds ? { 'retry-after': String(decision.retryAfterSeconds) } : {};
      return sendError(res, decision.status, decision.type, decision.message, headers);
    }
    usage.recent = [...usage.recent.filter((t) => now - t < MINUTE), now];
    // The run decides the model, not the pod.
    const forwarded = { ...request, model: target.model };
    const started = Date.now();
    const upstream = await fetch(`${target.baseURL.replace(/\/+$/, '')}/chat/completions`, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        ...(target.apiKey ? { authorization: `Bearer ${target.apiKey}` } : {}),
      },
      body: JSON.stringify(forwarded),
    });
    const text = await upstream.text();
    const retryAfter = upstream.headers.get('retry-after');
    res.writeHead(upstream.status, {
      'content-type': upstream.headers.get('content-type') ?? 'application/json',
      ...(retryAfter ? { 'retry-after': retryAfter } : {}),
    });
    res.end(text);
    if (!upstream.ok) return;
    let response: { usage?: TrajectoryStep['usage'] } & Record<string, unknown>;
    try {
      response = JSON.parse(text);
    } catch {
      return;
    }
    usage.tokens += response.usage?.total_tokens ?? 0;
    usage.inputTokens += response.usage?.prompt_tokens ?? 0;
    usage.outputTokens += response.usage?.completion_tokens ?? 0;
    this.options.onExchange?.(claims, {
      request: forwarded as TrajectoryStep['request'],
      response,
      ...(response.usage && { usage: response.usage }),
      startedAt: new Date(started).toISOString(),
      durationMs: Date.now() - started,
    });
  }
}
