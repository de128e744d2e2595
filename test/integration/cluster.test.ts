// The real API server, with our CRDs: readiness, Established CRDs, and the examples —
// invalid ones rejected with the field path the annotation names, valid ones accepted and
// defaulted by the structural schema.
import { readdirSync, readFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { ApiextensionsV1Api } from '@kubernetes/client-node';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { REPO_ROOT } from '../cluster/lib.ts';
import {
  apiErrorMessage,
  cluster,
  GROUP,
  kubeConfig,
  kubectl,
  useTestNamespace,
  VERSION,
} from './support.ts';

interface Manifest {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; annotations?: Record<string, string> };
  spec?: Record<string, unknown>;
}

const crdDocs = readdirSync(join(REPO_ROOT, 'crds'))
  .filter((f) => f.endsWith('.yaml'))
  .map(
    (f) =>
      parse(readFileSync(join(REPO_ROOT, 'crds', f), 'utf8')) as {
        metadata: { name: string };
        spec: { names: { kind: string; plural: string } };
      },
  );
const pluralOf = (kind: string): string => {
  const crd = crdDocs.find((c) => c.spec.names.kind === kind);
  if (!crd) throw new Error(`no CRD for kind ${kind}`);
  return crd.spec.names.plural;
};

// Every x-kubernetes-validations message declared in the CRDs.
const celMessages = new Set<string>();
const collectCel = (node: unknown): void => {
  if (Array.isArray(node)) node.forEach(collectCel);
  else if (node && typeof node === 'object') {
    for (const [k, v] of Object.entries(node)) {
      if (k === 'x-kubernetes-validations' && Array.isArray(v)) {
        for (const rule of v as { message?: string }[]) if (rule.message) celMessages.add(rule.message);
      } else collectCel(v);
    }
  }
};
collectCel(crdDocs);

const load = (file: string): Manifest => parse(readFileSync(file, 'utf8')) as Manifest;
const invalidDir = join(REPO_ROOT, 'examples', 'invalid');
const invalidFiles = readdirSync(invalidDir)
  .filter((f) => f.endsWith('.yaml'))
  .sort()
  .map((f) => join(invalidDir, f));
const validFiles = readdirSync(join(REPO_ROOT, 'examples'))
  .filter((f) => /^curationrun-.*\.yaml$/.test(f))
  .sort()
  .map((f) => join(REPO_ROOT, 'examples', f));

describe('control plane', () => {
  it('answers /readyz and reports the pinned version', () => {
    const r = kubectl(['get', '--raw', '/readyz']);
    expect(r.stderr).toBe('');
    expect(r.stdout.trim()).toBe('ok');
    const v = JSON.parse(kubectl(['get', '--raw', '/version']).stdout) as { gitVersion: string };
    expect(v.gitVersion).toMatch(/^v1\.3[23]\.\d+$/);
    expect(cluster().mode).toBeDefined();
  });

  it('has every CRD in crds/ Established', async () => {
    expect(crdDocs.map((c) => c.metadata.name).sort()).toEqual([
      'campaigns.scaleswe.dev',
      'curationruns.scaleswe.dev',
      'evaluations.scaleswe.dev',
      'sweinstances.scaleswe.dev',
    ]);
    const api = kubeConfig().makeApiClient(ApiextensionsV1Api);
    for (const doc of crdDocs) {
      const crd = await api.readCustomResourceDefinition({ name: doc.metadata.name });
      const established = crd.status?.conditions?.find((c) => c.type === 'Established');
      expect(established?.status, `${doc.metadata.name} Established`).toBe('True');
    }
  });
});

describe('examples against the real API server', () => {
  const ns = useTestNamespace('examples');

  it('has invalid examples to check', () => {
    expect(invalidFiles.length).toBeGreaterThanOrEqual(8);
  });

  it.each(invalidFiles.map((f) => [basename(f), f]))(
    'rejects invalid/%s with its field path',
    async (_n, file) => {
      const m = load(file);
      const field = m.metadata.annotations?.['scaleswe.dev/expected-field'];
      const expectedError = m.metadata.annotations?.['scaleswe.dev/expected-error'];
      expect(field, 'annotation scaleswe.dev/expected-field').toBeTruthy();
      const { custom, name: namespace } = ns();
      let message = '';
      try {
        await custom.createNamespacedCustomObject({
          group: GROUP,
          version: VERSION,
          namespace,
          plural: pluralOf(m.kind),
          body: { ...m, metadata: { ...m.metadata, namespace } },
          fieldValidation: 'Strict',
        });
      } catch (e) {
        message = apiErrorMessage(e);
      }
      expect(message, `${basename(file)} must be rejected`).not.toBe('');
      expect(message).toContain(field);
      // CEL rule messages reach the user verbatim; OpenAPI errors (pattern, minimum, unknown
      // field) are worded by the server, so for those the field path is the contract.
      if (expectedError && celMessages.has(expectedError)) expect(message).toContain(expectedError);
      // What a user sees: kubectl apply (strict field validation by default) fails the same way.
      const k = kubectl(['apply', '-n', namespace, '-f', file]);
      expect(k.code).not.toBe(0);
      expect(k.stderr).toContain(field);
    },
  );

  it.each(validFiles.map((f) => [basename(f), f]))(
    'accepts %s and applies schema defaults',
    async (_n, file) => {
      const m = load(file);
      const { custom, name: namespace } = ns();
      const plural = pluralOf(m.kind);
      await custom.createNamespacedCustomObject({
        group: GROUP,
        version: VERSION,
        namespace,
        plural,
        body: { ...m, metadata: { ...m.metadata, namespace } },
        fieldValidation: 'Strict',
      });
      const got = (await custom.getNamespacedCustomObject({
        group: GROUP,
        version: VERSION,
        namespace,
        plural,
        name: m.metadata.name,
      })) as Manifest & { spec: Record<string, Record<string, unknown>> };
      // Fields the example sets survive; fields it omits get the CRD defaults.
      const source = m.spec?.source as Record<string, object>;
      expect(Object.keys(got.spec.source ?? {}).sort()).toEqual(Object.keys(source).sort());
      for (const [kind, fields] of Object.entries(source)) {
        expect(got.spec.source?.[kind]).toEqual(expect.objectContaining(fields));
      }
      if ('git' in source) expect(got.spec.source?.git).toMatchObject({ history: 'merges' });
      expect(got.spec.agents?.images).toEqual(
        expect.objectContaining({
          python: 'scaleswe/sandbox-python:0.1.0',
          node: 'scaleswe/sandbox-node:0.1.0',
        }),
      );
      expect(got.spec.suspend).toBe(false);
      expect(typeof got.spec.limits?.maxPRs).toBe('number');
      expect(typeof got.spec.verification?.reruns).toBe('number');
    },
  );
});
