// A fixed-reply OpenAI-compatible provider for the operator's gateway to forward to (the real
// wire format; every request gets the same completion).
import { createServer, type IncomingHttpHeaders } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface ChatProvider {
  baseURL: string;
  /** What reached the provider, in order: headers and the parsed request body. */
  seen: Array<{ headers: IncomingHttpHeaders; body: { model: string; messages: unknown[] } }>;
  close(): Promise<void>;
}

export async function startChatProvider(reply: {
  content: string;
  usage: { prompt_tokens: number; completion_tokens: number };
}): Promise<ChatProvider> {
  const seen: ChatProvider['seen'] = [];
  const server = createServer(async (req, res) => {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    seen.push({ headers: req.headers, body: JSON.parse(Buffer.concat(chunks).toString('utf8')) });
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(
      JSON.stringify({
        id: 'chatcmpl-1',
        object: 'chat.completion',
        created: 0,
        model: 'provider-model',
        choices: [
          { index: 0, finish_reason: 'stop', message: { role: 'assistant', content: reply.content } },
        ],
        usage: { ...reply.usage, total_tokens: reply.usage.prompt_tokens + reply.usage.completion_tokens },
      }),
    );
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    baseURL: `http://127.0.0.1:${(server.address() as AddressInfo).port}/v1`,
    seen,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}
