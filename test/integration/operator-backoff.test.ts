// A CurationRun whose git source cannot be reached must back off, not hot-loop: its own status
// writes do not wake it, its status message is the same on every attempt (so retries write
// nothing), a Warning Event names the reason, the retry interval grows as the log says, and
// no temporary clone is left behind. Bounds are on counts over a window, never on latency:
// a loaded machine only makes the counts smaller.
import { createHash } from 'node:crypto';
import { existsSync, readdirSync } from 'node:fs';
import { createServer } from 'node:net';
import { describe, expect, it } from 'vitest';
import type { CurationRun } from '../../operator/src/api/index.ts';
import { CURATIONRUNS } from '../../operator/src/api/index.ts';
import {
  collectionPath,
  createLogger,
  EVENTS,
  Informer,
  Kube,
  type KubeObject,
  WORK_QUEUE_DEFAULTS,
} from '../../operator/src/kube/index.ts';
import { GIT_CACHE_DIR, useOperators } from './operator-harness.ts';
import { cluster, poll, useTestNamespace } from './support.ts';

const ns = useTestNamespace('backoff');
const operator = useOperators();

const WINDOW_MS = 20_000;
/** The controller's first retry delay doubles per failure: at most this many attempts fit a window. */
const maxAttempts = (windowMs: number) =>
  Math.floor(Math.log2(windowMs / WORK_QUEUE_DEFAULTS.baseDelayMs + 1)) + 1;

async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}

type Run = CurationRun & { metadata: { name: string } };
type Event = KubeObject & {
  type: string;
  reason: string;
  note: string;
  regarding: { kind: string; name: string };
};

describe('a failing source', () => {
  it('backs off: few reconciles and status writes over a window, a Warning Event, no temp clone left', async () => {
    const { name: namespace } = ns();
    const kube = new Kube({ kubeconfig: cluster().kubeconfig });
    const url = `http://127.0.0.1:${await closedPort()}/acme/widgets.git`;
    const op = operator(namespace, 'op-backoff');
    await op.waitForLog((l) => l.msg === 'became leader');

    // Every write to the run, seen through a watch.
    const writes: string[] = [];
    const watch = new Informer<KubeObject>({
      name: 'runs',
      kube,
      path: collectionPath(CURATIONRUNS, namespace),
      list: () => kube.list(CURATIONRUNS, namespace),
      log: createLogger({ level: 'silent', name: 'test' }),
    });
    watch.onEvent((obj, event) => {
      if (event === 'update') writes.push(obj.metadata.resourceVersion ?? '');
    });
    await watch.start();
    await watch.waitForSync();
    try {
      await kube.create(CURATIONRUNS, namespace, {
        apiVersion: 'scaleswe.dev/v1alpha1',
        kind: 'CurationRun',
        metadata: { name: 'unreachable' },
        spec: { source: { git: { url, repo: 'acme/widgets' } }, limits: { maxPRs: 2, maxParallel: 1 } },
      });
      const k = `${namespace}/unreachable`;
      const failures = () => op.logs.filter((l) => l.msg === 'reconcile failed' && l.key === k);
      await poll('the first failed reconcile', 60_000, async () =>
        failures().length > 0 ? true : undefined,
      );
      await new Promise((r) => setTimeout(r, WINDOW_MS));
      const failed = failures();
      const statusWrites = writes.length;
      process.stderr.write(
        `[backoff] ${WINDOW_MS / 1000} s: ${failed.length} failed reconciles, ${statusWrites} status writes, ` +
          `retries in ${failed.map((l) => l.retryInMs).join(', ')} ms\n`,
      );

      // A hot loop makes one status write per attempt, dozens in the window.
      expect(statusWrites).toBeGreaterThanOrEqual(1);
      expect(statusWrites).toBeLessThanOrEqual(3);
      expect(failed.length).toBeGreaterThanOrEqual(2);
      expect(failed.length).toBeLessThanOrEqual(maxAttempts(WINDOW_MS) + 1);
      // The announced interval grows with every failure.
      const delays = failed.map((l) => Number(l.retryInMs));
      for (let i = 1; i < delays.length; i++) expect(delays[i]).toBeGreaterThan(delays[i - 1]!);

      const run = await kube.get<Run>(CURATIONRUNS, namespace, 'unreachable');
      const ready = run.status?.conditions?.find((c) => c.type === 'Ready');
      expect(ready).toMatchObject({ status: 'False', reason: 'SourceError' });
      expect(ready?.message).toContain(`git clone ${url} failed`);
      expect(ready?.message).not.toContain(GIT_CACHE_DIR);
      expect(ready?.message).not.toMatch(/\.tmp\b/);

      const warnings = await poll('a Warning Event', 30_000, async () => {
        const events = (await kube.list<Event>(EVENTS, namespace)).items.filter(
          (e) => e.type === 'Warning' && e.regarding.kind === 'CurationRun',
        );
        return events.length > 0 ? events : undefined;
      });
      expect(warnings).toHaveLength(1);
      expect(warnings[0]).toMatchObject({ reason: 'SourceError', regarding: { name: 'unreachable' } });
      expect(warnings[0]?.note).toBe(ready?.message);

      // No clone of this URL, finished or temporary, is left in the operator's cache.
      const prefix = createHash('sha256').update(url).digest('hex').slice(0, 16);
      const left = existsSync(GIT_CACHE_DIR)
        ? readdirSync(GIT_CACHE_DIR).filter((f) => f.startsWith(prefix))
        : [];
      expect(left).toEqual([]);
    } finally {
      await watch.stop();
    }
  });
});
