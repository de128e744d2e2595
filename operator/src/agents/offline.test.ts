import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sh } from './exec.ts';
import { detectOfflineTool, offlineCommand } from './offline.ts';

// A server on the host's loopback stands for "the network": a test command must not reach
// it, yet must still be able to use loopback of its own (many suites start local servers).
const server = createServer((_req, res) => res.end('reached'));
let url = '';
beforeAll(async () => {
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/`;
});
afterAll(() => server.close());

const OWN_LOOPBACK =
  'python3 -c \'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); s.listen(); c=socket.socket(); c.connect(s.getsockname()); print("own loopback ok")\'';
const run = (cmd: string) => sh(cmd, { cwd: tmpdir(), timeoutMs: 20_000 });

describe('offline test commands', () => {
  it('finds a tool on this machine (bubblewrap is installed by scripts/test.sh)', async () => {
    expect(await detectOfflineTool(tmpdir())).not.toBe('none');
  });

  it.each(['bwrap', 'unshare'] as const)(
    '%s: the network is gone, loopback works, quoting survives',
    async (tool) => {
      const direct = await run(`curl -sS -m 5 ${url}`);
      expect(direct.output).toBe('reached');
      const cut = await run(offlineCommand(`curl -sS -m 5 ${url}`, tool));
      expect(cut.code).not.toBe(0);
      expect(cut.output).not.toContain('reached');
      const own = await run(offlineCommand(OWN_LOOPBACK, tool));
      expect(own.output.trim()).toBe('own loopback ok');
      const quoted = await run(offlineCommand(`echo "it's $((1 + 1))" && exit 3`, tool));
      expect(quoted).toMatchObject({ code: 3, output: "it's 2\n" });
    },
  );

  it("'none' leaves the command as it is", () => {
    expect(offlineCommand('pytest -x', 'none')).toBe('pytest -x');
  });
});
