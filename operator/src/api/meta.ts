import { z } from 'zod';

export const GROUP = 'scaleswe.dev';
export const VERSION = 'v1alpha1';
export const API_VERSION = `${GROUP}/${VERSION}`;

// The REST resources our CRDs serve, in the shape of kube/'s GroupResource: API facts, so the
// controller, the CLI and the CRD generator share them without importing each other.
export const CURATIONRUNS = {
  group: GROUP,
  version: VERSION,
  plural: 'curationruns',
  kind: 'CurationRun',
} as const;
export const CAMPAIGNS = {
  group: GROUP,
  version: VERSION,
  plural: 'campaigns',
  kind: 'Campaign',
} as const;
export const SWEINSTANCES = {
  group: GROUP,
  version: VERSION,
  plural: 'sweinstances',
  kind: 'SWEInstance',
} as const;
export const EVALUATIONS = {
  group: GROUP,
  version: VERSION,
  plural: 'evaluations',
  kind: 'Evaluation',
} as const;

/** Kubernetes object metadata as the API server returns it; only what we read is typed. */
/** metadata.ownerReferences[] as the API defines it (a plain shape, for builders and kube/ alike). */
export interface OwnerReference {
  apiVersion: string;
  kind: string;
  name: string;
  uid: string;
  controller?: boolean;
  blockOwnerDeletion?: boolean;
}

/** status.observedGeneration, as every Kubernetes status carries it. */
export const ObservedGeneration = z
  .number()
  .int()
  .min(0)
  .optional()
  .describe('metadata.generation of the spec this status was computed from');

export const ObjectMeta = z
  .object({
    name: z.string().optional(),
    generateName: z.string().optional(),
    namespace: z.string().optional(),
    uid: z.string().optional(),
    resourceVersion: z.string().optional(),
    generation: z.number().int().optional(),
    creationTimestamp: z.union([z.string(), z.date()]).optional(),
    deletionTimestamp: z.union([z.string(), z.date()]).optional(),
    labels: z.record(z.string(), z.string()).optional(),
    annotations: z.record(z.string(), z.string()).optional(),
    ownerReferences: z
      .array(z.looseObject({ kind: z.string(), name: z.string(), uid: z.string() }))
      .optional(),
    finalizers: z.array(z.string()).optional(),
  })
  .loose();
export type ObjectMeta = z.infer<typeof ObjectMeta>;

/** Reference to one key of a Secret in the object's namespace. */
export const SecretKeyRef = z
  .object({
    name: z.string().min(1).describe('Secret name, in the namespace of the object'),
    key: z.string().min(1).describe('Key inside the Secret'),
  })
  .strict();
export type SecretKeyRef = z.infer<typeof SecretKeyRef>;

/** Kubernetes resource quantity, e.g. "500m", "2Gi". */
/** resource.Quantity's grammar (suffixes binary Ki…Ei, decimal n…E, or an exponent). */
const QUANTITY =
  /^(\+|-)?(([0-9]+(\.[0-9]*)?)|(\.[0-9]+))(([KMGTPE]i)|[numkMGTPE]|([eE](\+|-)?(([0-9]+(\.[0-9]*)?)|(\.[0-9]+))))?$/;

/** A Kubernetes quantity as users write it: `2`, `500m`, `2Gi`, `1Pi`, `1e3` (int-or-string, as in core/v1). */
export const Quantity = z
  .union([
    z.number().int().nonnegative(),
    z.string().regex(QUANTITY, 'must be a Kubernetes quantity such as 2, 500m or 2Gi'),
  ])
  .meta({ 'x-kubernetes-int-or-string': true });

export const ResourceList = z
  .object({
    cpu: Quantity.optional().describe('CPU cores, e.g. 500m or 2'),
    memory: Quantity.optional().describe('Memory in bytes, e.g. 512Mi or 4Gi'),
    'ephemeral-storage': Quantity.optional().describe('Local scratch disk in bytes, e.g. 20Gi'),
  })
  .strict();

export const Resources = z
  .object({
    requests: ResourceList.optional().describe('What the scheduler reserves for the container'),
    limits: ResourceList.optional().describe(
      'The most the container may use; past the memory limit it is OOMKilled',
    ),
  })
  .strict()
  .describe('Requests and limits of a container');
export type Resources = z.infer<typeof Resources>;

/**
 * A cross-field rule declared once: the CEL expression the API server enforces at
 * `kubectl apply`, and the same predicate in TypeScript for manifests validated locally
 * (CLI, examples). `field` names where the message points.
 */
export interface CrossFieldRule<T> {
  cel: string;
  message: string;
  field: string;
  check: (value: T) => boolean;
}

export function withRules<S extends z.ZodType>(schema: S, rules: CrossFieldRule<z.output<S>>[]): S {
  const refined = schema.superRefine((value, ctx) => {
    for (const rule of rules) {
      if (!rule.check(value))
        ctx.addIssue({ code: 'custom', message: rule.message, path: rule.field.split('.') });
    }
  }) as unknown as S;
  return refined.meta({
    'x-kubernetes-validations': rules.map((r) => ({
      rule: r.cel,
      message: r.message,
      fieldPath: `.${r.field}`,
    })),
  }) as S;
}

// The API server's name rules (k8s.io/apimachinery util/validation), with its own messages, so
// the CLI refuses what `kubectl apply` would: a name is also a path segment of the local state.
const DNS1123_LABEL = '[a-z0-9]([-a-z0-9]*[a-z0-9])?';
const DNS1123_SUBDOMAIN = new RegExp(`^${DNS1123_LABEL}(\\.${DNS1123_LABEL})*$`);
const DNS1123_SUBDOMAIN_MAX = 253;

/** The API server's errors for `name` as an object name (NameIsDNSSubdomain); [] when valid. */
export function dnsSubdomainNameErrors(name: string): string[] {
  const errors: string[] = [];
  if (name.length > DNS1123_SUBDOMAIN_MAX)
    errors.push(`must be no more than ${DNS1123_SUBDOMAIN_MAX} characters`);
  if (!DNS1123_SUBDOMAIN.test(name))
    errors.push(
      `a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '${DNS1123_LABEL}(\\.${DNS1123_LABEL})*')`,
    );
  return errors;
}

/** `metadata.name: Invalid value: "<name>": <reason>` lines, as the API server words them. */
export function objectNameErrors(name: string): string[] {
  return dnsSubdomainNameErrors(name).map(
    (e) => `metadata.name: Invalid value: ${JSON.stringify(name)}: ${e}`,
  );
}
