import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ensurePackages } from './cluster.ts';
import { freePort, type ProcRecord, run, startDaemon, stopProcess, waitFor } from './lib.ts';

/**
 * A real OCI registry for tests: Debian's `docker-registry` (CNCF distribution v2), plain HTTP
 * on `host`, deletes enabled, storage in a temp dir, optionally behind htpasswd (bcrypt, from
 * apache2-utils). Installed by this setup when missing.
 */
export interface TestRegistry {
  /** host:port */
  host: string;
  stop(): Promise<void>;
}

export async function startRegistry(
  opts: { bindHost?: string; user?: { username: string; password: string } } = {},
): Promise<TestRegistry> {
  ensurePackages(['docker-registry', ...(opts.user ? ['apache2-utils'] : [])]);
  const bindHost = opts.bindHost ?? '127.0.0.1';
  const port = await freePort(bindHost);
  const dir = mkdtempSync(join(tmpdir(), 'scaleswe-registry-'));
  const auth = opts.user
    ? (() => {
        const file = join(dir, 'htpasswd');
        run('htpasswd', ['-Bbc', file, opts.user.username, opts.user.password]);
        return `auth:\n  htpasswd:\n    realm: scaleswe-test\n    path: ${file}\n`;
      })()
    : '';
  const config = join(dir, 'config.yml');
  writeFileSync(
    config,
    `version: 0.1
log:
  level: warn
storage:
  filesystem:
    rootdirectory: ${join(dir, 'data')}
  delete:
    enabled: true
http:
  addr: ${bindHost}:${port}
${auth}`,
  );
  const proc: ProcRecord = startDaemon(
    'registry',
    'docker-registry',
    ['serve', config],
    join(dir, 'registry.log'),
  );
  const host = `${bindHost}:${port}`;
  await waitFor(`registry on ${host}`, 30_000, async () => {
    const res = await fetch(`http://${host}/v2/`);
    return res.status === 200 || res.status === 401 ? true : undefined;
  });
  return {
    host,
    async stop() {
      await stopProcess(proc);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
