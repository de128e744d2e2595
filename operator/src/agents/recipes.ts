import type { Language, Recipe } from '../api/index.ts';

/**
 * Deterministic recipe choice: pure functions of the repository's file list and manifest
 * contents. Recipes are tried in order; the first whose setup succeeds and whose test
 * command yields parseable results wins. Test commands write machine-readable reports to
 * "$SCALESWE_RESULTS" when the runner supports it (the runner reads that file, else stdout).
 */
export interface RepoFacts {
  files: string[];
  /** Contents of manifests at the repository root, by file name (package.json, pyproject.toml, …). */
  manifests: Record<string, string>;
}

export const MANIFESTS = ['package.json', 'pyproject.toml', 'setup.cfg', 'go.mod', 'Cargo.toml', 'pom.xml'];

export function detectLanguages(facts: RepoFacts): Language[] {
  const has = (re: RegExp) => facts.files.some((f) => re.test(f));
  const out: Language[] = [];
  if (
    has(
      /^(pyproject\.toml|setup\.py|setup\.cfg|tox\.ini|noxfile\.py|requirements[^/]*\.txt|requirements\/.*\.txt)$/,
    )
  )
    out.push('python');
  if (has(/^package\.json$/)) out.push('node');
  if (has(/^go\.mod$/)) out.push('go');
  if (has(/^Cargo\.toml$/)) out.push('rust');
  if (has(/^(pom\.xml|build\.gradle(\.kts)?|settings\.gradle(\.kts)?)$/)) out.push('java');
  return out;
}

const HEADER = 'set -euo pipefail\n';

/** Candidate recipes, best first. `hint` (the PR's language) breaks ties in polyglot repos. */
export function candidateRecipes(facts: RepoFacts, hint?: Language): Recipe[] {
  const langs = detectLanguages(facts);
  if (hint && !langs.includes(hint)) langs.push(hint);
  if (hint) langs.sort((a, b) => Number(b === hint) - Number(a === hint));
  return langs.flatMap((l) => BY_LANGUAGE[l](facts));
}

const BY_LANGUAGE: Record<Language, (facts: RepoFacts) => Recipe[]> = {
  python: pythonRecipes,
  node: nodeRecipes,
  go: () => [
    {
      setupScript: `${HEADER}go mod download\n`,
      // -count=1: never serve cached results, reruns must really run.
      testCommand: 'go test -json -count=1 ./...',
      resultFormat: 'go-test-json',
      source: 'deterministic',
    },
  ],
  rust: () => [
    {
      setupScript: `${HEADER}cargo fetch\ncargo test --no-run\n`,
      testCommand: 'cargo test --no-fail-fast 2>&1',
      resultFormat: 'cargo',
      source: 'deterministic',
    },
  ],
  java: javaRecipes,
};

const PYTEST =
  '.venv/bin/python -m pytest -rA -p no:cacheprovider --continue-on-collection-errors --tb=short';

export function pythonTestExtras(pyproject: string | undefined, setupCfg: string | undefined): string[] {
  const names = new Set<string>();
  const section = /\[project\.optional-dependencies\]([\s\S]*?)(?:\n\[|$)/.exec(pyproject ?? '')?.[1] ?? '';
  for (const m of section.matchAll(/^\s*([A-Za-z0-9_.-]+)\s*=/gm)) names.add(m[1]!);
  const cfg = /\[options\.extras_require\]([\s\S]*?)(?:\n\[|$)/.exec(setupCfg ?? '')?.[1] ?? '';
  for (const m of cfg.matchAll(/^([A-Za-z0-9_.-]+)\s*=/gm)) names.add(m[1]!);
  return [...names].filter((n) => /^(test|tests|testing|dev)$/i.test(n)).sort();
}

function pythonRecipes(facts: RepoFacts): Recipe[] {
  const has = (f: string) => facts.files.includes(f);
  const installable = has('pyproject.toml') || has('setup.py') || has('setup.cfg');
  const reqs = facts.files
    .filter((f) =>
      /^(requirements([-_.]?(dev|test|tests|testing))?\.txt|(dev|test)[-_]requirements\.txt|requirements\/(dev|test|tests|testing)\.txt)$/.test(
        f,
      ),
    )
    .sort((a, b) => Number(/dev|test/.test(a)) - Number(/dev|test/.test(b)));
  const extras = pythonTestExtras(facts.manifests['pyproject.toml'], facts.manifests['setup.cfg']);
  const venv = 'python3 -m venv .venv\n. .venv/bin/activate\nexport PIP_DISABLE_PIP_VERSION_CHECK=1\n';
  // One pip call: one resolver run, and conflicts between the files surface as a failure.
  const reqArgs = reqs.map((r) => ` -r ${r}`).join('');
  const out: Recipe[] = [];
  if (installable) {
    const target = extras.length ? `".[${extras.join(',')}]"` : '.';
    out.push({
      setupScript: `${HEADER}${venv}pip install -q -e ${target}${reqArgs} pytest\n`,
      testCommand: PYTEST,
      resultFormat: 'pytest',
      source: 'deterministic',
    });
  }
  // Flat layouts (or packages that do not build): dependencies only, sources from the checkout.
  out.push({
    setupScript: `${HEADER}${venv}pip install -q${reqArgs} pytest\n`,
    testCommand: `PYTHONPATH=.:src ${PYTEST}`,
    resultFormat: 'pytest',
    source: 'deterministic',
  });
  return out;
}

function nodeRecipes(facts: RepoFacts): Recipe[] {
  const has = (f: string) => facts.files.includes(f);
  let install = 'npm install --no-audit --no-fund --prefer-offline';
  if (has('pnpm-lock.yaml')) install = 'npx --yes pnpm install --frozen-lockfile';
  else if (has('yarn.lock') && has('.yarnrc.yml')) install = 'corepack yarn install --immutable';
  else if (has('yarn.lock')) install = 'npx --yes yarn@1 install --frozen-lockfile --non-interactive';
  else if (has('package-lock.json') || has('npm-shrinkwrap.json'))
    install = 'npm ci --no-audit --no-fund --prefer-offline';
  let pkg: { scripts?: Record<string, string>; dependencies?: object; devDependencies?: object } = {};
  try {
    pkg = JSON.parse(facts.manifests['package.json'] ?? '{}');
  } catch {
    // unreadable manifest: fall through to the node test runner
  }
  const deps = { ...pkg.dependencies, ...pkg.devDependencies } as Record<string, string>;
  const testScript = pkg.scripts?.test ?? '';
  const setupScript = `${HEADER}${install}\n`;
  const out: Recipe[] = [];
  if ('vitest' in deps || /\bvitest\b/.test(testScript))
    out.push({
      setupScript,
      testCommand: 'npx vitest run --reporter=json --outputFile="$SCALESWE_RESULTS"',
      resultFormat: 'vitest-json',
      source: 'deterministic',
    });
  if ('jest' in deps || /\bjest\b/.test(testScript))
    out.push({
      setupScript,
      testCommand: 'npx jest --ci --json --outputFile="$SCALESWE_RESULTS"',
      resultFormat: 'jest-json',
      source: 'deterministic',
    });
  if ('mocha' in deps || /\bmocha\b/.test(testScript))
    out.push({
      setupScript,
      testCommand: 'npx mocha --reporter xunit --reporter-option output="$SCALESWE_RESULTS"',
      resultFormat: 'junit-xml',
      source: 'deterministic',
    });
  out.push({
    setupScript,
    testCommand: 'node --test --test-reporter=junit --test-reporter-destination="$SCALESWE_RESULTS"',
    resultFormat: 'junit-xml',
    source: 'deterministic',
  });
  return out;
}

function javaRecipes(facts: RepoFacts): Recipe[] {
  const has = (f: string) => facts.files.includes(f);
  const out: Recipe[] = [];
  if (has('pom.xml')) {
    const mvn = has('mvnw') ? './mvnw' : 'mvn';
    out.push({
      setupScript: `${HEADER}${mvn} -B -q -DskipTests test-compile\n`,
      testCommand:
        "find . -path '*/target/surefire-reports' -type d -prune -exec rm -rf {} +; " +
        `${mvn} -B test -Dmaven.test.failure.ignore=true -DfailIfNoTests=false; ` +
        'find . -path \'*/target/surefire-reports/TEST-*.xml\' -exec cat {} + > "$SCALESWE_RESULTS"',
      resultFormat: 'junit-xml',
      source: 'deterministic',
    });
  }
  if (facts.files.some((f) => /^(build|settings)\.gradle(\.kts)?$/.test(f))) {
    const gradle = has('gradlew') ? './gradlew' : 'gradle';
    out.push({
      setupScript: `${HEADER}${gradle} --no-daemon -q testClasses\n`,
      testCommand:
        "find . -path '*/build/test-results' -type d -prune -exec rm -rf {} +; " +
        `${gradle} --no-daemon test --continue; ` +
        "find . -path '*/build/test-results/*' -name 'TEST-*.xml' -exec cat {} + > \"$SCALESWE_RESULTS\"",
      resultFormat: 'junit-xml',
      source: 'deterministic',
    });
  }
  return out;
}
