// Bundles the three programs into self-contained ESM files (no node_modules at run time):
//   <out>/operator/main.mjs   the operator
//   <out>/agent/main.js       the agent runner copied into sandbox pods
//   <out>/cli/main.mjs        the scaleswe CLI
//   <out>/operator/push-env-image.mjs  the push container of environment image build pods
// Usage: node scripts/bundle.ts [--out dist]
import { rm, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { build } from 'esbuild';

const outFlag = process.argv.indexOf('--out');
const out = resolve(outFlag >= 0 ? process.argv[outFlag + 1]! : 'dist');
const root = resolve(import.meta.dirname, '..');
// Some dependencies are CommonJS and call require(); give ESM bundles a real one.
const banner = {
  js: "import { createRequire as __cr } from 'node:module'; const require = __cr(import.meta.url);",
};

await rm(out, { recursive: true, force: true });
const entries = [
  ['operator/src/operator.ts', 'operator/main.mjs'],
  ['operator/src/agents/scaleswe-agent.ts', 'agent/main.js'],
  ['operator/src/cli/scaleswe.ts', 'cli/main.mjs'],
  ['operator/src/registry/push-env-image.ts', 'operator/push-env-image.mjs'],
] as const;
for (const [entry, file] of entries) {
  const started = Date.now();
  const result = await build({
    entryPoints: [join(root, entry)],
    outfile: join(out, file),
    bundle: true,
    platform: 'node',
    target: 'node24',
    format: 'esm',
    banner,
    minify: true,
    sourcemap: false,
    legalComments: 'none',
    metafile: true,
    logLevel: 'warning',
  });
  const bytes = Object.values(result.metafile.outputs).reduce((sum, o) => sum + o.bytes, 0);
  console.log(
    `bundled ${entry} → ${join(out, file)} (${(bytes / 1024).toFixed(0)} KiB, ${Date.now() - started} ms)`,
  );
}
// The runner is copied into images that may hold other package.json files: say it is ESM.
await writeFile(join(out, 'agent', 'package.json'), '{ "type": "module" }\n');
