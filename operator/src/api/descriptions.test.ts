import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { CRDS } from './crd.ts';
import { renderGenerated } from './render.ts';

type Schema = {
  description?: unknown;
  default?: unknown;
  properties?: Record<string, Schema>;
  items?: Schema;
};

/** `node` and every field under it (array items' fields included), with its path. */
function* fields(node: Schema, path: string): Generator<{ path: string; schema: Schema }> {
  yield { path, schema: node };
  const properties = node.properties ?? node.items?.properties ?? {};
  for (const [name, child] of Object.entries(properties)) yield* fields(child, `${path}.${name}`);
}

/** The generated CRD files, as `kubectl explain` reads them from the API server. */
const crds = Object.keys(CRDS).map((file) => {
  const crd = parse(renderGenerated()[`crds/${file}`]!);
  return { kind: crd.spec.names.kind as string, root: crd.spec.versions[0].schema.openAPIV3Schema as Schema };
});

describe('kubectl explain descriptions', () => {
  it.each(crds)('$kind: spec, status and every field under them have a description', ({ kind, root }) => {
    const missing: string[] = [];
    let checked = 0;
    for (const top of ['spec', 'status']) {
      const schema = root.properties?.[top];
      expect(schema, `${kind}.${top}`).toBeDefined();
      for (const f of fields(schema!, `${kind.toLowerCase()}.${top}`)) {
        checked++;
        if (typeof f.schema.description !== 'string' || f.schema.description.trim() === '')
          missing.push(f.path);
      }
    }
    // Guards the walk itself: a schema shape it cannot see into would pass vacuously.
    expect(checked).toBeGreaterThan(40);
    expect(missing, 'add a zod .describe() to these fields (operator/src/api), then `npm run gen`').toEqual(
      [],
    );
  });

  it('spec fields with a scalar default state it, since kubectl explain does not show defaults', () => {
    const paths = new Map(
      crds
        .flatMap(({ kind, root }) => [...fields(root.properties!.spec!, `${kind.toLowerCase()}.spec`)])
        .map((f) => [f.path, f.schema]),
    );
    expect(paths.get('curationrun.spec.filters.maxFiles')?.description).toBe(
      'Reject PRs touching more files; default 50',
    );
    expect(paths.get('curationrun.spec.agents.timeouts.envSeconds')?.description).toMatch(/; default 1800$/);
    expect(paths.get('curationrun.spec.suspend')?.description).toMatch(/; default false$/);
    for (const [path, { default: value, description }] of paths) {
      if (['number', 'boolean'].includes(typeof value) || (typeof value === 'string' && value !== ''))
        expect(String(description).endsWith(`; default ${value}`), `${path}: ${description}`).toBe(true);
    }
  });
});
