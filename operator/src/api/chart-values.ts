import { z } from 'zod';
import { Resources } from './meta.ts';

/** Values of charts/scaleswe-operator; values.schema.json is generated from this. */
/** The restricted Pod Security Standard, the default of both security contexts. */
const POD_SECURITY_CONTEXT = {
  runAsNonRoot: true,
  runAsUser: 65532,
  runAsGroup: 65532,
  // Secret volumes (the gateway HMAC key, mode 0400) are root-owned without it.
  fsGroup: 65532,
  seccompProfile: { type: 'RuntimeDefault' },
};
const CONTAINER_SECURITY_CONTEXT = {
  allowPrivilegeEscalation: false,
  readOnlyRootFilesystem: true,
  capabilities: { drop: ['ALL'] },
};

export const ChartValues = z
  .object({
    global: z
      .looseObject({})
      .optional()
      .describe("Helm's values shared with a parent chart (accepted so the chart works as a subchart)"),
    image: z
      .object({
        repository: z.string().min(1).default('scaleswe/operator'),
        tag: z.string().min(1).default('0.1.0'),
        pullPolicy: z.enum(['Always', 'IfNotPresent', 'Never']).default('IfNotPresent'),
      })
      .strict()
      .prefault({}),
    imagePullSecrets: z
      .array(z.object({ name: z.string().min(1) }).strict())
      .default([])
      .describe('Secrets for pulling the operator image'),
    replicaCount: z
      .number()
      .int()
      .min(1)
      .max(10)
      .default(2)
      .describe('Replicas; one leads, the others stand by'),
    leaderElection: z
      .object({
        enabled: z.boolean().default(true),
        leaseDurationSeconds: z.number().int().min(5).max(300).default(15),
      })
      .strict()
      .prefault({}),
    watchNamespace: z
      .string()
      .default('')
      .describe('Namespace whose CurationRuns are reconciled; empty = the release namespace'),
    clusterScoped: z
      .boolean()
      .default(false)
      .describe('Watch every namespace (ClusterRole) instead of one namespace (Role)'),
    logLevel: z.enum(['trace', 'debug', 'info', 'warn', 'error']).default('info'),
    resources: Resources.describe("Requests and limits of the operator's container").default({
      requests: { cpu: '100m', memory: '256Mi' },
      limits: { cpu: '1', memory: '1Gi' },
    }),
    heapLimitMiB: z
      .number()
      .int()
      .min(64)
      .default(128)
      .describe(
        "The operator's V8 old-generation limit (NODE_OPTIONS=--max-old-space-size): V8 collects before its heap grows far past the live set, which is about 37 MiB plus 6 KiB per SWEInstance the operator watches (bench/README.md). Keep it under the memory limit; raise it beyond ~10,000 instances (the operator logs a warning when the live heap passes 80% of it)",
      ),
    metrics: z
      .object({
        port: z.number().int().min(1).max(65535).default(8080),
        serviceMonitor: z
          .object({
            enabled: z.boolean().default(false).describe('Create a Prometheus Operator ServiceMonitor'),
            interval: z.string().default('30s'),
            labels: z.record(z.string(), z.string()).default({}),
          })
          .strict()
          .prefault({}),
      })
      .strict()
      .prefault({}),
    gateway: z
      .object({
        port: z
          .number()
          .int()
          .min(0)
          .max(65535)
          .default(8081)
          .describe(
            'Port of the LLM gateway sandbox pods call (0 = off); its HMAC key is a generated Secret',
          ),
        url: z
          .string()
          .url()
          .optional()
          .describe(
            "The gateway's address as sandbox pods reach it; default: the operator Service's cluster IP (no DNS needed)",
          ),
      })
      .strict()
      .prefault({}),
    sandbox: z
      .object({
        denyCIDRs: z
          .array(z.string().regex(/^[0-9a-fA-F:.]+\/[0-9]{1,3}$/, 'must be a CIDR such as 10.0.0.0/8'))
          .default([])
          .describe(
            "Never reachable from sandbox pods, even with egress.allowAll: list the API server's endpoint IPs (its service IP is added by the operator)",
          ),
      })
      .strict()
      .prefault({}),
    environment: z
      .object({
        registry: z
          .string()
          .default('')
          .describe(
            'Default spec.environment.registry of runs that set none (host[:port]/repository); empty: no environment images unless a run names a registry',
          ),
        pushSecretName: z.string().default('').describe('Default spec.environment.pushSecretRef.name'),
        pullSecretName: z.string().default('').describe('Default spec.environment.pullSecretRef.name'),
        plainHTTP: z.boolean().default(false).describe('Default spec.environment.plainHTTP'),
      })
      .strict()
      .prefault({}),
    datasetStore: z
      .object({
        bucket: z
          .string()
          .default('')
          .describe(
            "S3 bucket for instances' test-id lists, patches and problem statements (SWEInstance status keeps counts, digest and key); empty: they stay in status (etcd)",
          ),
        endpoint: z.string().default('').describe('S3-compatible endpoint URL; empty: AWS S3 of the region'),
        region: z.string().default('us-east-1'),
        prefix: z.string().default('').describe('Key prefix in the bucket (several releases sharing one)'),
        forcePathStyle: z
          .boolean()
          .default(true)
          .describe('Bucket in the URL path, as most S3-compatible servers need'),
        credentialsSecretName: z
          .string()
          .default('')
          .describe(
            "Secret with keys AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY; empty: the SDK's default chain (the pod's cloud identity)",
          ),
        sweepIntervalSeconds: z
          .number()
          .min(0)
          .default(3600)
          .describe(
            'How often the leader removes the objects of deleted SWEInstances (an object goes once its instance was missing at two sweeps in a row); 0: never',
          ),
      })
      .strict()
      .prefault({}),
    crds: z
      .object({
        install: z.boolean().default(true),
        keep: z
          .boolean()
          .default(true)
          .describe('Annotate CRDs helm.sh/resource-policy: keep (data survives uninstall)'),
      })
      .strict()
      .prefault({}),
    nodeSelector: z.record(z.string(), z.string()).default({}),
    tolerations: z.array(z.looseObject({})).default([]),
    affinity: z
      .looseObject({})
      .default({})
      .describe('Pod affinity; empty = replicas prefer different nodes (soft anti-affinity)'),
    podAnnotations: z.record(z.string(), z.string()).default({}),
    podLabels: z.record(z.string(), z.string()).default({}),
    podSecurityContext: z
      .looseObject({})
      .default(POD_SECURITY_CONTEXT)
      .describe("The operator pod's securityContext (default: restricted)"),
    securityContext: z
      .looseObject({})
      .default(CONTAINER_SECURITY_CONTEXT)
      .describe("The operator container's securityContext (default: restricted)"),
    serviceAccount: z
      .object({
        create: z.boolean().default(true),
        name: z.string().default('').describe('Name to use; empty = the release fullname'),
        annotations: z
          .record(z.string(), z.string())
          .default({})
          .describe('E.g. a cloud workload identity binding'),
      })
      .strict()
      .prefault({}),
    podDisruptionBudget: z
      .object({
        enabled: z.boolean().default(true).describe('Created only when replicaCount > 1'),
        maxUnavailable: z.number().int().min(1).default(1),
      })
      .strict()
      .prefault({}),
  })
  .strict();
export type ChartValues = z.infer<typeof ChartValues>;
