import { describe, expect, it } from 'vitest';
import { python } from './python.ts';
import {
  lockPins,
  parseSetupPyProbe,
  poetryToPep440,
  pythonConstraints,
  requirementFiles,
  testDeps,
  toxMinors,
  workflowMinors,
} from './python-metadata.ts';
import { classifyPythonOutput, distributionsFor, scmPretendVersion } from './python-repair.ts';
import { type Interpreter, parseInterpreters, rankInterpreters } from './python-versions.ts';

const MACHINE: Interpreter[] = [
  '3.6.15',
  '3.7.16',
  '3.8.18',
  '3.9.18',
  '3.10.13',
  '3.11.7',
  '3.12.1',
  '3.13.0',
].map((v) => ({ version: v, path: `/py/${v}/bin/python3` }));
const versions = (is: Interpreter[]) => is.map((i) => i.version);

describe('interpreter choice', () => {
  it('parses the discovery probe, first path per version', () => {
    expect(
      parseInterpreters(
        '3.9.18 /a/python3\n3.9.18 /b/python3.9\nnoise\n2.7.18 /c/python2\n3.13.0 /d/python3.13\n',
      ),
    ).toEqual([
      { version: '3.9.18', path: '/a/python3' },
      { version: '2.7.18', path: '/c/python2' },
      { version: '3.13.0', path: '/d/python3.13' },
    ]);
  });
  it('newest within requires-python first, older ones as fallback', () => {
    expect(versions(rankInterpreters(MACHINE, { requiresPython: '>=3.8,<3.12', declared: [] }))).toEqual([
      '3.11.7',
      '3.10.13',
      '3.9.18',
    ]);
    expect(versions(rankInterpreters(MACHINE, { requiresPython: '~=3.7.0', declared: [] }))).toEqual([
      '3.7.16',
    ]);
    expect(rankInterpreters(MACHINE, { requiresPython: '>=3.14', declared: [] })).toEqual([]);
  });
  it("the PR's date excludes interpreters released after it; newer ones come last, oldest first", () => {
    // 2021-06: 3.10 (October 2021) did not exist yet.
    expect(versions(rankInterpreters(MACHINE, { declared: [] }, '2021-06-01T00:00:00Z', 9))).toEqual([
      '3.9.18',
      '3.8.18',
      '3.7.16',
      '3.6.15',
      '3.10.13',
      '3.11.7',
      '3.12.1',
      '3.13.0',
    ]);
  });
  it('the pinned version, then the declared ones, lead within the era', () => {
    const c = { declared: ['3.7', '3.8'], pinned: '3.7' };
    expect(versions(rankInterpreters(MACHINE, c, '2022-01-01T00:00:00Z'))).toEqual([
      '3.7.16',
      '3.8.18',
      '3.10.13',
    ]);
    expect(versions(rankInterpreters(MACHINE, { declared: ['3.8'] }, '2022-01-01T00:00:00Z'))).toEqual([
      '3.8.18',
      '3.10.13',
      '3.9.18',
    ]);
  });
  it('an unreadable specifier constrains nothing; Python 2 is never chosen', () => {
    const some = [...MACHINE, { version: '2.7.18', path: '/py/2/bin/python2' }];
    expect(
      versions(rankInterpreters(some, { requiresPython: '>=3.6.*', declared: [] }, undefined, 1)),
    ).toEqual(['3.13.0']);
  });
});

describe('metadata readers', () => {
  it('requires-python from pyproject, setup.py (ast probe), setup.cfg or poetry', () => {
    expect(
      pythonConstraints({ 'pyproject.toml': '[project]\nrequires-python = ">=3.8"\n' }, {}).requiresPython,
    ).toBe('>=3.8');
    expect(
      pythonConstraints({}, parseSetupPyProbe('{"python_requires": ">=3.6, <3.10"}')).requiresPython,
    ).toBe('>=3.6, <3.10');
    expect(
      pythonConstraints({ 'setup.cfg': '[options]\npython_requires = >=3.7\n' }, {}).requiresPython,
    ).toBe('>=3.7');
    expect(
      pythonConstraints({ 'pyproject.toml': '[tool.poetry.dependencies]\npython = "^3.8"\n' }, {})
        .requiresPython,
    ).toBe('>=3.8,<4');
    expect(poetryToPep440('~2.1')).toBe('>=2.1,<2.2');
    expect(poetryToPep440('^0.3.1')).toBe('>=0.3.1,<0.4');
    expect(poetryToPep440('1.2.3')).toBe('==1.2.3');
  });
  it('declared minors from classifiers, tox envlist, CI matrices; the .python-version pin', () => {
    const c = pythonConstraints(
      {
        'setup.cfg': '[metadata]\nclassifiers =\n    Programming Language :: Python :: 3.6\n',
        'tox.ini': '[tox]\nenvlist = py{37,38}-django, py3.9, lint\n',
        '.github/workflows/ci.yml':
          'jobs:\n  t:\n    strategy:\n      matrix:\n        python-version: [3.10, "3.11", pypy-3.9]\n',
        '.python-version': '3.8.12\n',
      },
      {},
    );
    expect(c).toEqual({
      requiresPython: undefined,
      declared: ['3.10', '3.11', '3.6', '3.7', '3.8', '3.9'],
      pinned: '3.8',
    });
    expect(toxMinors('[tox]\nenvlist = py27,py35\n')).toEqual(['3.5']);
    expect(
      workflowMinors('steps:\n  - uses: actions/setup-python@v5\n    with: {python-version: "3.12"}\n'),
    ).toEqual(['3.12']);
  });
  it('test extras from dotted TOML keys, setup.py extras_require and setup.cfg', () => {
    const dotted = '[project]\nname = "x"\nversion = "1"\noptional-dependencies.test = ["simplejson"]\n';
    expect(testDeps([], { 'pyproject.toml': dotted }, {}).extras).toEqual(['test']);
    const fromSetupPy = parseSetupPyProbe(
      '{"extras_require": {"testing": ["simplejson"], "docs": ["sphinx"]}}',
    );
    expect(testDeps([], {}, fromSetupPy).extras).toEqual(['testing']);
    expect(
      testDeps([], { 'setup.cfg': '[options.extras_require]\ntest =\n    pytest\nfast = ujson\n' }, {})
        .extras,
    ).toEqual(['test']);
  });
  it('test requirements from groups, poetry, pdm, hatch, Pipfile, tox and setup.py tests_require', () => {
    const pyproject = `
[dependency-groups]
lint = ["ruff"]
test = ["pytest>=7", {include-group = "base"}]
base = ["attrs"]
[tool.poetry.group.dev.dependencies]
mock = "^4.0"
local = { path = "../x" }
[tool.pdm.dev-dependencies]
test = ["hypothesis", "-e file:///x"]
[tool.hatch.envs.default]
dependencies = ["coverage[toml]"]
`;
    const deps = testDeps(
      ['tox.ini', 'requirements/test.txt'],
      {
        'pyproject.toml': pyproject,
        Pipfile: '[dev-packages]\nfreezegun = "*"\nresponses = {version = ">=0.10", extras = ["x"]}\n',
        'tox.ini':
          '[testenv]\ndeps =\n    py38: six\n    pytestmain: git+https://example.com/pytest.git@main\n    -r{toxinidir}/requirements/test.txt\n    {[base]deps}\n',
      },
      parseSetupPyProbe('{"tests_require": ["nose"]}'),
    );
    expect(deps.requirements).toEqual([
      'nose',
      'pytest>=7',
      'attrs',
      'mock>=4.0,<5',
      'hypothesis',
      'coverage[toml]',
      'freezegun',
      'responses[x]>=0.10',
      'six',
    ]);
    expect(deps.requirementFiles).toEqual(['requirements/test.txt']);
  });
  it('requirement files of the usual layouts; .in only without its .txt; docs skipped', () => {
    expect(
      requirementFiles([
        'requirements.txt',
        'requirements-dev.txt',
        'test-requirements.txt',
        'requirements/docs.txt',
        'requirements/tests.in',
        'requirements/base.in',
        'requirements/base.txt',
        'src/requirements.txt',
      ]),
    ).toEqual([
      'requirements.txt',
      'requirements/base.txt',
      'requirements-dev.txt',
      'requirements/tests.in',
      'test-requirements.txt',
    ]);
  });
  it('lockfile pins: uv.lock and poetry.lock without the project itself, Pipfile.lock', () => {
    const uvLock =
      'version = 1\n[[package]]\nname = "me"\nversion = "0.1"\nsource = { editable = "." }\n[[package]]\nname = "six"\nversion = "1.16.0"\nsource = { registry = "https://pypi.org/simple" }\n';
    expect(lockPins({ 'uv.lock': uvLock })).toEqual({ lockfile: 'uv.lock', pins: ['six==1.16.0'] });
    const pipfileLock = JSON.stringify({
      default: { six: { version: '==1.16.0' } },
      develop: { pytest: { version: '==6.2.5' } },
    });
    expect(lockPins({ 'Pipfile.lock': pipfileLock })).toEqual({
      lockfile: 'Pipfile.lock',
      pins: ['pytest==6.2.5', 'six==1.16.0'],
    });
  });
});

describe('python recipes', () => {
  const probes = {
    'python-interpreters': MACHINE.map((i) => `${i.version} ${i.path}`).join('\n'),
    'python-setup-py': '{"python_requires": "<3.11", "extras_require": {"test": ["simplejson"]}}',
  };
  it('venv on the chosen interpreter, date cutoff, toolchain recorded, fallbacks on older ones', () => {
    const rs = python.recipes({
      files: ['setup.py'],
      manifests: {},
      probes,
      createdAt: '2021-06-01T12:00:00Z',
    });
    expect(rs.map((r) => r.toolchain?.python)).toEqual([
      '3.9.18',
      '3.9.18',
      '3.8.18',
      '3.8.18',
      '3.7.16',
      '3.7.16',
    ]);
    const first = rs[0]!.setupScript;
    expect(first).toContain('\nPY=/py/3.9.18/bin/python3\n');
    expect(first).toContain('\nexport UV_EXCLUDE_NEWER=2021-06-01T12:00:00Z\n');
    expect(first).toContain('UV_PYTHON_DOWNLOADS=never');
    expect(first).toContain("\npi '.[test]' pytest\npe\n");
    // The flat layout installs the extras' requirements themselves.
    expect(rs[1]!.setupScript).toContain('\npi simplejson pytest\n');
    // 3.7 cannot run uv: pip, no cutoff.
    expect(rs[4]!.setupScript).not.toContain('UV=');
  });
  it('a lockfile replaces the cutoff by constraints', () => {
    const rs = python.recipes({
      files: ['pyproject.toml', 'uv.lock'],
      manifests: {
        'pyproject.toml': '[project]\nname = "me"\nversion = "1"\n',
        'uv.lock': '[[package]]\nname = "six"\nversion = "1.16.0"\n',
      },
      probes,
      createdAt: '2021-06-01T12:00:00Z',
    });
    expect(rs[0]!.setupScript).not.toContain('UV_EXCLUDE_NEWER');
    expect(rs[0]!.setupScript).toContain(
      "SCALESWE_PINS'\nsix==1.16.0\nSCALESWE_PINS\npi -c .venv/scaleswe-constraints.txt '.[test]' pytest\n",
    );
  });
  it('no interpreter satisfies requires-python: no recipe, classified InterpreterUnsupported', () => {
    const facts = {
      files: ['pyproject.toml'],
      manifests: { 'pyproject.toml': '[project]\nname = "x"\nrequires-python = ">=3.20"\n' },
      probes,
    };
    expect(python.recipes(facts)).toEqual([]);
    expect(python.classifyEnvFailure!(facts, [])).toMatchObject({ reason: 'InterpreterUnsupported' });
  });
  it('the repair loop installs the distribution of a module the tests could not import, once', () => {
    const [recipe] = python.recipes({ files: ['setup.py', 'pkg/__init__.py'], manifests: {}, probes });
    const output =
      "ImportError while loading conftest '/x/tests/conftest.py'.\nE   ModuleNotFoundError: No module named 'yaml'\nE   ModuleNotFoundError: No module named 'pkg.sub'\n";
    const repaired = python.repair!(recipe!, output, {
      files: ['setup.py', 'pkg/__init__.py'],
      manifests: {},
    });
    expect(repaired!.setupScript.endsWith('\npi PyYAML  # scaleswe: installed for a failed import\n')).toBe(
      true,
    );
    expect(python.repair!(repaired!, output, { files: ['pkg/__init__.py'], manifests: {} })).toBeUndefined();
    expect(
      python.repair!({ ...recipe!, source: 'llm' }, output, { files: [], manifests: {} }),
    ).toBeUndefined();
  });
  it('a test dependency needs the VCS-versioned project itself: the setup claims the version it asks for', () => {
    // uv's words for filelock#345: the tagless checkout makes hatch-vcs call it 0.1.dev1.
    const uv =
      'Error: No solution found when resolving dependencies\n  cause: Because virtualenv>=20.26.2 depends on filelock>=3.12.2,<4 and filelock[testing]==0.1.dev1+g81d4cf9 depends on virtualenv>=20.26.2, we can conclude that filelock[testing]==0.1.dev1+g81d4cf9 depends on filelock>=3.12.2,<4.\n';
    const facts = { files: ['pyproject.toml', 'src/filelock/__init__.py'], manifests: {}, probes };
    const [recipe] = python.recipes(facts);
    const repaired = python.repair!(recipe!, uv, facts);
    const lines = repaired!.setupScript.split('\n');
    const at = lines.findIndex((l) => l.startsWith('export SETUPTOOLS_SCM_PRETEND_VERSION=3.12.2  #'));
    expect(at).toBeGreaterThan(0);
    expect(at).toBeLessThan(lines.findIndex((l) => l.startsWith('PY=')));
    // Once: the same output again changes nothing.
    expect(python.repair!(repaired!, uv, facts)).toBeUndefined();
    // pip's words; the highest lower bound wins; other packages' dev versions are not the project.
    expect(
      scmPretendVersion(
        'The conflict is caused by:\n    my-proj[test] 0.1.dev3+gabc1234 depends on tox>=4\n    tox 4.0 depends on my_proj<9 and >=2.1\n    plugin 1.0 depends on my.proj>=2.10.1\n',
      ),
    ).toBe('2.10.1');
    expect(scmPretendVersion('filelock==0.1.dev1+g81d4cf9 depends on virtualenv>=20')).toBeUndefined();
    expect(
      scmPretendVersion('Because foo>=1 depends on bar>=2.0 and bar==0.1.0 is available'),
    ).toBeUndefined();
  });
  it('maps import names to distributions, skipping local and removed stdlib modules', () => {
    const out =
      "E ModuleNotFoundError: No module named 'sklearn.linear_model'\nE ModuleNotFoundError: No module named 'imp'\n" +
      "E ModuleNotFoundError: No module named 'mylib'\nE ImportError: No module named foo_bar";
    expect(distributionsFor(out, ['src/mylib/__init__.py'], [])).toEqual(['scikit-learn', 'foo-bar']);
  });
  it('classifies failed runs', () => {
    expect(classifyPythonOutput("ModuleNotFoundError: No module named 'imp'", 'tests')).toBe(
      'InterpreterUnsupported',
    );
    expect(
      classifyPythonOutput("AttributeError: module 'inspect' has no attribute 'formatargspec'", 'tests'),
    ).toBe('InterpreterUnsupported');
    expect(classifyPythonOutput('  × No solution found when resolving dependencies:', 'setup')).toBe(
      'DependencyResolutionFailed',
    );
    expect(classifyPythonOutput('ERROR collecting tests/test_x.py', 'tests')).toBe('TestCollectionFailed');
    expect(classifyPythonOutput('boom', 'setup')).toBeUndefined();
  });
});
