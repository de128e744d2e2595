import { join } from 'node:path';
import type { Recipe } from '../api/index.ts';
import { coveragePy } from './coverage.ts';
import { parseSetupPyProbe, pythonConstraints, type TestDeps, testDeps, tomlOf } from './python-metadata.ts';
import { classifyPythonOutput, distributionsFor, scmPretendVersion } from './python-repair.ts';
import { type Interpreter, minorOf, parseInterpreters, rankInterpreters } from './python-versions.ts';
import {
  type EnvAttemptOutput,
  type LanguageModule,
  type RepoFacts,
  SETUP_HEADER,
  shellWord,
} from './types.ts';

const PYTEST =
  '.venv/bin/python -m pytest -rA -p no:cacheprovider --continue-on-collection-errors --tb=short';

/** uv, pinned so a replay installs with the same resolver; bootstrapped from PyPI into the cache. */
export const UV_VERSION = '0.13.9';
/**
 * The editable overlay builds the project with a setuptools of at least this date (PEP 660
 * editable builds need setuptools ≥ 64, newer than many PRs); only that build, not the runtime.
 */
const EDITABLE_SETUPTOOLS_DATE = '2025-06-01T00:00:00Z';

/** Names of the optional-dependency groups that hold test requirements. */
export function pythonTestExtras(pyproject: string | undefined, setupCfg: string | undefined): string[] {
  const manifests: Record<string, string> = {};
  if (pyproject !== undefined) manifests['pyproject.toml'] = pyproject;
  if (setupCfg !== undefined) manifests['setup.cfg'] = setupCfg;
  return testDeps([], manifests, {}).extras;
}

/**
 * Lists "<version> <absolute path>" for every CPython 3 the sandbox has: pyenv and uv installs
 * (by absolute path: the sandbox's HOME is the stage dir, so shims and ~ do not lead there),
 * then `python3.X` / `python3` on PATH. Pyenv shims are skipped (they depend on pyenv's state).
 */
const DISCOVER_INTERPRETERS = [
  // biome-ignore lint/suspicious/noTemplateCurlyInString: bash parameter expansion
  'for p in "${PYENV_ROOT:-/root/.pyenv}"/versions/*/bin/python3* /root/.pyenv/versions/*/bin/python3* /opt/pyenv/versions/*/bin/python3* "${UV_PYTHON_INSTALL_DIR:-/root/.local/share/uv/python}"/*/bin/python3* /root/.local/share/uv/python/*/bin/python3* $(compgen -c python3 | sort -u); do',
  '  [[ "$(basename "$p")" =~ ^python3(\\.[0-9]+)?$ ]] || continue',
  '  x=$(command -v "$p") || continue',
  '  case "$x" in */shims/*) continue ;; esac',
  `  v=$(timeout 10 "$x" -c 'import sys; print("%d.%d.%d" % sys.version_info[:3])' 2>/dev/null) && echo "$v $x"`,
  'done',
  'true',
].join('\n');

/** Reads setup.py's literal `setup()` arguments with `ast` (parsed, never executed) and prints them as JSON. */
const SETUP_PY_AST = `import ast, json
def lit(n, names):
    if isinstance(n, ast.Name) and n.id in names:
        return names[n.id]
    if isinstance(n, ast.Call) and isinstance(n.func, ast.Name) and n.func.id == "dict" and not n.args:
        return dict((k.arg, lit(k.value, names)) for k in n.keywords if k.arg)
    try:
        return ast.literal_eval(n)
    except Exception:
        return None
try:
    tree = ast.parse(open("setup.py", "rb").read())
except Exception:
    tree = ast.parse("")
names, out = {}, {}
for node in tree.body:
    if isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name):
        v = lit(node.value, names)
        if v is not None:
            names[node.targets[0].id] = v
keys = ("python_requires", "extras_require", "install_requires", "tests_require", "classifiers")
for node in ast.walk(tree):
    f = getattr(node, "func", None)
    if isinstance(node, ast.Call) and (getattr(f, "id", None) or getattr(f, "attr", None)) == "setup":
        for kw in node.keywords:
            v = lit(kw.value, names) if kw.arg in keys else None
            if v is not None:
                out[kw.arg] = v
print(json.dumps(out, default=str))
`;

const READ_SETUP_PY = `[ -f setup.py ] || exit 0
for p in python3 /usr/bin/python3 /usr/local/bin/python3; do
  command -v "$p" >/dev/null && timeout 30 "$p" -c '${SETUP_PY_AST}' && exit 0
done
true`;

function q(s: string): string {
  return /^[\w@%+=:,./-]+$/.test(s) ? s : `'${s.replace(/'/g, `'\\''`)}'`;
}

function isoDate(s: string | undefined): string | undefined {
  if (!s) return undefined;
  const t = Date.parse(s);
  return Number.isNaN(t) ? undefined : new Date(t).toISOString().replace(/\.000Z$/, 'Z');
}

interface ScriptPlan {
  /** Interpreter to build the venv with; undefined: `python3` of PATH (nothing discovered). */
  python: Interpreter | undefined;
  /** A Python ≥ 3.8 to bootstrap uv with. */
  boot: string;
  /** Dependencies as published before this instant (uv --exclude-newer); undefined: no cutoff. */
  cutoff: string | undefined;
  pins: string[];
  /** Arguments of the one install call (one resolver run, so conflicts surface). */
  install: string[];
  editable: boolean;
  /** Install pytest-timeout (best effort) for the per-test limit. */
  perTestLimit: boolean;
}

/**
 * The setup script: a venv on the chosen interpreter's absolute path, uv with the era's date
 * cutoff (pip when uv cannot be had), one install call, then the project editable on top. It
 * carries every choice (interpreter, uv version, cutoff, pins), so a replay is identical.
 */
function setupScript(p: ScriptPlan): string {
  const py = p.python?.path ?? 'python3';
  const withUv = !p.python || Number(minorOf(p.python.version).split('.')[1]) >= 8;
  const lines = [
    `# Python ${p.python?.version ?? '(PATH python3)'}; ${p.cutoff ? `dependencies as published before ${p.cutoff}` : 'no date cutoff'}`,
    `PY=${q(py)}`,
    'export UV_PYTHON_DOWNLOADS=never UV_LINK_MODE=copy UV_NO_PROGRESS=1 PIP_DISABLE_PIP_VERSION_CHECK=1',
  ];
  if (p.cutoff) lines.push(`export UV_EXCLUDE_NEWER=${p.cutoff}`);
  const editableDate = p.cutoff && p.cutoff > EDITABLE_SETUPTOOLS_DATE ? p.cutoff : EDITABLE_SETUPTOOLS_DATE;
  if (withUv) {
    lines.push(
      `UV="\${XDG_CACHE_HOME:-$HOME/.cache}/scaleswe-tools/uv-${UV_VERSION}/bin/uv"`,
      'if [ ! -x "$UV" ]; then',
      // biome-ignore lint/suspicious/noTemplateCurlyInString: bash parameter expansion
      '  T="${UV%/bin/uv}"; mkdir -p "${T%/*}"; B="$(mktemp -d "$T.XXXXXX")"',
      `  if ${q(p.boot)} -m pip install -q --target "$B" uv==${UV_VERSION} && [ -x "$B/bin/uv" ]; then mv -T "$B" "$T" 2>/dev/null || rm -rf "$B"; else rm -rf "$B"; fi`,
      'fi',
      'if [ -x "$UV" ]; then',
      '  "$UV" venv -q --seed --python "$PY" .venv',
      '  pi() { "$UV" pip install -q --python .venv/bin/python "$@"; }',
      // setuptools (≥ 71) imports an installed `packaging` before its vendored one; one of the
      // PR's era (pulled in by setuptools_scm) breaks it (humanize#63): both of the same date.
      `  pe() { "$UV" pip install -q --python .venv/bin/python --no-deps --exclude-newer-package setuptools=${editableDate} --exclude-newer-package packaging=${editableDate} -e .; }`,
      'else',
      "  echo 'scaleswe: uv unavailable, installing with pip (no date cutoff)' >&2",
      '  "$PY" -m venv .venv',
      '  pi() { .venv/bin/python -m pip install -q "$@"; }',
      '  pe() { pi --no-deps -e .; }',
      'fi',
    );
  } else {
    lines.push(
      '"$PY" -m venv .venv',
      'pi() { .venv/bin/python -m pip install -q "$@"; }',
      'pe() { pi --no-deps -e .; }',
    );
  }
  const args = [...p.install];
  if (p.pins.length) {
    lines.push(`cat > .venv/scaleswe-constraints.txt <<'SCALESWE_PINS'`, ...p.pins, 'SCALESWE_PINS');
    args.unshift('-c', '.venv/scaleswe-constraints.txt');
  }
  lines.push(`pi ${args.map(q).join(' ')}`);
  if (p.editable) lines.push('pe');
  if (p.perTestLimit) {
    // Its own call, after the project's: a plugin that does not resolve for this era must not
    // cost the environment. Without it PYTEST_TIMEOUT is simply ignored.
    const pins = p.pins.length ? '-c .venv/scaleswe-constraints.txt ' : '';
    lines.push(
      `pi ${pins}pytest-timeout || echo 'scaleswe: pytest-timeout not installable: no per-test limit' >&2`,
    );
  }
  return `${SETUP_HEADER}${lines.join('\n')}\n`;
}

function requirementArgs(deps: TestDeps, extra: string[]): string[] {
  return [...deps.requirementFiles.flatMap((f) => ['-r', f]), ...extra, ...deps.requirements, 'pytest'];
}

/** The project's own requirements and those of its test extras, for the flat layout (nothing built). */
function flatRequirements(facts: RepoFacts, extras: string[], setupPyProbe: string | undefined): string[] {
  const project = (tomlOf(facts.manifests['pyproject.toml']).project ?? {}) as Record<string, unknown>;
  const setupPy = parseSetupPyProbe(setupPyProbe);
  const list = (v: unknown) =>
    Array.isArray(v) ? v.filter((x) => typeof x === 'string') : typeof v === 'string' ? [v] : [];
  const optional = (project['optional-dependencies'] ?? {}) as Record<string, unknown>;
  const setupExtras = setupPy.extras_require ?? {};
  return [
    ...list(project.dependencies),
    ...list(setupPy.install_requires),
    ...extras.flatMap((e) => [...list(optional[e]), ...list(setupExtras[e])]),
  ];
}

function recipes(facts: RepoFacts): Recipe[] {
  const has = (f: string) => facts.files.includes(f);
  const installable = has('pyproject.toml') || has('setup.py') || has('setup.cfg');
  const setupPy = parseSetupPyProbe(facts.probes?.['python-setup-py']);
  const deps = testDeps(facts.files, facts.manifests, setupPy);
  const discovered = parseInterpreters(facts.probes?.['python-interpreters'] ?? '');
  // Nothing discovered (no probe, or an image without pyenv/uv): PATH's python3, as before.
  const interpreters: (Interpreter | undefined)[] = discovered.length
    ? rankInterpreters(discovered, pythonConstraints(facts.manifests, setupPy), facts.createdAt)
    : [undefined];
  const boot =
    [...discovered]
      .filter((i) => Number(minorOf(i.version).split('.')[1]) >= 8)
      .sort((a, b) => b.version.localeCompare(a.version, undefined, { numeric: true }))[0]?.path ?? 'python3';
  // A committed lockfile pins the era itself; a cutoff on top could only conflict with it.
  const cutoff = deps.lockPins.length ? undefined : isoDate(facts.createdAt);
  const out: Recipe[] = [];
  for (const python of interpreters) {
    const perTestLimit = facts.perTestTimeoutSeconds !== undefined;
    const common = { python, boot, cutoff, pins: deps.lockPins, perTestLimit };
    // pytest-timeout reads PYTEST_TIMEOUT: a hanging test fails alone, the run goes on.
    const pytest = perTestLimit ? `PYTEST_TIMEOUT=${facts.perTestTimeoutSeconds} ${PYTEST}` : PYTEST;
    const toolchain = python ? { toolchain: { python: python.version } } : {};
    if (installable) {
      const target = deps.extras.length ? `.[${deps.extras.join(',')}]` : '.';
      out.push({
        setupScript: setupScript({ ...common, install: requirementArgs(deps, [target]), editable: true }),
        testCommand: pytest,
        resultFormat: 'pytest',
        source: 'deterministic',
        ...toolchain,
      });
    }
    // Flat layouts (or packages that do not build): dependencies only, sources from the checkout.
    const flat = flatRequirements(facts, deps.extras, facts.probes?.['python-setup-py']);
    out.push({
      setupScript: setupScript({ ...common, install: requirementArgs(deps, flat), editable: false }),
      testCommand: `PYTHONPATH=.:src ${pytest}`,
      resultFormat: 'pytest',
      source: 'deterministic',
      ...toolchain,
    });
  }
  return out;
}

const REPAIR_MARK = '  # scaleswe: installed for a failed import';
const SCM_MARK =
  '  # scaleswe: the checkout has no tags, a test dependency needs the project at this version';

/**
 * A collection error naming a missing module: install its distribution (same installer, same
 * cutoff) at the end of the setup script, so the replay does the same.
 */
function repair(recipe: Recipe, output: string, facts: RepoFacts): Recipe | undefined {
  if (recipe.source !== 'deterministic' || !/^\s*pi\(\) \{/m.test(recipe.setupScript)) return undefined;
  const pretend = scmPretendVersion(output);
  if (pretend && !recipe.setupScript.includes(SCM_MARK)) {
    // Before the installs, so the resolver and the editable build both see the version.
    const at = recipe.setupScript.indexOf('\nPY=');
    if (at < 0) return undefined;
    const line = `\nexport SETUPTOOLS_SCM_PRETEND_VERSION=${q(pretend)}${SCM_MARK}`;
    return { ...recipe, setupScript: recipe.setupScript.slice(0, at) + line + recipe.setupScript.slice(at) };
  }
  if (!/ERROR collecting|ImportError while (loading conftest|importing test module)/.test(output))
    return undefined;
  const done = recipe.setupScript
    .split('\n')
    .filter((l) => l.endsWith(REPAIR_MARK))
    .flatMap((l) => l.replace(REPAIR_MARK, '').split(/\s+/).slice(1))
    .map((d) => d.replace(/^'|'$/g, ''));
  const dists = distributionsFor(output, facts.files, done);
  if (!dists.length) return undefined;
  return { ...recipe, setupScript: `${recipe.setupScript}pi ${dists.map(q).join(' ')}${REPAIR_MARK}\n` };
}

function classifyEnvFailure(
  facts: RepoFacts,
  attempts: readonly EnvAttemptOutput[],
): { reason: string; message: string } | undefined {
  const setupPy = parseSetupPyProbe(facts.probes?.['python-setup-py']);
  const discovered = parseInterpreters(facts.probes?.['python-interpreters'] ?? '');
  const constraints = pythonConstraints(facts.manifests, setupPy);
  if (discovered.length && !rankInterpreters(discovered, constraints, facts.createdAt).length)
    return {
      reason: 'InterpreterUnsupported',
      message: `requires-python ${constraints.requiresPython}: no interpreter here satisfies it (have ${discovered.map((i) => i.version).join(', ')})`,
    };
  const classes = attempts.map((a) => classifyPythonOutput(a.output, a.phase));
  for (const reason of [
    'InterpreterUnsupported',
    'DependencyResolutionFailed',
    'TestCollectionFailed',
  ] as const) {
    const n = classes.filter((c) => c === reason).length;
    // The cause of most attempts, not of one stray fallback.
    if (n > 0 && n * 2 >= attempts.length)
      return { reason, message: `${n} of ${attempts.length} attempt(s): ${REASON_TEXT[reason]}` };
  }
  return undefined;
}

const REASON_TEXT = {
  InterpreterUnsupported:
    'the code needs a Python this machine does not have (removed stdlib API, requires-python)',
  DependencyResolutionFailed: 'the dependencies could not be resolved or found',
  TestCollectionFailed: 'setup worked but the tests could not be collected (import errors)',
};

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
  envManifests: ['pyproject.toml', 'setup.cfg', 'tox.ini', 'Pipfile'],
  envFiles: [
    /^(uv\.lock|poetry\.lock|Pipfile\.lock|\.python-version)$/,
    /^\.github\/workflows\/[^/]+\.ya?ml$/,
  ],
  probes: { 'python-interpreters': DISCOVER_INTERPRETERS, 'python-setup-py': READ_SETUP_PY },
  resultFormats: ['pytest'],
  recipes,
  // pytest takes test files as arguments; conftest.py and helpers are not collected alone.
  scopeTests(recipe, testFiles) {
    if (recipe.resultFormat !== 'pytest' || !/\bpytest\b/.test(recipe.testCommand)) return undefined;
    const files = testFiles.filter((f) => /(^|\/)(test_[^/]*|[^/]*_test)\.py$/.test(f));
    return files.length === 0 ? undefined : `${recipe.testCommand} ${files.map(shellWord).join(' ')}`;
  },
  repair,
  classifyEnvFailure,
  cacheEnv: (cacheDir) => ({ PIP_CACHE_DIR: join(cacheDir, 'pip'), UV_CACHE_DIR: join(cacheDir, 'uv') }),
  coverage: coveragePy,
  mutation: {
    lineComment: '#',
    quotes: `'"`,
    blocks: [
      ['"""', '"""'],
      ["'''", "'''"],
    ],
    booleans: ['True', 'False'],
    logical: ['and', 'or'],
    neutralReturn: 'None',
    deletedStatement: 'pass',
    skip: /^(import\s|from\s+\S+\s+import\s|@|(async\s+)?def\s|class\s|["'])/,
  },
  lock: {
    // Exact pins only: the project's own editable install and direct URLs are not constraints.
    freeze:
      "if [ -x .venv/bin/python ]; then .venv/bin/python -m pip freeze --exclude-editable 2>/dev/null || uv pip freeze --python .venv/bin/python --exclude-editable; fi | grep -E '^[A-Za-z0-9._-]+==[^ ;]+$' | sort -f",
    // pip and uv both read their constraints from the environment, so any recipe's installs obey.
    replayEnv: (lockFile) => ({ PIP_CONSTRAINT: lockFile, UV_CONSTRAINT: lockFile }),
  },
};
