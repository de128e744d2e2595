import { connect, createServer, type Server } from 'node:net';

/**
 * Names the Unix socket of the run's LLM gateway in a local stage sandbox. The sandbox's
 * network cannot reach the host's loopback (local/setup-network.ts), so the agent runner
 * serves the gateway's loopback address inside the sandbox and relays it to the socket,
 * which is bound into the sandbox. Stage inputs keep the gateway's http://127.0.0.1:PORT URL.
 */
export const LLM_SOCKET_ENV = 'SCALESWE_LLM_SOCKET';

/** The loopback port of an http://127.0.0.1:PORT/… URL, else undefined (pure). */
export function loopbackPort(baseURL: string): number | undefined {
  let url: URL;
  try {
    url = new URL(baseURL);
  } catch {
    return undefined;
  }
  if (url.protocol !== 'http:' || !['127.0.0.1', 'localhost', '[::1]'].includes(url.hostname))
    return undefined;
  return url.port ? Number(url.port) : 80;
}

/**
 * Listens on 127.0.0.1:`port` (of this process's network namespace) and pipes each
 * connection to the Unix socket `socketPath`. Unref'd: it never keeps the runner alive.
 */
export async function relayLoopbackToSocket(port: number, socketPath: string): Promise<Server> {
  const server = createServer((client) => {
    const upstream = connect(socketPath);
    client.pipe(upstream).pipe(client);
    const close = () => {
      client.destroy();
      upstream.destroy();
    };
    client.on('error', close);
    upstream.on('error', close);
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => resolve());
  });
  server.unref();
  return server;
}
