// An HTTP proxy in front of a real server that runs a hook after the server has answered a
// matching request and before the answer is passed on: e.g. SIGKILL the client between the
// server's write and the client learning of it (the crash window of a two-step write).
import { createServer, request, type Server } from 'node:http';

export interface KillProxy {
  endpoint: string;
  close(): Promise<void>;
}

export async function startKillProxy(
  target: string,
  /** Called once per answered request; when it returns a promise, the answer waits for it. */
  afterAnswer: (req: { method: string; url: string; status: number }) => Promise<void> | undefined,
): Promise<KillProxy> {
  const to = new URL(target);
  const server: Server = createServer((req, res) => {
    const upstream = request(
      { host: to.hostname, port: to.port, method: req.method, path: req.url, headers: req.headers },
      (answer) => {
        const chunks: Buffer[] = [];
        answer.on('data', (c: Buffer) => chunks.push(c));
        answer.on('end', async () => {
          await afterAnswer({ method: req.method ?? '', url: req.url ?? '', status: answer.statusCode ?? 0 });
          if (res.destroyed) return;
          res.writeHead(answer.statusCode ?? 502, answer.headers);
          res.end(Buffer.concat(chunks));
        });
      },
    );
    upstream.on('error', () => res.destroy());
    req.pipe(upstream);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  return {
    endpoint: `http://127.0.0.1:${port}`,
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
