import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

// The images run bundles, not sources: each bundle must start with no node_modules around it.
const root = join(import.meta.dirname, '../..');
const out = mkdtempSync(join(tmpdir(), 'scaleswe-bundle-'));
beforeAll(() => {
  execFileSync(process.execPath, [join(root, 'scripts/bundle.ts'), '--out', out], { stdio: 'pipe' });
}, 120_000);
afterAll(() => rmSync(out, { recursive: true, force: true }));

const run = (file: string, args: string[], input = '') =>
  spawnSync(process.execPath, [join(out, file), ...args], { cwd: tmpdir(), input, encoding: 'utf8' });

describe('bundles', () => {
  it('the operator starts and knows its flags', () => {
    const r = run('operator/main.mjs', ['--help']);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toContain('--leader-elect');
  });

  it('the agent runner always answers with a StageResult, even for bad input', () => {
    const r = run('agent/main.js', ['env'], '{"stage":"env"}');
    expect(r.status, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({ stage: 'env', outcome: 'failed' });
  });

  it('the CLI validates manifests', () => {
    const r = run('cli/main.mjs', ['run', '-f', join(root, 'examples/invalid/two-sources.yaml')]);
    expect(r.status).toBe(2);
    expect(r.stderr).toContain('exactly one of source.github or source.git must be set');
  });
});
