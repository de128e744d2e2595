// A real S3-compatible server for the dataset store tests: gofakes3 (MIT), built from the Go
// module proxy by test/store/build-s3-server.sh (cached in ~/.cache/scaleswe), run as a child
// process with its persistent bolt backend, so a test can stop it (the store unreachable) and
// start it again on the same port with every object still there.
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from './free-port.ts';

const ROOT = join(import.meta.dirname, '../..');
const VERSION = 'v1.2.0';

/** The server binary; builds it when missing and fails loudly when it cannot. */
export function s3ServerBinary(): string {
  const build = spawnSync('bash', [join(ROOT, 'test/store/build-s3-server.sh')], {
    encoding: 'utf8',
    env: { ...process.env, GOFAKES3_VERSION: VERSION },
  });
  if (build.status !== 0)
    throw new Error(
      `cannot build the S3 test server (gofakes3 ${VERSION}):\n${build.stdout}\n${build.stderr}`,
    );
  const cache = process.env.SCALESWE_CACHE ?? join(process.env.HOME ?? '/root', '.cache/scaleswe');
  return join(cache, `gofakes3-${VERSION}/bin/gofakes3`);
}

/** gofakes3 accepts any key; the client still signs with one (never a real credential). */
export const S3_TEST_CREDENTIALS = { accessKeyId: 'test-access-key', secretAccessKey: 'test-secret-key' };

export interface S3Server {
  endpoint: string;
  bucket: string;
  /** An S3StoreConfig for this server. */
  config: { endpoint: string; bucket: string; credentials: typeof S3_TEST_CREDENTIALS };
  /** Stops the process (SIGKILL): the store is unreachable until start(). */
  stop(): Promise<void>;
  /** Starts it again on the same port and database. */
  start(): Promise<void>;
}

export async function startS3Server(bucket = 'scaleswe-dataset'): Promise<S3Server> {
  const bin = s3ServerBinary();
  const dir = mkdtempSync(join(tmpdir(), 's3-server-'));
  const port = await freePort();
  const endpoint = `http://127.0.0.1:${port}`;
  let proc: ChildProcess | undefined;
  let stderr = '';
  const start = async () => {
    proc = spawn(
      bin,
      [
        '-backend',
        'bolt',
        '-bolt.db',
        join(dir, 's3.db'),
        '-host',
        `127.0.0.1:${port}`,
        '-initialbucket',
        bucket,
        '-quiet',
      ],
      { stdio: ['ignore', 'ignore', 'pipe'] },
    );
    proc.stderr?.on('data', (c: Buffer) => {
      stderr += c.toString();
    });
    const exited = new Promise<never>((_, reject) =>
      proc?.once('exit', (code) => reject(new Error(`gofakes3 exited (${code}): ${stderr.slice(-2000)}`))),
    );
    // Up when it answers HTTP (a liveness bound, not a speed bound).
    const up = (async () => {
      for (let i = 0; i < 600; i++) {
        try {
          await fetch(`${endpoint}/${bucket}`);
          return;
        } catch {
          await new Promise((r) => setTimeout(r, 100));
        }
      }
      throw new Error(`gofakes3 on ${endpoint} did not answer: ${stderr.slice(-2000)}`);
    })();
    await Promise.race([up, exited]);
    exited.catch(() => {});
  };
  const stop = async () => {
    const p = proc;
    proc = undefined;
    if (!p || p.exitCode !== null) return;
    const gone = new Promise((r) => p.once('exit', r));
    p.kill('SIGKILL');
    await gone;
  };
  await start();
  return { endpoint, bucket, config: { endpoint, bucket, credentials: S3_TEST_CREDENTIALS }, stop, start };
}
