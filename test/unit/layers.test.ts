import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';

// The layer rules of .dependency-cruiser.ts (run by `npm run lint:layers` in scripts/test.sh),
// on the real tree and on a small tree that breaks each rule once.
const root = join(import.meta.dirname, '../..');
const bin = join(root, 'node_modules/dependency-cruiser/bin/dependency-cruiser.mjs');

interface Violation {
  rule: string;
  edge: string;
}

function depcruise(cwd: string, outputType: 'json' | 'err-long') {
  return spawnSync(
    process.execPath,
    [bin, '--config', join(root, '.dependency-cruiser.ts'), '--output-type', outputType, 'operator/src'],
    { cwd, encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 },
  );
}

function cruise(cwd: string): { violations: Violation[]; modules: number } {
  const run = depcruise(cwd, 'json');
  expect(run.stdout, run.stderr).toMatch(/^\{/);
  const result = JSON.parse(run.stdout) as {
    summary: { totalCruised: number; violations: { from: string; to: string; rule: { name: string } }[] };
  };
  const violations = result.summary.violations.map((v) => ({
    rule: v.rule.name,
    // npm targets by package, not by the file of it that resolved
    edge: `${v.from} → ${v.to.replace(/^.*node_modules\/((@[^/]+\/)?[^/]+).*$/, '$1')}`,
  }));
  return { violations, modules: result.summary.totalCruised };
}

describe('layer rules', () => {
  it('hold on operator/src', () => {
    const { violations, modules } = cruise(root);
    expect(violations).toEqual([]);
    expect(modules).toBeGreaterThan(100);
    const ci = depcruise(root, 'err-long');
    expect(ci.status, ci.stdout).toBe(0);
  });

  const fixture = mkdtempSync(join(tmpdir(), 'layers-'));
  afterAll(() => rmSync(fixture, { recursive: true, force: true }));
  // The packages resolve from the repo's node_modules, as in the real tree.
  symlinkSync(join(root, 'node_modules'), join(fixture, 'node_modules'));
  const files: Record<string, string> = {
    'api/meta.ts': "import { Manager } from '../controller/manager.ts';\nexport const M = Manager;\n",
    // test files are exempt
    'api/meta.test.ts': "import { Manager } from '../controller/manager.ts';\nexport const T = Manager;\n",
    'controller/manager.ts':
      "import { LANGUAGES } from '../languages/table.ts';\nexport const Manager = LANGUAGES;\n",
    'kube/index.ts':
      "import * as k8s from '@kubernetes/client-node';\nexport type OwnerReference = k8s.V1OwnerReference;\n",
    'languages/table.ts': "import { GROUP } from '../api/group.ts';\nexport const LANGUAGES = [GROUP];\n",
    'api/group.ts': "export const GROUP = 'scaleswe.dev';\n",
    // a type-only import counts
    'languages/python.ts': "import type { Source } from '../mining/index.ts';\nexport type S = Source;\n",
    'mining/index.ts':
      "import { Octokit } from '@octokit/rest';\nimport { LANGUAGES } from '../languages/table.ts';\nexport type Source = Octokit;\nexport const L = LANGUAGES;\n",
    'sandbox/envelope.ts': "export const ENVELOPE = 'envelope';\n",
    'sandbox/pod.ts':
      "import type { OwnerReference } from '../kube/index.ts';\nexport type Owner = OwnerReference;\n",
    'agents/run.ts':
      "import { ENVELOPE } from '../sandbox/envelope.ts';\nimport type { Owner } from '../sandbox/pod.ts';\nimport * as k8s from '@kubernetes/client-node';\nexport const x: [string, Owner?, typeof k8s?] = [ENVELOPE];\n",
    'export/chat.ts': "import OpenAI from 'openai';\nexport const C = OpenAI;\n",
    // the report chart alone renders with Vega
    'export/plot.ts': "import { View } from 'vega';\nexport const P = View;\n",
    'llm/github.ts': "import { Octokit } from '@octokit/rest';\nexport const G = Octokit;\n",
    'pipeline/stages.ts': "import { GONE } from '../api/gone.ts';\nexport const S = GONE;\n",
    'local/run.ts': "import { Source } from '../mining/index.ts';\nexport type R = Source;\n",
    'cli/cluster.ts':
      "import { Manager } from '../controller/manager.ts';\nimport '../local/run.ts';\nexport const C = Manager;\n",
    'operator.ts':
      "import { Manager } from './controller/manager.ts';\nimport { C } from './cli/cluster.ts';\nexport const O = [Manager, C];\n",
    'newfolder/x.ts': "import { GROUP } from '../api/group.ts';\nexport const X = GROUP;\n",
    'agents/leak.ts':
      "import { FIXTURE } from '../../../test/fixtures/repos.ts';\nexport const L = FIXTURE;\n",
  };
  for (const [file, text] of Object.entries(files)) {
    const path = join(fixture, 'operator/src', file);
    mkdirSync(dirname(path), { recursive: true });
    writeFileSync(path, text);
  }
  mkdirSync(join(fixture, 'test/fixtures'), { recursive: true });
  writeFileSync(join(fixture, 'test/fixtures/repos.ts'), 'export const FIXTURE = 1;\n');

  it('fail an upward import, a foreign SDK, an unlisted folder, test code in src, each by name', () => {
    const src = 'operator/src';
    expect(cruise(fixture).violations.sort((a, b) => a.edge.localeCompare(b.edge))).toEqual(
      [
        { rule: 'layer-api', edge: `${src}/api/meta.ts → ${src}/controller/manager.ts` },
        { rule: 'layer-languages', edge: `${src}/languages/python.ts → ${src}/mining/index.ts` },
        { rule: 'layer-sandbox', edge: `${src}/sandbox/pod.ts → ${src}/kube/index.ts` },
        // agents/ may use sandbox/envelope.ts, not the pod builder
        { rule: 'layer-agents', edge: `${src}/agents/run.ts → ${src}/sandbox/pod.ts` },
        { rule: 'kubernetes-client-only-in-kube', edge: `${src}/agents/run.ts → @kubernetes/client-node` },
        { rule: 'openai-only-in-llm', edge: `${src}/export/chat.ts → openai` },
        { rule: 'vega-only-in-report-chart', edge: `${src}/export/plot.ts → vega` },
        { rule: 'octokit-only-in-mining', edge: `${src}/llm/github.ts → @octokit/rest` },
        { rule: 'not-to-unresolvable', edge: `${src}/pipeline/stages.ts → ../api/gone.ts` },
        { rule: 'layer-cli', edge: `${src}/cli/cluster.ts → ${src}/controller/manager.ts` },
        { rule: 'layer-operator', edge: `${src}/operator.ts → ${src}/cli/cluster.ts` },
        { rule: 'layer-unlisted', edge: `${src}/newfolder/x.ts → ${src}/api/group.ts` },
        { rule: 'no-test-code-in-src', edge: `${src}/agents/leak.ts → test/fixtures/repos.ts` },
      ].sort((a, b) => a.edge.localeCompare(b.edge)),
    );
  });

  it('fail the CI step with the rule and its reason', () => {
    const ci = depcruise(fixture, 'err-long');
    expect(ci.status).toBe(13); // one per violation
    expect(ci.stdout).toContain(
      'error layer-api: operator/src/api/meta.ts → operator/src/controller/manager.ts',
    );
    expect(ci.stdout).toContain('api/ is the bottom layer: it imports nothing of ours');
  });
});
