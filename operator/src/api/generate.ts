// `npm run gen`: writes crds/*.yaml from the zod schemas (the single source of truth).
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { renderGenerated } from './render.ts';

const root = join(dirname(fileURLToPath(import.meta.url)), '../../..');
for (const [file, text] of Object.entries(renderGenerated())) {
  const target = join(root, file);
  mkdirSync(dirname(target), { recursive: true });
  writeFileSync(target, text);
  console.log(`wrote ${file}`);
}
