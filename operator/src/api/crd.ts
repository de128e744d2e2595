import { z } from 'zod';
import { CampaignSpec, CampaignStatus } from './campaign.ts';
import { CurationRunSpec, CurationRunStatus } from './curation-run.ts';
import { EvaluationSpec, EvaluationStatus } from './evaluation.ts';
import { CAMPAIGNS, CURATIONRUNS, EVALUATIONS, GROUP, SWEINSTANCES, VERSION } from './meta.ts';
import { SWEInstanceSpec, SWEInstanceStatus } from './swe-instance.ts';

type JsonSchema = { [key: string]: unknown };

const SAFE_INT_BOUNDS = new Set([Number.MAX_SAFE_INTEGER, -Number.MAX_SAFE_INTEGER]);

/**
 * Turns zod's OpenAPI 3.0 output into a structural schema the API server accepts:
 * no `additionalProperties: false` (only allowed as a map schema), no unions, no zod's
 * safe-integer bounds, no date-time regex (the format says it).
 */
export function toStructural(node: unknown, path = '$'): unknown {
  if (Array.isArray(node)) return node.map((n, i) => toStructural(n, `${path}[${i}]`));
  if (node === null || typeof node !== 'object') return node;
  const input = node as JsonSchema;
  // The one union a structural schema allows: int-or-string (as resource.Quantity is published).
  if (input['x-kubernetes-int-or-string'] === true) return intOrString(input);
  for (const banned of ['anyOf', 'oneOf', 'allOf', 'not', '$ref']) {
    if (banned in input)
      throw new Error(`${path}: ${banned} is not structural; restate the schema without it`);
  }
  const out: JsonSchema = {};
  for (const [key, value] of Object.entries(input)) {
    if (key === '$schema' || key === 'id') continue;
    if (key === 'additionalProperties' && value === false) continue;
    if ((key === 'minimum' || key === 'maximum') && SAFE_INT_BOUNDS.has(value as number)) continue;
    if (key === 'pattern' && input.format === 'date-time') continue;
    // Literal data, not schemas: keep verbatim.
    if (key === 'default' || key === 'enum' || key === 'x-kubernetes-validations' || key === 'required') {
      out[key] = value;
      continue;
    }
    if (key === 'properties') {
      out[key] = Object.fromEntries(
        Object.entries(value as JsonSchema).map(([k, v]) => [k, toStructural(v, `${path}.${k}`)]),
      );
      continue;
    }
    out[key] = toStructural(value, `${path}.${key}`);
  }
  return out;
}

function intOrString(input: JsonSchema): JsonSchema {
  const branches = (input.anyOf ?? []) as JsonSchema[];
  const pattern = branches.find((b) => b.type === 'string')?.pattern;
  return {
    ...(input.description !== undefined && { description: input.description }),
    anyOf: [{ type: 'integer' }, { type: 'string' }],
    ...(pattern !== undefined && { pattern }),
    'x-kubernetes-int-or-string': true,
  };
}

/**
 * An object default of `{}` (zod's prefault) is stored as written, and the API server
 * checks the object's CEL rules against it WITHOUT applying the nested defaults, so a rule
 * such as `self.maxParallel <= self.maxPRs` fails on `{}`. Spell out the nested defaults.
 */
export function expandObjectDefaults(node: unknown): unknown {
  if (Array.isArray(node)) return node.map(expandObjectDefaults);
  if (node === null || typeof node !== 'object') return node;
  const input = node as JsonSchema;
  const out: JsonSchema = {};
  for (const [key, value] of Object.entries(input)) {
    out[key] = key === 'default' || key === 'enum' ? value : expandObjectDefaults(value);
  }
  const props = out.properties as Record<string, JsonSchema> | undefined;
  if (props && out.default !== null && typeof out.default === 'object' && !Array.isArray(out.default)) {
    const filled: JsonSchema = { ...(out.default as JsonSchema) };
    for (const [name, prop] of Object.entries(props)) {
      if (!(name in filled) && prop.default !== undefined) filled[name] = prop.default;
    }
    out.default = filled;
  }
  return out;
}

/**
 * `kubectl explain` prints a field's description and enum, never its default: append a scalar
 * default to the description, so the one place a default is written stays the schema's.
 * A field without a description is left without one (the descriptions test names it).
 */
function describeDefaults(node: unknown): unknown {
  if (Array.isArray(node)) return node.map(describeDefaults);
  if (node === null || typeof node !== 'object') return node;
  const input = node as JsonSchema;
  const out: JsonSchema = {};
  for (const [key, value] of Object.entries(input)) {
    out[key] = LITERAL_KEYS.has(key) ? value : describeDefaults(value);
  }
  const value = out.default;
  const scalar =
    typeof value === 'number' || typeof value === 'boolean' || (typeof value === 'string' && value !== '');
  if (scalar && typeof out.description === 'string' && out.description !== '')
    out.description = `${out.description}; default ${value}`;
  return out;
}

const LITERAL_KEYS = new Set(['default', 'enum', 'x-kubernetes-validations', 'required']);

export function openApiSchema(schema: z.ZodType, io: 'input' | 'output' = 'input'): JsonSchema {
  return expandObjectDefaults(
    toStructural(z.toJSONSchema(schema, { target: 'openapi-3.0', io, unrepresentable: 'throw' })),
  ) as JsonSchema;
}

interface PrinterColumn {
  name: string;
  type: 'string' | 'integer' | 'date' | 'number' | 'boolean';
  jsonPath: string;
  description?: string;
  priority?: number;
}

interface CrdInput {
  kind: string;
  plural: string;
  shortNames: string[];
  spec: z.ZodType;
  status: z.ZodType;
  columns: PrinterColumn[];
  description: string;
}

export function buildCrd(input: CrdInput): JsonSchema {
  const singular = input.kind.toLowerCase();
  return {
    apiVersion: 'apiextensions.k8s.io/v1',
    kind: 'CustomResourceDefinition',
    metadata: { name: `${input.plural}.${GROUP}` },
    spec: {
      group: GROUP,
      names: {
        kind: input.kind,
        listKind: `${input.kind}List`,
        plural: input.plural,
        singular,
        shortNames: input.shortNames,
        categories: ['scaleswe'],
      },
      scope: 'Namespaced',
      versions: [
        {
          name: VERSION,
          served: true,
          storage: true,
          subresources: { status: {} },
          additionalPrinterColumns: input.columns,
          schema: {
            openAPIV3Schema: {
              description: input.description,
              type: 'object',
              required: ['spec'],
              properties: {
                apiVersion: { type: 'string' },
                kind: { type: 'string' },
                metadata: { type: 'object' },
                // What users write: kubectl explain shows them the defaults too.
                spec: describeDefaults(openApiSchema(input.spec, 'input')) as JsonSchema,
                // Status is written by the operator with every field explicit.
                status: openApiSchema(input.status, 'output'),
              },
            },
          },
        },
      ],
    },
  };
}

const age: PrinterColumn = { name: 'Age', type: 'date', jsonPath: '.metadata.creationTimestamp' };

export function curationRunCrd(): JsonSchema {
  return buildCrd({
    kind: CURATIONRUNS.kind,
    plural: CURATIONRUNS.plural,
    // Not `cr`: cert-manager's CertificateRequest has it.
    shortNames: ['crun'],
    description:
      'Mines merged pull requests of a repository and curates verified SWE task instances from them.',
    spec: CurationRunSpec,
    status: CurationRunStatus,
    columns: [
      { name: 'Phase', type: 'string', jsonPath: '.status.phase' },
      {
        name: 'Progress',
        type: 'string',
        jsonPath: '.status.progress',
        description: 'finished/created instances',
      },
      { name: 'Verified', type: 'integer', jsonPath: '.status.counts.verified' },
      { name: 'Failed', type: 'integer', jsonPath: '.status.counts.failed' },
      {
        name: 'Reason',
        type: 'string',
        jsonPath: '.status.conditions[?(@.type=="Ready")].reason',
        description: 'why the run is not ready (Reconciled when it is)',
      },
      { name: 'Rejected', type: 'integer', jsonPath: '.status.counts.rejected', priority: 1 },
      // JSONPath has no "either": one wide column per kind of source.
      { name: 'GitHub', type: 'string', jsonPath: '.spec.source.github.repo', priority: 1 },
      { name: 'Git', type: 'string', jsonPath: '.spec.source.git.url', priority: 1 },
      age,
    ],
  });
}

export function sweInstanceCrd(): JsonSchema {
  return buildCrd({
    kind: SWEINSTANCES.kind,
    plural: SWEINSTANCES.plural,
    shortNames: ['swei'],
    description: 'One pull request on its way to a verified SWE-bench-style task instance.',
    spec: SWEInstanceSpec,
    status: SWEInstanceStatus,
    columns: [
      { name: 'Instance', type: 'string', jsonPath: '.spec.instanceId' },
      { name: 'Phase', type: 'string', jsonPath: '.status.phase' },
      { name: 'Reason', type: 'string', jsonPath: '.status.lastError.reason' },
      { name: 'Run', type: 'string', jsonPath: '.spec.runRef', priority: 1 },
      { name: 'Language', type: 'string', jsonPath: '.spec.language', priority: 1 },
      { name: 'Environment', type: 'string', jsonPath: '.status.environment.digest', priority: 1 },
      age,
    ],
  });
}

export function campaignCrd(): JsonSchema {
  return buildCrd({
    kind: CAMPAIGNS.kind,
    plural: CAMPAIGNS.plural,
    shortNames: ['camp'],
    description:
      'Curates many repositories at once: one CurationRun per repository (and period, when scheduled), sharing one concurrency limit, with the funnel summed in status.',
    spec: CampaignSpec,
    status: CampaignStatus,
    columns: [
      { name: 'Phase', type: 'string', jsonPath: '.status.phase' },
      { name: 'Runs', type: 'string', jsonPath: '.status.progress', description: 'finished/created runs' },
      { name: 'PRs', type: 'integer', jsonPath: '.status.funnel.discovered' },
      { name: 'Instances', type: 'integer', jsonPath: '.status.funnel.instances' },
      { name: 'Verified', type: 'integer', jsonPath: '.status.funnel.verified' },
      { name: 'Failed', type: 'integer', jsonPath: '.status.funnel.failed' },
      {
        name: 'Reason',
        type: 'string',
        jsonPath: '.status.conditions[?(@.type=="Ready")].reason',
        description: 'why the campaign is not ready (Reconciled when it is)',
      },
      { name: 'Rejected', type: 'integer', jsonPath: '.status.funnel.rejected', priority: 1 },
      { name: 'Repos', type: 'integer', jsonPath: '.status.funnel.repositories', priority: 1 },
      { name: 'Schedule', type: 'string', jsonPath: '.spec.schedule', priority: 1 },
      { name: 'Next', type: 'string', jsonPath: '.status.schedule.nextPeriodAt', priority: 1 },
      age,
    ],
  });
}

export function evaluationCrd(): JsonSchema {
  return buildCrd({
    kind: EVALUATIONS.kind,
    plural: EVALUATIONS.plural,
    shortNames: ['sweeval'],
    description:
      "Grades SWE-bench predictions (anyone's patches) against curated SWEInstances, one sandboxed grading pod per prediction.",
    spec: EvaluationSpec,
    status: EvaluationStatus,
    columns: [
      { name: 'Phase', type: 'string', jsonPath: '.status.phase' },
      { name: 'Resolved', type: 'integer', jsonPath: '.status.resolved' },
      { name: 'Total', type: 'integer', jsonPath: '.status.total', description: 'predictions' },
      { name: 'Progress', type: 'string', jsonPath: '.status.progress', description: 'graded/total' },
      { name: 'Errors', type: 'integer', jsonPath: '.status.errors', priority: 1 },
      { name: 'Empty', type: 'integer', jsonPath: '.status.emptyPatch', priority: 1 },
      {
        name: 'Reason',
        type: 'string',
        jsonPath: '.status.conditions[?(@.type=="Ready")].reason',
        priority: 1,
      },
      { name: 'Run', type: 'string', jsonPath: '.spec.instances.runRef', priority: 1 },
      age,
    ],
  });
}

export const CRDS = {
  'scaleswe.dev_campaigns.yaml': campaignCrd,
  'scaleswe.dev_curationruns.yaml': curationRunCrd,
  'scaleswe.dev_evaluations.yaml': evaluationCrd,
  'scaleswe.dev_sweinstances.yaml': sweInstanceCrd,
} as const;
