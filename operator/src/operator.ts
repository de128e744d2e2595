// The `operator` command: node operator/src/operator.ts [options]
// Runs in-cluster (service account) or out-of-cluster (--kubeconfig / KUBECONFIG).
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { isIP } from 'node:net';
import { hostname } from 'node:os';
import { getHeapStatistics } from 'node:v8';
import { Command } from 'commander';
import { stageTimeoutSeconds } from './api/index.ts';
import { GatewayBackend } from './controller/gateway-backend.ts';
import { Manager, type ManagerOptions } from './controller/manager.ts';
import {
  createLogger,
  ENDPOINT_SLICES,
  Kube,
  type KubeObject,
  LeaderElector,
  OperatorMetrics,
  serveHealth,
  watchHeap,
} from './kube/index.ts';
import { LlmGateway } from './llm/gateway.ts';
import { mintGatewayToken } from './llm/gateway-token.ts';
import { parseOperatorFlags } from './operator-flags.ts';
import { remainingTokenBudget } from './pipeline/pipeline.ts';
import { S3Store } from './store/s3-store.ts';

const env = process.env;
const program = new Command('operator')
  .description('ScaleSWE operator: reconciles CurationRuns and SWEInstances')
  .option(
    '--kubeconfig <path>',
    'kubeconfig (default: KUBECONFIG, ~/.kube/config, in-cluster)',
    env.KUBECONFIG,
  )
  .option('--namespace <ns>', 'watch only this namespace (default: all)', env.WATCH_NAMESPACE || undefined)
  .option(
    '--leader-elect <bool>',
    'campaign for the leader Lease before reconciling',
    env.LEADER_ELECT ?? 'true',
  )
  .option('--leader-election-id <name>', 'name of the Lease', env.LEADER_ELECTION_ID ?? 'scaleswe-operator')
  .option(
    '--leader-election-namespace <ns>',
    'namespace of the Lease (default: POD_NAMESPACE, --namespace, or default)',
    env.POD_NAMESPACE,
  )
  .option('--lease-duration <seconds>', 'lease duration', env.LEASE_DURATION_SECONDS ?? '15')
  .option(
    '--renew-deadline <seconds>',
    'leader gives up after failing to renew this long',
    env.RENEW_DEADLINE_SECONDS,
  )
  .option('--retry-period <seconds>', 'lease retry period', env.RETRY_PERIOD_SECONDS ?? '2')
  .option(
    '--metrics-port <port>',
    'port of /healthz, /readyz, /metrics (0 = any)',
    env.METRICS_PORT ?? '8080',
  )
  .option('--instance-workers <n>', 'concurrent SWEInstance reconciles', env.INSTANCE_WORKERS ?? '8')
  .option('--run-workers <n>', 'concurrent CurationRun reconciles', env.RUN_WORKERS ?? '2')
  .option('--qps <n>', 'API requests per second (client-side limit)', env.KUBE_QPS ?? '50')
  .option('--burst <n>', 'API request burst', env.KUBE_BURST ?? '100')
  .option('--resync <seconds>', 'periodic resync of every cached object', env.RESYNC_SECONDS ?? '300')
  .option('--git-cache-dir <dir>', 'bare clones of git sources', env.GIT_CACHE_DIR)
  .option('--identity <id>', 'this replica in the Lease and in Events', env.POD_NAME)
  .option(
    '--gateway-url <url>',
    "the operator's LLM gateway as sandbox pods reach it",
    env.SCALESWE_GATEWAY_URL,
  )
  .option(
    '--gateway-service <name>',
    "without --gateway-url: sandbox pods reach the gateway at this Service's cluster IP (port named gateway), so clusters without DNS work too",
    env.SCALESWE_GATEWAY_SERVICE,
  )
  .option(
    '--gateway-secret-file <path>',
    'HMAC key signing per-pod gateway tokens (shared with the gateway)',
    env.SCALESWE_GATEWAY_SECRET_FILE,
  )
  .option(
    '--gateway-port <port>',
    'serve the LLM gateway on this port (needs --gateway-secret-file; 0 = off)',
    env.SCALESWE_GATEWAY_PORT ?? '8081',
  )
  .option(
    '--gateway-pod-selector <labels>',
    "labels of the operator's pods (k=v,...): sandbox NetworkPolicies allow egress to them",
    env.SCALESWE_GATEWAY_POD_SELECTOR,
  )
  .option(
    '--sandbox-deny-cidrs <cidrs>',
    'addresses sandbox pods never reach, even with allowAll (API server endpoints; comma-separated)',
    env.SCALESWE_SANDBOX_DENY_CIDRS,
  )
  .option(
    '--environment-registry <repository>',
    'environment images of runs that name no registry go here (chart value environment.registry)',
    env.SCALESWE_ENVIRONMENT_REGISTRY,
  )
  .option(
    '--environment-push-secret <name>',
    'their push Secret (dockerconfigjson)',
    env.SCALESWE_ENVIRONMENT_PUSH_SECRET,
  )
  .option('--environment-pull-secret <name>', 'their imagePullSecret', env.SCALESWE_ENVIRONMENT_PULL_SECRET)
  .option(
    '--environment-plain-http <bool>',
    'speak plain HTTP to that registry',
    env.SCALESWE_ENVIRONMENT_PLAIN_HTTP,
  )
  .option(
    '--store-bucket <name>',
    "dataset store: S3 bucket for instances' test-id lists, patches and statements (unset: they stay in status); credentials from AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY",
    env.SCALESWE_STORE_BUCKET,
  )
  .option('--store-endpoint <url>', 'its S3-compatible endpoint (unset: AWS S3)', env.SCALESWE_STORE_ENDPOINT)
  .option('--store-region <region>', 'its region', env.SCALESWE_STORE_REGION)
  .option('--store-prefix <prefix>', 'key prefix in the bucket', env.SCALESWE_STORE_PREFIX)
  .option(
    '--store-force-path-style <bool>',
    'bucket in the URL path (most S3-compatible servers)',
    env.SCALESWE_STORE_FORCE_PATH_STYLE,
  )
  .option(
    '--store-sweep-interval <seconds>',
    'how often the leader removes the dataset-store objects of deleted SWEInstances (0 = never; default 3600)',
    env.SCALESWE_STORE_SWEEP_INTERVAL,
  )
  .parse();

// Commander reads argv (and the env defaults); the zod schema types and checks the values.
const parsed = parseOperatorFlags(program.opts());
const opts = parsed.success
  ? parsed.flags
  : program.error(parsed.errors.join('\n'), { exitCode: 2, code: 'operator.invalidFlags' });

/** Sandbox pods get a signed token for the gateway, valid for their stage's deadline only. */
function gatewayFor(url: string, secretFile: string): NonNullable<ManagerOptions['gateway']> {
  const secret = readFileSync(secretFile);
  return {
    url,
    token: ({ run, instance, stage, attempt, budget }) =>
      mintGatewayToken(secret, {
        namespace: instance.metadata.namespace ?? '',
        instance: instance.metadata.name ?? '',
        instanceId: instance.spec.instanceId,
        stage,
        attempt,
        budget: budget ?? remainingTokenBudget(run.spec, instance.status),
        expiresAt: Date.now() + (stageTimeoutSeconds(run.spec.agents.timeouts, stage) + 300) * 1000,
      }),
  };
}
/** The API server (service IP in-cluster, the kubeconfig's host, its endpoints) plus --sandbox-deny-cidrs. */
function denyCIDRs(server: string, endpoints: string[], extra: string[]): string[] {
  const hosts = [
    env.KUBERNETES_SERVICE_HOST,
    URL.canParse(server) ? new URL(server).hostname : undefined,
    ...endpoints,
  ];
  const cidrs = [...hosts, ...extra]
    .map((h) => h?.trim().replace(/^\[|\]$/g, ''))
    .filter((h): h is string => !!h && (h.includes('/') || isIP(h) !== 0))
    .map((h) => (h.includes('/') ? h : `${h}/${isIP(h) === 6 ? 128 : 32}`));
  return [...new Set(cidrs)];
}
/**
 * The API server's own addresses, from the `kubernetes` Service's EndpointSlices: policy
 * engines match after kube-proxy's DNAT, so denying the service IP alone does not stop a pod.
 */
async function apiServerEndpoints(): Promise<string[]> {
  try {
    const slices = await kube.list<KubeObject & { endpoints?: { addresses?: string[] }[] }>(
      ENDPOINT_SLICES,
      'default',
      { labelSelector: 'kubernetes.io/service-name=kubernetes' },
    );
    return slices.items.flatMap((slice) => slice.endpoints?.flatMap((e) => e.addresses ?? []) ?? []);
  } catch (err) {
    log.warn(
      { err: String(err) },
      "cannot read the API server's endpoints: list them in --sandbox-deny-cidrs for allowAll runs",
    );
    return [];
  }
}
/** http://<cluster IP>:<port> of the operator's own Service: no DNS needed in the sandbox. */
async function gatewayServiceURL(name: string): Promise<string> {
  const namespace = env.POD_NAMESPACE || opts.namespace || 'default';
  const { clusterIP, port } = await kube.getServiceAddress(namespace, name, 'gateway');
  if (!clusterIP || !port)
    throw new Error(`--gateway-service ${namespace}/${name} has no cluster IP or no port named "gateway"`);
  return `http://${isIP(clusterIP) === 6 ? `[${clusterIP}]` : clusterIP}:${port}`;
}
const log = createLogger();
const identity = opts.identity || `${hostname()}-${process.pid}-${randomBytes(3).toString('hex')}`;
const metrics = new OperatorMetrics({ defaultMetrics: true });
const stopHeapWatch = watchHeap(log);
const kube = new Kube({
  ...(opts.kubeconfig && { kubeconfig: opts.kubeconfig }),
  qps: opts.qps,
  burst: opts.burst,
  onRequest: (verb, resource, code) => metrics.apiRequests.inc({ verb, resource, code: String(code) }),
});
const gatewayPort = opts.gatewayPort;
const podLabels = opts.gatewayPodSelector;
const gatewayUrl = opts.gatewayUrl || (opts.gatewayService && (await gatewayServiceURL(opts.gatewayService)));
const sandboxDenyCIDRs = denyCIDRs(kube.server, await apiServerEndpoints(), opts.sandboxDenyCidrs);
const datasetStore =
  opts.storeBucket === undefined
    ? undefined
    : new S3Store({
        bucket: opts.storeBucket,
        endpoint: opts.storeEndpoint,
        region: opts.storeRegion,
        prefix: opts.storePrefix,
        forcePathStyle: opts.storeForcePathStyle,
      });
if (datasetStore) log.info({ datasetStore: datasetStore.where }, 'dataset store');
const manager = new Manager({
  ...(datasetStore && { datasetStore, storeSweepMs: opts.storeSweepInterval * 1000 }),
  kube,
  ...(opts.namespace && { namespace: opts.namespace }),
  log,
  metrics,
  identity,
  runWorkers: opts.runWorkers,
  instanceWorkers: opts.instanceWorkers,
  resyncMs: opts.resync * 1000,
  ...(opts.gitCacheDir && { gitCacheDir: opts.gitCacheDir }),
  ...(gatewayUrl && opts.gatewaySecretFile && { gateway: gatewayFor(gatewayUrl, opts.gatewaySecretFile) }),
  sandboxNetwork: {
    ...(gatewayUrl && {
      gateway: {
        url: gatewayUrl,
        port: gatewayPort,
        ...(env.POD_NAMESPACE && { namespace: env.POD_NAMESPACE }),
        ...(podLabels && { podLabels }),
      },
    }),
    denyCIDRs: sandboxDenyCIDRs,
  },
  ...(opts.environmentRegistry && {
    environmentDefaults: {
      registry: opts.environmentRegistry,
      plainHTTP: opts.environmentPlainHttp,
      ...(opts.environmentPushSecret && { pushSecretRef: { name: opts.environmentPushSecret } }),
      ...(opts.environmentPullSecret && { pullSecretRef: { name: opts.environmentPullSecret } }),
    },
  }),
});

// Every replica serves the gateway (tokens are stateless); a standby resolves runs through the API.
const gatewayBackend = new GatewayBackend({
  kube,
  store: datasetStore,
  log,
  metrics: manager.pipelineMetrics,
  ctx: () => (manager.hasSynced() ? manager.ctx : undefined),
});
let gateway: LlmGateway | undefined;
if (gatewayPort > 0 && opts.gatewaySecretFile) {
  gateway = new LlmGateway({
    secret: readFileSync(opts.gatewaySecretFile),
    resolveProvider: gatewayBackend.resolveProvider,
    onExchange: gatewayBackend.onExchange,
  });
  const port = await gateway.listen(gatewayPort);
  log.info({ gatewayPort: port }, 'LLM gateway serving');
} else if (gatewayPort > 0) {
  log.warn('LLM gateway off: no --gateway-secret-file');
}

const elector = opts.leaderElect
  ? new LeaderElector({
      kube,
      namespace: opts.leaderElectionNamespace || opts.namespace || 'default',
      name: opts.leaderElectionId,
      identity,
      leaseDurationSeconds: opts.leaseDuration,
      renewDeadlineSeconds: opts.renewDeadline,
      retryPeriodSeconds: opts.retryPeriod,
      log,
    })
  : undefined;

let started = false;
let stopping = false;
const server = await serveHealth({
  port: opts.metricsPort,
  registry: metrics.registry,
  healthy: () => true,
  // A standby is ready (it serves and campaigns); a leader once its caches are synced.
  ready: () => !started || manager.hasSynced(),
});
const address = server.address();
log.info(
  {
    identity,
    server: kube.server,
    namespace: opts.namespace ?? '*',
    metricsPort: typeof address === 'object' ? address?.port : address,
    gatewayUrl,
    sandboxDenyCIDRs,
    heapLimitMiB: Math.round(getHeapStatistics().heap_size_limit / 2 ** 20),
  },
  'operator starting',
);

async function shutdown(signal: string, code: number): Promise<void> {
  if (stopping) return;
  stopping = true;
  log.info({ signal }, 'shutting down: finishing in-flight reconciles');
  const force = setTimeout(() => process.exit(code), 25_000);
  force.unref();
  await manager.stop().catch((err: unknown) => log.error({ err: String(err) }, 'stop failed'));
  await elector?.release();
  metrics.leader.set(0);
  server.close();
  stopHeapWatch();
  await gateway?.close();
  await gatewayBackend.flush();
  log.info('stopped');
  process.exit(code);
}
process.on('SIGTERM', () => void shutdown('SIGTERM', 0));
process.on('SIGINT', () => void shutdown('SIGINT', 0));

if (elector) {
  const leading = await elector.acquire(() => {
    // Another replica may already be reconciling: stop at once, never act as a second leader.
    metrics.leader.set(0);
    log.fatal('leadership lost; exiting');
    process.exit(1);
  });
  if (!leading) process.exit(0);
}
if (!stopping) {
  metrics.leader.set(1);
  started = true;
  await manager.start();
}
