import { spawnSync } from 'node:child_process';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import {
  Controller,
  createLogger,
  type Kube,
  OperatorMetrics,
  type ReconcileResult,
  serveHealth,
  TerminalError,
} from '../kube/index.ts';
import { LlmGateway } from '../llm/gateway.ts';
import { mintGatewayToken } from '../llm/gateway-token.ts';
import { GatewayBackend } from './gateway-backend.ts';
import { instanceCounts, PipelineMetrics } from './pipeline-metrics.ts';
import type { RawObject } from './resources.ts';

/** JSON log lines written to memory. */
function memoryLog() {
  const lines: Record<string, unknown>[] = [];
  const log = createLogger({
    level: 'debug',
    destination: { write: (s: string) => void lines.push(JSON.parse(s)) },
  });
  return { log, lines };
}

async function until(what: string, check: () => boolean | Promise<boolean>, ms = 10_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

/** `promtool check metrics` on a scrape; a missing promtool fails (never skips) the test. */
function promtool(text: string): { status: number | null; output: string } {
  const r = spawnSync('promtool', ['check', 'metrics'], { input: text, encoding: 'utf8' });
  if (r.error)
    throw new Error(
      `promtool is required for this test (Debian: apt-get install prometheus; scripts/test.sh installs it): ${r.error.message}`,
    );
  return { status: r.status, output: `${r.stdout}${r.stderr}` };
}

const obj = (namespace: string, name: string, extra: Partial<RawObject> = {}): RawObject =>
  ({ metadata: { namespace, name }, ...extra }) as RawObject;

const closers: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const close of closers.splice(0).reverse()) await close();
});

describe('operator metrics', () => {
  it('a scrape after reconciles and pipeline events passes promtool and has controller-runtime names', async () => {
    const metrics = new OperatorMetrics({ defaultMetrics: true });
    const { log, lines } = memoryLog();

    // A reconcile of each kind: success, requeue_after, requeue (immediate), error then
    // success (retried), terminal error.
    const calls = new Map<string, number>();
    const reconcile = async (key: string): Promise<ReconcileResult | undefined> => {
      const n = (calls.get(key) ?? 0) + 1;
      calls.set(key, n);
      await new Promise((r) => setTimeout(r, 2));
      if (key === 'ns/later') return { requeueAfterMs: 60_000 };
      if (key === 'ns/now' && n === 1) return { requeueAfterMs: 0 };
      if (key === 'ns/flaky' && n === 1) throw new Error('conflict, try again');
      if (key === 'ns/bad') throw new TerminalError('InvalidSpec', 'spec.source is missing');
      return undefined;
    };
    const terminal: string[] = [];
    const controller = new Controller({
      name: 'sweinstance',
      reconcile: (key, l) => {
        l.info('reconciling');
        return reconcile(key);
      },
      onTerminal: async (key) => void terminal.push(key),
      queue: { concurrency: 3 },
      metrics,
      log,
    });
    closers.push(() => controller.stop());
    for (const key of ['ns/ok', 'ns/later', 'ns/now', 'ns/flaky', 'ns/bad']) controller.enqueue(key);
    controller.start();
    await until(
      'every reconcile',
      () =>
        calls.get('ns/now') === 2 &&
        calls.get('ns/flaky') === 2 &&
        controller.queue.inFlight === 0 &&
        controller.queue.depth === 0,
    );
    await until('the terminal error recorded', () => terminal.length === 1);

    // The pipeline's series, fed by their real producers where they are cheap to run.
    const pipeline = new PipelineMetrics(metrics);
    pipeline.stagesFinished([
      { stage: 'env', attempt: 1, outcome: 'succeeded', durationMs: 95_000 },
      { stage: 'tests', attempt: 1, outcome: 'rejected', durationMs: 40_000 },
      { stage: 'tests', attempt: 2, outcome: 'failed' }, // no duration known: not observed
    ]);
    pipeline.mined('team-a', 'widgets', 3);
    pipeline.mined('team-a', 'widgets', 2);
    const runs = [obj('team-a', 'widgets'), obj('team-b', 'empty')];
    const instances = [
      obj('team-a', 'widgets.acme.calc-1', { spec: { runRef: 'widgets' }, status: { phase: 'Verified' } }),
      obj('team-a', 'widgets.acme.calc-2', { spec: { runRef: 'widgets' }, status: { phase: 'Env' } }),
      obj('team-a', 'widgets.acme.calc-3', { spec: { runRef: 'widgets' } }),
    ] as RawObject[];
    pipeline.instancesGauge(
      () => runs,
      () => instances,
    );

    // Tokens: a chat completion through the real gateway, its exchange handed to the backend.
    const provider: Server = createServer((_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(
        JSON.stringify({
          id: 'chatcmpl-1',
          object: 'chat.completion',
          created: 1,
          model: 'm',
          choices: [{ index: 0, finish_reason: 'stop', message: { role: 'assistant', content: 'ok' } }],
          usage: { prompt_tokens: 30, completion_tokens: 10, total_tokens: 40 },
        }),
      );
    });
    await new Promise<void>((r) => provider.listen(0, '127.0.0.1', r));
    closers.push(() => void provider.close());
    // No API server: the trajectory write fails and is logged; the tokens are counted first.
    const noKube = {
      getConfigMap: () => Promise.reject(new Error('no API server in this test')),
    } as unknown as Kube;
    const backend = new GatewayBackend({
      kube: noKube,
      log: createLogger({ level: 'silent' }),
      metrics: pipeline,
    });
    const secret = Buffer.from('metrics-test');
    const gateway = new LlmGateway({
      secret,
      resolveProvider: async () => ({
        baseURL: `http://127.0.0.1:${(provider.address() as AddressInfo).port}/v1`,
        apiKey: undefined,
        model: 'm',
        requestsPerMinute: 10,
      }),
      onExchange: backend.onExchange,
    });
    const gatewayPort = await gateway.listen(0, '127.0.0.1');
    closers.push(() => gateway.close());
    const token = mintGatewayToken(secret, {
      namespace: 'team-a',
      instance: 'widgets.acme.calc-1',
      instanceId: 'acme__calc-1',
      stage: 'prompt',
      attempt: 1,
      budget: 1000,
      expiresAt: Date.now() + 60_000,
    });
    const reply = await fetch(`http://127.0.0.1:${gatewayPort}/v1/chat/completions`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'x', messages: [{ role: 'user', content: 'hi' }] }),
    });
    expect(reply.status).toBe(200);
    await backend.flush();

    // Scrape the endpoint the operator serves.
    const server = await serveHealth({
      port: 0,
      host: '127.0.0.1',
      registry: metrics.registry,
      healthy: () => true,
      ready: () => true,
    });
    closers.push(() => void server.close());
    const res = await fetch(`http://127.0.0.1:${(server.address() as AddressInfo).port}/metrics`);
    expect(res.status).toBe(200);
    const text = await res.text();

    const checked = promtool(text);
    expect(checked.output).toBe('');
    expect(checked.status).toBe(0);

    const value = (series: string) => {
      const line = text.split('\n').find((l) => l.startsWith(`${series} `));
      return line === undefined ? undefined : Number(line.slice(series.length + 1));
    };
    const c = 'controller="sweinstance"';
    expect(value(`controller_runtime_reconcile_total{${c},result="success"}`)).toBe(3); // ok, now#2, flaky#2
    expect(value(`controller_runtime_reconcile_total{${c},result="requeue_after"}`)).toBe(1);
    expect(value(`controller_runtime_reconcile_total{${c},result="requeue"}`)).toBe(1);
    expect(value(`controller_runtime_reconcile_total{${c},result="error"}`)).toBe(2);
    expect(value(`controller_runtime_reconcile_errors_total{${c}}`)).toBe(2);
    expect(value(`controller_runtime_terminal_reconcile_errors_total{${c}}`)).toBe(1);
    expect(value(`controller_runtime_reconcile_time_seconds_count{${c}}`)).toBe(7);
    expect(value(`controller_runtime_max_concurrent_reconciles{${c}}`)).toBe(3);
    expect(value(`controller_runtime_active_workers{${c}}`)).toBe(0);
    const q = 'name="sweinstance",controller="sweinstance"';
    expect(value(`workqueue_depth{${q}}`)).toBe(0);
    expect(value(`workqueue_adds_total{${q}}`)).toBe(7); // 5 enqueued, now requeued, flaky retried
    expect(value(`workqueue_retries_total{${q}}`)).toBe(1);
    expect(value(`workqueue_queue_duration_seconds_count{${q}}`)).toBe(7);
    expect(value(`workqueue_work_duration_seconds_count{${q}}`)).toBe(7);
    expect(value(`workqueue_unfinished_work_seconds{${q}}`)).toBe(0);
    expect(value(`workqueue_longest_running_processor_seconds{${q}}`)).toBe(0);

    expect(value('scaleswe_stage_duration_seconds_count{stage="env",outcome="succeeded"}')).toBe(1);
    expect(value('scaleswe_stage_duration_seconds_sum{stage="env",outcome="succeeded"}')).toBe(95);
    expect(value('scaleswe_stage_duration_seconds_bucket{le="60",stage="tests",outcome="rejected"}')).toBe(1);
    expect(value('scaleswe_stage_duration_seconds_count{stage="tests",outcome="failed"}')).toBe(0);
    expect(value('scaleswe_llm_tokens_total{kind="prompt"}')).toBe(30);
    expect(value('scaleswe_llm_tokens_total{kind="completion"}')).toBe(10);
    expect(value('scaleswe_mined_prs_total{namespace="team-a",run="widgets"}')).toBe(5);
    expect(value('scaleswe_instances{namespace="team-a",run="widgets",phase="Verified"}')).toBe(1);
    expect(value('scaleswe_instances{namespace="team-a",run="widgets",phase="Pending"}')).toBe(1);
    expect(value('scaleswe_instances{namespace="team-b",run="empty",phase="Verified"}')).toBe(0);
    // Process metrics stay, without the gauges promtool rejects.
    expect(text).toMatch(/^process_resident_memory_bytes \d+/m);
    expect(text).toMatch(/^nodejs_active_handles\{type="\w+"\} \d+$/m);
    expect(text).not.toMatch(/^nodejs_active_handles_total/m);

    // Logs: string levels; every line of one reconcile shares its reconcileID, and each
    // reconcile has its own (the two runs of ns/flaky differ).
    expect(lines.length).toBeGreaterThan(0);
    expect(lines.every((l) => typeof l.level === 'string')).toBe(true);
    const reconciling = lines.filter((l) => l.msg === 'reconciling');
    expect(reconciling).toHaveLength(7);
    expect(reconciling[0]).toMatchObject({ level: 'info', controller: 'sweinstance' });
    expect(reconciling.every((l) => typeof l.reconcileID === 'string')).toBe(true);
    const flaky = lines.filter((l) => l.key === 'ns/flaky');
    const failed = flaky.find((l) => l.msg === 'reconcile failed');
    expect(failed).toMatchObject({ level: 'warn' });
    const firstRun = flaky.filter((l) => l.reconcileID === failed?.reconcileID);
    expect(firstRun.map((l) => l.msg)).toEqual(['reconciling', 'reconcile failed']);
    expect(new Set(flaky.map((l) => l.reconcileID)).size).toBe(2);
    const bad = lines.filter((l) => l.key === 'ns/bad');
    expect(bad.map((l) => l.msg)).toEqual(['reconciling', 'terminal error; not retrying']);
    expect(new Set(bad.map((l) => l.reconcileID)).size).toBe(1);
  });

  it('the default process metrics alone pass promtool', async () => {
    const text = await new OperatorMetrics({ defaultMetrics: true }).registry.metrics();
    expect(text).toMatch(/^# TYPE nodejs_gc_duration_seconds histogram$/m);
    expect(promtool(text)).toEqual({ status: 0, output: '' });
  });

  it('counts instances per run and phase, zeros included, and forgets a deleted run', () => {
    const counts = instanceCounts([obj('a', 'r1')], [
      obj('a', 'r1.x-1', { spec: { runRef: 'r1' }, status: { phase: 'Rejected' } }),
      obj('b', 'r2.x-1', { spec: { runRef: 'r2' }, status: { phase: 'Rejected' } }),
      obj('b', 'stray', {}),
    ] as RawObject[]);
    const rejected = counts.filter(([l]) => l.phase === 'Rejected').map(([l, n]) => [l.namespace, l.run, n]);
    expect(rejected).toEqual([
      ['a', 'r1', 1],
      ['b', 'r2', 1],
    ]);
    expect(
      counts.filter(([l]) => l.run === 'r1').every(([l, n]) => n === (l.phase === 'Rejected' ? 1 : 0)),
    ).toBe(true);

    const metrics = new OperatorMetrics();
    const pipeline = new PipelineMetrics(metrics);
    pipeline.mined('a', 'r1', 2);
    pipeline.forgetRun('a', 'r1');
    return metrics.registry.metrics().then((text) => expect(text).not.toMatch(/run="r1"/));
  });
});
