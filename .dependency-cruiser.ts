// Layer rules of operator/src (DESIGN.md "Dependencies point one way"), checked by
// `npm run lint:layers` in scripts/test.sh. Test files (*.test.ts, test/**) are exempt.
// dependency-cruiser parses with swc: it supports TypeScript < 7 only, and this repo has 7.
import type { IConfiguration, IForbiddenRuleType } from 'dependency-cruiser';

const SRC = 'operator/src';
const TEST_FILE = '\\.test\\.ts$';

// What each part of operator/src may import of ours (a folder, or one file of a folder).
// api is the bottom; the domain imports api and little of itself; the drivers (controller,
// local) import the domain; cli and operator.ts are on top. kube/ is the Kubernetes adapter:
// only drivers and entry points use it.
const DOMAIN = ['api', 'languages', 'llm', 'export', 'sandbox', 'pipeline', 'mining', 'registry', 'store'];
const LAYERS: Record<string, { may: string[]; why: string }> = {
  api: { may: [], why: 'api/ is the bottom layer: it imports nothing of ours' },
  kube: { may: ['api'], why: 'kube/ is a generic controller runtime: of ours it imports api/ only' },
  languages: { may: ['api'], why: 'languages/ imports api/ only' },
  llm: { may: ['api'], why: 'llm/ imports api/ only' },
  export: { may: ['api'], why: 'export/ imports api/ only' },
  sandbox: {
    may: ['api', 'languages'],
    why: "sandbox/ builds plain objects from api/ types and the languages' cache env, without kube/",
  },
  pipeline: { may: ['api'], why: 'pipeline/ imports api/ only' },
  mining: { may: ['api', 'languages'], why: 'mining/ imports api/ and languages/ only' },
  registry: {
    may: ['api'],
    why: 'registry/ is the one module that speaks the OCI distribution protocol: it imports api/ only',
  },
  store: {
    may: ['api'],
    why: 'store/ (the dataset store: a directory or S3) imports api/ only',
  },
  agents: {
    // The sandbox program: the LLM client, and of sandbox/ only the wire contract it shares
    // with the operator (result envelope, stage input), not the pod builders.
    // And the mining path classifier: generated tests must be test paths by the same rule.
    // And the diff splitter: setup installs the gold patch's dependency files (dependency-change.ts).
    may: [
      'api',
      'languages',
      'llm',
      'sandbox/envelope.ts',
      'sandbox/stage-input.ts',
      'mining/paths.ts',
      'mining/diff-split.ts',
    ],
    why: 'agents/ run inside sandbox pods: api/, languages/, llm/, the envelope/stage-input contract and the path classifier only',
  },
  controller: {
    may: [...DOMAIN, 'kube'],
    why: 'controller/ (the in-cluster driver) imports the domain and kube/, never agents/, local/ or cli/',
  },
  local: {
    may: DOMAIN,
    why: 'local/ (the one-machine driver) imports the domain only: no kube/, controller/, agents/ or cli/',
  },
  cli: {
    may: [...DOMAIN, 'kube', 'local'],
    why: 'cli/ drives local/ or the cluster through kube/ and api/; it never imports controller/ or agents/',
  },
  'operator-flags.ts': { may: [], why: "operator-flags.ts (the operator's flag schema) is pure" },
  'operator.ts': {
    may: [...DOMAIN, 'kube', 'controller', 'operator-flags.ts'],
    why: 'operator.ts (the operator binary) imports controller/, kube/ and the domain, not cli/, local/ or agents/',
  },
};

const literal = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
/** A folder `x` as `^operator/src/x/`, a file `x/y.ts` or `y.ts` as its exact path. */
const pathOf = (part: string) => `^${literal(`${SRC}/${part}`)}${part.endsWith('.ts') ? '$' : '/'}`;

const layerRules: IForbiddenRuleType[] = Object.entries(LAYERS).map(([part, { may, why }]) => ({
  name: `layer-${part.replace(/\.ts$/, '')}`,
  comment: why,
  severity: 'error',
  from: { path: pathOf(part), pathNot: TEST_FILE },
  to: { path: `^${SRC}/`, pathNot: [part, ...may].map(pathOf) },
}));

/** Only `owner` may import the npm package(s) under `pkg` (test files may, to set up fixtures). */
const sdkRule = (name: string, pkg: string, owner: string, why: string): IForbiddenRuleType => ({
  name,
  comment: why,
  severity: 'error',
  from: { path: `^${SRC}/`, pathNot: [pathOf(owner), TEST_FILE] },
  // Resolved paths: `node_modules/<pkg>/...` (possibly behind a symlinked node_modules).
  to: { path: `(^|/)node_modules/${literal(pkg)}` },
});

const config: IConfiguration = {
  forbidden: [
    ...layerRules,
    {
      name: 'layer-unlisted',
      comment: `every folder of ${SRC} has a layer: add it to LAYERS in .dependency-cruiser.ts`,
      severity: 'error',
      from: { path: `^${SRC}/`, pathNot: [...Object.keys(LAYERS).map(pathOf), TEST_FILE] },
      to: { path: `^${SRC}/` },
    },
    {
      name: 'no-test-code-in-src',
      comment: 'operator/src never imports test/ (test support is for tests only)',
      severity: 'error',
      from: { path: `^${SRC}/`, pathNot: TEST_FILE },
      to: { path: '^test/' },
    },
    sdkRule(
      'kubernetes-client-only-in-kube',
      '@kubernetes/client-node/',
      'kube',
      'only kube/ imports @kubernetes/client-node',
    ),
    sdkRule('openai-only-in-llm', 'openai/', 'llm', 'only llm/ imports the OpenAI client'),
    sdkRule(
      'aws-sdk-only-in-s3-store',
      '@aws-sdk/',
      'store/s3-store.ts',
      'only store/s3-store.ts imports the AWS SDK',
    ),
    sdkRule('octokit-only-in-mining', '@octokit/', 'mining', 'only mining/ imports octokit'),
    // vega, vega-lite and their vega-* packages.
    sdkRule(
      'vega-only-in-report-chart',
      'vega',
      'export/report-chart.ts',
      'only export/report-chart.ts imports Vega (the report chart renderer)',
    ),
    {
      name: 'not-to-unresolvable',
      comment: 'an import that cannot be resolved would escape the rules above',
      severity: 'error',
      from: { path: `^${SRC}/` },
      to: { couldNotResolve: true },
    },
  ],
  options: {
    parser: 'swc',
    // `import type` counts: a type import is a dependency of the design too. (swc honours it;
    // the "missing-tsc-transpiler" warning this prints is about tsc < 7 only.)
    tsPreCompilationDeps: true,
    doNotFollow: { path: 'node_modules' },
    // ESM packages (octokit) resolve through their `exports`, as Node resolves them.
    enhancedResolveOptions: { exportsFields: ['exports'], conditionNames: ['import', 'node', 'default'] },
  },
};
export default config;
