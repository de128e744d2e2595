import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { Campaign } from './campaign.ts';
import { setCondition } from './condition.ts';
import { toStructural } from './crd.ts';
import { CurationRun, maxParallelOf } from './curation-run.ts';
import { Evaluation } from './evaluation.ts';
import { renderGenerated } from './render.ts';
import { instanceIdFor, instanceObjectName } from './swe-instance.ts';
import { validate, validateCurationRun } from './validate.ts';

const root = join(import.meta.dirname, '../../..');
const examples = join(root, 'examples');

describe('generated CRDs', () => {
  it('match the committed files (run `npm run gen` after changing a schema)', () => {
    for (const [file, text] of Object.entries(renderGenerated())) {
      expect(readFileSync(join(root, file), 'utf8'), file).toBe(text);
    }
  });

  it('contain no construct a structural schema forbids', () => {
    for (const [file, text] of Object.entries(renderGenerated())) {
      if (!file.startsWith('crds/')) continue;
      const crd = parse(text);
      // The one union allowed: int-or-string, exactly as core/v1 publishes resource.Quantity.
      const intOrString = '"anyOf":[{"type":"integer"},{"type":"string"}]';
      const schema = JSON.stringify(crd.spec.versions[0].schema.openAPIV3Schema).replaceAll(intOrString, '');
      expect(schema).not.toMatch(/"(anyOf|oneOf|allOf|\$ref|\$schema)"/);
      expect(schema).not.toContain('"additionalProperties":false');
    }
  });

  it('emits quantities as int-or-string with the Kubernetes pattern', () => {
    const q = toStructural({
      anyOf: [{ type: 'integer' }, { type: 'string', pattern: '^[0-9]+$' }],
      'x-kubernetes-int-or-string': true,
    });
    expect(q).toEqual({
      anyOf: [{ type: 'integer' }, { type: 'string' }],
      pattern: '^[0-9]+$',
      'x-kubernetes-int-or-string': true,
    });
  });

  it('rejects a union instead of silently emitting it', () => {
    expect(() =>
      toStructural({ properties: { a: { anyOf: [{ type: 'string' }, { type: 'number' }] } } }),
    ).toThrow(/\$\.a: anyOf/);
  });
});

describe('examples', () => {
  const valid = readdirSync(examples).filter((f) => f.startsWith('curationrun-') && f.endsWith('.yaml'));

  it.each(valid)('%s is valid and gets defaults', (file) => {
    const result = validateCurationRun(parse(readFileSync(join(examples, file), 'utf8')));
    if (!result.ok) throw new Error(result.errors.join('\n'));
    expect(result.value.spec.agents.maxAttempts).toBeGreaterThan(0);
    expect(result.value.spec.sandbox.egress.allowAll).toBe(false);
  });

  it('campaign.yaml is valid and gets defaults', () => {
    const result = validate(Campaign, parse(readFileSync(join(examples, 'campaign.yaml'), 'utf8')));
    if (!result.ok) throw new Error(result.errors.join('\n'));
    expect(result.value.spec.repositories).toHaveLength(3);
    expect(result.value.spec.template.verification.reruns).toBe(3);
    expect(result.value.spec.suspend).toBe(false);
  });

  const evaluations = readdirSync(examples).filter((f) => f.startsWith('evaluation-') && f.endsWith('.yaml'));
  it.each(evaluations)('%s is a valid Evaluation', (file) => {
    const parsed = Evaluation.safeParse(parse(readFileSync(join(examples, file), 'utf8')));
    expect(parsed.error?.issues ?? []).toEqual([]);
  });

  const invalid = readdirSync(join(examples, 'invalid'));
  it.each(invalid)('invalid/%s is rejected naming the field', (file) => {
    const manifest = parse(readFileSync(join(examples, 'invalid', file), 'utf8'));
    const field: string = manifest.metadata.annotations['scaleswe.dev/expected-field'];
    const message: string = manifest.metadata.annotations['scaleswe.dev/expected-error'];
    const result =
      manifest.kind === 'Campaign' ? validate(Campaign, manifest) : validateCurationRun(manifest);
    expect(result.ok).toBe(false);
    if (result.ok) return;
    expect(
      result.errors.some((e) => e.startsWith(`${field}:`) && e.includes(message)),
      result.errors.join('\n'),
    ).toBe(true);
  });
});

describe('schema defaults', () => {
  it('fills nested defaults from an almost empty spec', () => {
    const run = CurationRun.parse({
      apiVersion: 'scaleswe.dev/v1alpha1',
      kind: 'CurationRun',
      metadata: { name: 'x' },
      spec: { source: { git: { url: '/tmp/repo' } } },
    });
    expect(run.spec.limits).toEqual({ maxPRs: 100 });
    expect(maxParallelOf(run.spec.limits)).toBe(4);
    expect(run.spec.source.git?.ref).toBe('HEAD');
    expect(run.spec.agents.timeouts.envSeconds).toBe(1800);
    expect(run.spec.verification.reruns).toBe(3);
  });
});

describe('limits', () => {
  const limits = (l: object) =>
    validateCurationRun({
      apiVersion: 'scaleswe.dev/v1alpha1',
      kind: 'CurationRun',
      metadata: { name: 'x' },
      spec: { source: { git: { url: '/tmp/repo' } }, limits: l },
    });
  it('maxPRs below the default parallelism alone is valid, and caps it', () => {
    const r = limits({ maxPRs: 2 });
    expect(r.ok).toBe(true);
    if (r.ok) expect(maxParallelOf(r.value.spec.limits)).toBe(2);
  });
  it('an explicit maxParallel above maxPRs is refused, naming the field', () => {
    const r = limits({ maxPRs: 2, maxParallel: 3 });
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.errors.join('\n')).toContain('limits.maxParallel must not exceed limits.maxPRs');
  });
});

describe('PR selection and history', () => {
  const run = (spec: object) =>
    validateCurationRun({
      apiVersion: 'scaleswe.dev/v1alpha1',
      kind: 'CurationRun',
      metadata: { name: 'x' },
      spec: { source: { git: { url: '/tmp/repo' } }, ...spec },
    });
  const errors = (spec: object) => {
    const r = run(spec);
    return r.ok ? [] : r.errors;
  };

  it('accepts PR numbers, commit ids or prefixes, and a history mode (default merges)', () => {
    const ok = run({
      source: { git: { url: '/tmp/repo', history: 'first-parent' } },
      filters: { commits: ['a1b2c3d', 'A1B2C3D4E5F60718293A4B5C6D7E8F9012345678'] },
    });
    if (!ok.ok) throw new Error(ok.errors.join('\n'));
    expect(ok.value.spec.source.git?.history).toBe('first-parent');
    const pulls = run({ filters: { pullNumbers: [12, 7] } });
    expect(pulls.ok && pulls.value.spec.filters.pullNumbers).toEqual([12, 7]);
    expect(pulls.ok && pulls.value.spec.source.git?.history).toBe('merges');
  });

  it('rejects bad items and both lists at once, naming the field', () => {
    expect(errors({ filters: { commits: ['abc12'] } })).toEqual([
      'spec.filters.commits.0: must be a commit id: 7 to 64 hex digits',
    ]);
    expect(errors({ filters: { commits: ['main'] } })[0]).toMatch(
      /^spec\.filters\.commits\.0: must be a commit id/,
    );
    expect(errors({ filters: { pullNumbers: [0] } })).toEqual([
      'spec.filters.pullNumbers.0: PR numbers start at 1',
    ]);
    expect(errors({ filters: { pullNumbers: [] } })).toEqual([
      'spec.filters.pullNumbers: list at least one PR number, or leave pullNumbers out',
    ]);
    expect(errors({ filters: { pullNumbers: [1], commits: ['a1b2c3d'] } })).toEqual([
      'spec.filters.commits: set at most one of filters.pullNumbers and filters.commits',
    ]);
    expect(errors({ source: { git: { url: '/tmp/repo', history: 'rebase' } } })[0]).toMatch(
      /^spec\.source\.git\.history: /,
    );
  });

  it('the CRD carries the rule as CEL and the history enum', () => {
    const crd = parse(renderGenerated()['crds/scaleswe.dev_curationruns.yaml']!);
    const spec = crd.spec.versions[0].schema.openAPIV3Schema.properties.spec.properties;
    expect(spec.filters['x-kubernetes-validations']).toContainEqual({
      rule: '!has(self.pullNumbers) || !has(self.commits)',
      message: 'set at most one of filters.pullNumbers and filters.commits',
      fieldPath: '.commits',
    });
    expect(spec.source.properties.git.properties.history).toMatchObject({
      type: 'string',
      enum: ['merges', 'first-parent'],
      default: 'merges',
    });
  });
});

describe('conditions', () => {
  const t0 = new Date('2026-01-01T00:00:00Z');
  const t1 = new Date('2026-01-01T00:05:00Z');

  it('keeps lastTransitionTime when only reason or message change', () => {
    const a = setCondition([], { type: 'Ready', status: 'False', reason: 'Mining', message: 'm' }, t0);
    const b = setCondition(a, { type: 'Ready', status: 'False', reason: 'Running', message: 'n' }, t1);
    expect(b[0]).toMatchObject({ reason: 'Running', lastTransitionTime: t0.toISOString() });
    const c = setCondition(b, { type: 'Ready', status: 'True', reason: 'Done', message: '' }, t1);
    expect(c[0]?.lastTransitionTime).toBe(t1.toISOString());
    expect(c).toHaveLength(1);
  });
});

describe('instance naming', () => {
  it('is deterministic and DNS-safe', () => {
    expect(instanceIdFor('Psf/Requests', 6028)).toBe('Psf__Requests-6028');
    const name = instanceObjectName('run-1', 'Psf__Requests_x-6028');
    expect(name).toBe('run-1.psf.requests-x-6028');
    expect(name).toMatch(/^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/);
    expect(instanceObjectName('run-1', 'a__b-1')).not.toBe(instanceObjectName('run-1', 'a__b-2'));
  });
});
