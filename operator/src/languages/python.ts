import { join } from 'node:path';
import type { Recipe } from '../api/index.ts';
import { type LanguageModule, type RepoFacts, SETUP_HEADER } from './types.ts';

const PYTEST =
  '.venv/bin/python -m pytest -rA -p no:cacheprovider --continue-on-collection-errors --tb=short';

/** Names of the optional-dependency groups that hold test requirements. */
export function pythonTestExtras(pyproject: string | undefined, setupCfg: string | undefined): string[] {
  const names = new Set<string>();
  const section = /\[project\.optional-dependencies\]([\s\S]*?)(?:\n\[|$)/.exec(pyproject ?? '')?.[1] ?? '';
  for (const m of section.matchAll(/^\s*([A-Za-z0-9_.-]+)\s*=/gm)) names.add(m[1]!);
  const cfg = /\[options\.extras_require\]([\s\S]*?)(?:\n\[|$)/.exec(setupCfg ?? '')?.[1] ?? '';
  for (const m of cfg.matchAll(/^([A-Za-z0-9_.-]+)\s*=/gm)) names.add(m[1]!);
  return [...names].filter((n) => /^(test|tests|testing|dev)$/i.test(n)).sort();
}

function recipes(facts: RepoFacts): Recipe[] {
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
      setupScript: `${SETUP_HEADER}${venv}pip install -q -e ${target}${reqArgs} pytest\n`,
      testCommand: PYTEST,
      resultFormat: 'pytest',
      source: 'deterministic',
    });
  }
  // Flat layouts (or packages that do not build): dependencies only, sources from the checkout.
  out.push({
    setupScript: `${SETUP_HEADER}${venv}pip install -q${reqArgs} pytest\n`,
    testCommand: `PYTHONPATH=.:src ${PYTEST}`,
    resultFormat: 'pytest',
    source: 'deterministic',
  });
  return out;
}

export const python: LanguageModule = {
  name: 'python',
  extensions: ['py', 'pyi', 'pyx'],
  linguist: ['Python', 'Jupyter Notebook'],
  manifest:
    /^(pyproject\.toml|setup\.py|setup\.cfg|tox\.ini|noxfile\.py|Pipfile|requirements[^/]*\.txt|requirements\/.*\.txt)$/,
  testFiles: [/^test_.*\.py$/, /^.*_test\.py$/, /^conftest\.py$/],
  lockfiles: ['poetry.lock', 'Pipfile.lock', 'uv.lock', 'pdm.lock'],
  // noxfile.py is Python, but like tox.ini it only defines how maintainers run sessions: nothing
  // imports it, so no test can fail before and pass after a change to it.
  configFiles: [
    /^(tox|mypy|\.mypy)\.ini$/,
    /^noxfile\.py$/,
    /^\.(flake8|pylintrc|coveragerc|isort\.cfg|bandit|pydocstyle|python-version)$/,
    /^pylintrc$/,
    /^\.?ruff\.toml$/,
  ],
  envManifests: ['pyproject.toml', 'setup.cfg'],
  resultFormats: ['pytest'],
  recipes,
  cacheEnv: (cacheDir) => ({ PIP_CACHE_DIR: join(cacheDir, 'pip') }),
};
