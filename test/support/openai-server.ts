/**
 * A local OpenAI-compatible chat-completions server that replays a script, speaking the
 * real wire format (JSON bodies, tool_calls, usage, error envelopes), so the real `openai`
 * client is exercised. One script step per request, in order.
 */
import { createServer, type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface ScriptedToolCall {
  name: string;
  arguments: Record<string, unknown> | string;
}

export interface ScriptedReply {
  content?: string | null;
  toolCalls?: ScriptedToolCall[];
  usage?: { prompt_tokens: number; completion_tokens: number };
  /** Omit the usage block (some servers do). */
  noUsage?: boolean;
}

/** An HTTP error instead of a completion (429/5xx exercise the client's retries). */
export interface ScriptedError {
  status: number;
  message?: string;
  /** The envelope's `type` and `code` (default server_error, null), e.g. context_length_exceeded. */
  type?: string;
  code?: string;
}

export type ScriptStep = ScriptedReply | ScriptedError | ((request: ChatRequestBody) => ScriptedReply);

export interface ChatRequestBody {
  model: string;
  messages: Array<{ role: string; content?: unknown; tool_calls?: unknown[]; tool_call_id?: string }>;
  tools?: Array<{ type: string; function: { name: string } }>;
  [k: string]: unknown;
}

export interface OpenAIServer {
  /** Pass as baseURL (ends with /v1). */
  baseURL: string;
  /** Every chat request body received, in order (including ones answered with errors). */
  requests: ChatRequestBody[];
  /** The Authorization header of each of those requests. */
  authorizations: (string | undefined)[];
  /** Script steps not consumed yet. */
  remaining(): number;
  close(): Promise<void>;
}

async function body(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const c of req) chunks.push(c as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

/** `host`: where to listen (default loopback; e2e listens on the node IP for pods). */
export async function startOpenAIServer(script: ScriptStep[], host = '127.0.0.1'): Promise<OpenAIServer> {
  const queue = [...script];
  const requests: ChatRequestBody[] = [];
  const authorizations: (string | undefined)[] = [];
  let n = 0;
  const server = createServer(async (req, res) => {
    const send = (status: number, payload: unknown) => {
      res.writeHead(status, { 'content-type': 'application/json', 'x-request-id': `req_${n}` });
      res.end(JSON.stringify(payload));
    };
    if (req.method !== 'POST' || !req.url?.endsWith('/chat/completions')) {
      send(404, {
        error: { message: `no route ${req.method} ${req.url}`, type: 'invalid_request_error', code: null },
      });
      return;
    }
    const parsed = JSON.parse(await body(req)) as ChatRequestBody;
    requests.push(parsed);
    authorizations.push(req.headers.authorization);
    n++;
    const step = queue.shift();
    if (!step) {
      // 400 is not retried: a test whose agent asks more than scripted fails fast and clearly.
      send(400, {
        error: { message: 'script exhausted', type: 'invalid_request_error', code: 'script_exhausted' },
      });
      return;
    }
    if ('status' in step) {
      res.setHeader('retry-after-ms', '10');
      send(step.status, {
        error: {
          message: step.message ?? `scripted ${step.status}`,
          type: step.type ?? 'server_error',
          code: step.code ?? null,
        },
      });
      return;
    }
    const reply = typeof step === 'function' ? step(parsed) : step;
    const toolCalls = (reply.toolCalls ?? []).map((c, i) => ({
      id: `call_${n}_${i}`,
      type: 'function' as const,
      function: {
        name: c.name,
        arguments: typeof c.arguments === 'string' ? c.arguments : JSON.stringify(c.arguments),
      },
    }));
    const promptTokens = reply.usage?.prompt_tokens ?? Math.ceil(JSON.stringify(parsed.messages).length / 4);
    const completionTokens = reply.usage?.completion_tokens ?? Math.ceil(JSON.stringify(reply).length / 4);
    send(200, {
      id: `chatcmpl-${n}`,
      object: 'chat.completion',
      created: Math.floor(Date.now() / 1000),
      model: parsed.model,
      system_fingerprint: 'fp_scripted',
      choices: [
        {
          index: 0,
          message: {
            role: 'assistant',
            content: reply.content ?? null,
            refusal: null,
            ...(toolCalls.length ? { tool_calls: toolCalls } : {}),
          },
          logprobs: null,
          finish_reason: toolCalls.length ? 'tool_calls' : 'stop',
        },
      ],
      ...(reply.noUsage
        ? {}
        : {
            usage: {
              prompt_tokens: promptTokens,
              completion_tokens: completionTokens,
              total_tokens: promptTokens + completionTokens,
            },
          }),
    });
  });
  await new Promise<void>((resolve) => server.listen(0, host, resolve));
  const { port } = server.address() as AddressInfo;
  return {
    baseURL: `http://${host}:${port}/v1`,
    requests,
    authorizations,
    remaining: () => queue.length,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
