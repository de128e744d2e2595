/**
 * Readers of Python project metadata at a base commit: pure functions over file contents
 * (TOML with a real parser, setup.cfg/tox.ini as INI sections, workflows as YAML) and over the
 * JSON the sandbox's `ast` probe prints for setup.py (never executed).
 */
import { parse as parseToml } from 'smol-toml';
import { parse as parseYaml } from 'yaml';
import { minorOf, type PythonConstraints } from './python-versions.ts';

type Table = Record<string, unknown>;

/** What the setup.py probe reports: literal keyword arguments of the `setup()` call. */
export interface SetupPyFacts {
  python_requires?: string;
  extras_require?: Record<string, string | string[]>;
  install_requires?: string | string[];
  tests_require?: string | string[];
  classifiers?: string[];
}

/** Everything the recipes install for the tests, besides the project's own dependencies. */
export interface TestDeps {
  /** Extras of the project itself (`.[test]`). */
  extras: string[];
  /** PEP 508 requirement strings. */
  requirements: string[];
  /** Requirement files, relative to the root. */
  requirementFiles: string[];
  /** Pins (`name==version`) from a committed lockfile; empty when there is none. */
  lockPins: string[];
  /** Which lockfile the pins come from. */
  lockfile?: string | undefined;
}

/** Group names (extras, dependency groups, envs) that hold what the tests need. */
const TEST_GROUP = /^(test|tests|testing|dev|develop|development|unit|pytest)$/i;

export function tomlOf(text: string | undefined): Table {
  if (!text) return {};
  try {
    return parseToml(text) as Table;
  } catch {
    return {};
  }
}

function table(v: unknown): Table {
  return v && typeof v === 'object' && !Array.isArray(v) ? (v as Table) : {};
}

function strings(v: unknown): string[] {
  if (typeof v === 'string')
    return v
      .split('\n')
      .map((s) => s.trim())
      .filter(Boolean);
  return Array.isArray(v) ? v.filter((x): x is string => typeof x === 'string') : [];
}

export function parseSetupPyProbe(output: string | undefined): SetupPyFacts {
  try {
    const v = JSON.parse(output?.trim() || '{}');
    return v && typeof v === 'object' ? (v as SetupPyFacts) : {};
  } catch {
    return {};
  }
}

/** The lines of one `[section]` of an INI-style file (setup.cfg, tox.ini), comments dropped. */
export function iniSection(text: string | undefined, name: string): string[] {
  const lines = (text ?? '').split(/\r?\n/);
  const out: string[] = [];
  let inside = false;
  for (const line of lines) {
    const header = /^\s*\[([^\]]+)\]\s*$/.exec(line);
    if (header) {
      inside = header[1]!.trim() === name;
      continue;
    }
    if (inside && !/^\s*[#;]/.test(line)) out.push(line);
  }
  return out;
}

/** `key = value` entries of INI lines, continuation lines (indented) joined with newlines. */
export function iniEntries(lines: string[]): Record<string, string> {
  const out: Record<string, string> = {};
  let key: string | undefined;
  for (const line of lines) {
    const kv = /^([A-Za-z0-9_.:-][^=]*?)\s*=\s*(.*)$/.exec(line);
    if (kv && !/^\s/.test(line)) {
      key = kv[1]!.trim();
      out[key] = kv[2]!.trim();
    } else if (key && /^\s+\S/.test(line)) {
      out[key] = `${out[key]}\n${line.trim()}`.trim();
    }
  }
  return out;
}

/** Minor versions named by trove classifiers (`Programming Language :: Python :: 3.9`). */
export function classifierMinors(text: string): string[] {
  return [...text.matchAll(/Programming Language :: Python :: (3\.\d+)/g)].map((m) => m[1]!);
}

/** Minor versions of tox's envlist: `py39`, `py3.10`, `py{38,39}-django…`. */
export function toxMinors(toxIni: string | undefined): string[] {
  const envlist = iniEntries(iniSection(toxIni, 'tox')).envlist ?? '';
  const out: string[] = [];
  for (const m of envlist.matchAll(/py\{([\d,.\s]+)\}/g))
    for (const v of m[1]!.split(',')) out.push(...toxMinors(`[tox]\nenvlist = py${v.trim()}`));
  for (const m of envlist.matchAll(/\bpy3\.?(\d{1,2})\b/g)) out.push(`3.${m[1]}`);
  return out;
}

/** `python-version` values of GitHub workflows (matrices and setup-python inputs). */
export function workflowMinors(workflow: string): string[] {
  let doc: unknown;
  try {
    // failsafe: every scalar stays a string, so 3.10 is not read as 3.1.
    doc = parseYaml(workflow, { schema: 'failsafe' });
  } catch {
    return [];
  }
  const out: string[] = [];
  const walk = (v: unknown): void => {
    if (Array.isArray(v)) v.forEach(walk);
    else if (v && typeof v === 'object')
      for (const [k, x] of Object.entries(v)) {
        if (/^python(-version|_version|-versions)?$/.test(k))
          for (const s of [x].flat(2)) if (typeof s === 'string' && /^3\.\d+/.test(s)) out.push(minorOf(s));
        walk(x);
      }
  };
  walk(doc);
  return out;
}

/** A poetry version constraint (`^3.8`, `~2.1`, `>=3.7,<4`, `*`) as a PEP 440 specifier set. */
export function poetryToPep440(c: string): string {
  return c
    .split(',')
    .map((part) => {
      const p = part.trim();
      const caret = /^\^(\d+)(?:\.(\d+))?(?:\.(\d+))?$/.exec(p);
      if (caret) {
        const [maj, min, pat] = [Number(caret[1]), caret[2], caret[3]];
        const lower = [maj, min, pat].filter((x) => x !== undefined).join('.');
        // ^0.x pins the minor, ^x the major (poetry's semantics).
        const upper = maj > 0 || min === undefined ? `${maj + 1}` : `0.${Number(min) + 1}`;
        return `>=${lower},<${upper}`;
      }
      const tilde = /^~(\d+)(?:\.(\d+))?(?:\.(\d+))?$/.exec(p);
      if (tilde) {
        const lower = [tilde[1], tilde[2], tilde[3]].filter((x) => x !== undefined).join('.');
        const upper =
          tilde[2] === undefined ? `${Number(tilde[1]) + 1}` : `${tilde[1]}.${Number(tilde[2]) + 1}`;
        return `>=${lower},<${upper}`;
      }
      if (p === '*' || p === '') return '';
      if (/^\d/.test(p)) return `==${p}`;
      return p;
    })
    .filter(Boolean)
    .join(',');
}

/** What the repository says about its interpreter. */
export function pythonConstraints(
  manifests: Record<string, string>,
  setupPy: SetupPyFacts,
): PythonConstraints {
  const pyproject = tomlOf(manifests['pyproject.toml']);
  const project = table(pyproject.project);
  const poetryPython = table(table(table(pyproject.tool).poetry).dependencies).python;
  const cfg = iniEntries(iniSection(manifests['setup.cfg'], 'options'));
  const requiresPython =
    (typeof project['requires-python'] === 'string' ? project['requires-python'] : undefined) ??
    (typeof setupPy.python_requires === 'string' ? setupPy.python_requires : undefined) ??
    cfg.python_requires ??
    (typeof poetryPython === 'string' ? poetryToPep440(poetryPython) : undefined);
  const declared = new Set<string>([
    ...classifierMinors(strings(project.classifiers).join('\n')),
    ...classifierMinors(strings(setupPy.classifiers).join('\n')),
    ...classifierMinors(manifests['setup.cfg'] ?? ''),
    ...toxMinors(manifests['tox.ini']),
    ...Object.entries(manifests)
      .filter(([f]) => /^\.github\/workflows\/[^/]+\.ya?ml$/.test(f))
      .flatMap(([, text]) => workflowMinors(text)),
  ]);
  const pinned = /^\s*(3\.\d+)/m.exec(manifests['.python-version'] ?? '')?.[1];
  return { requiresPython: requiresPython?.trim() || undefined, declared: [...declared].sort(), pinned };
}

/** One requirement of poetry/Pipfile (`name = "^1.2"` or `name = {version = "…", extras = […]}`). */
function tableRequirement(name: string, spec: unknown, convert: (c: string) => string): string | undefined {
  if (name.toLowerCase() === 'python') return undefined;
  if (typeof spec === 'string') return `${name}${spec === '*' ? '' : convert(spec)}`;
  const t = table(spec);
  // Paths, VCS and URL sources need more than a requirement string: leave them to the repair loop.
  if (t.path || t.git || t.url || t.file) return undefined;
  const extras = strings(t.extras);
  const version = typeof t.version === 'string' && t.version !== '*' ? convert(t.version) : '';
  return `${name}${extras.length ? `[${extras.join(',')}]` : ''}${version}`;
}

/** PEP 735 group, following `{include-group = "…"}` entries (cycles stop). */
function dependencyGroup(groups: Table, name: string, seen = new Set<string>()): string[] {
  if (seen.has(name)) return [];
  seen.add(name);
  const entries = Array.isArray(groups[name]) ? (groups[name] as unknown[]) : [];
  return entries.flatMap((e) => {
    if (typeof e === 'string') return [e];
    const inc = table(e)['include-group'];
    return typeof inc === 'string' ? dependencyGroup(groups, inc, seen) : [];
  });
}

const REQUIREMENT_FILE =
  /^((requirements([-_.](dev|develop|test|tests|testing|ci|base|common))?|(dev|test|tests|testing)[-_]requirements)\.(txt|in)|requirements\/[^/]+\.(txt|in))$/;

/** Requirement files of the usual test/dev layouts; a `.in` only when its compiled `.txt` is absent. */
export function requirementFiles(files: readonly string[]): string[] {
  const found = files.filter((f) => REQUIREMENT_FILE.test(f) && !/docs?|lint|mypy|typing|py2/i.test(f));
  const set = new Set(found);
  return found
    .filter((f) => !(f.endsWith('.in') && set.has(f.replace(/\.in$/, '.txt'))))
    .sort((a, b) => Number(/dev|test|ci/.test(a)) - Number(/dev|test|ci/.test(b)) || a.localeCompare(b));
}

/**
 * tox's `[testenv]` deps: plain requirements and `-r` files; substitutions skipped. A dep
 * conditional on interpreter factors (`py38:`) is kept (the interpreter is chosen apart); one
 * conditional on another factor (`pytestmain: git+…`, `django22:`) belongs to a variant env only.
 */
export function toxDeps(toxIni: string | undefined): { requirements: string[]; files: string[] } {
  const deps = iniEntries(iniSection(toxIni, 'testenv')).deps ?? '';
  const requirements: string[] = [];
  const files: string[] = [];
  for (const raw of deps.split('\n')) {
    const factors = /^\s*([\w,!.-]+):\s+/.exec(raw)?.[1];
    if (factors && !factors.split(',').every((f) => /^!?(py|pypy)\d[\d.]*$/.test(f))) continue;
    const line = raw
      .replace(/^\s*[\w,!.-]+:\s+/, '')
      .replace(/\{toxinidir\}\//g, '')
      .trim();
    if (!line || line.includes('{') || line.startsWith('#')) continue;
    const r = /^-r\s*(\S+)$/.exec(line);
    if (r) files.push(r[1]!);
    else if (!line.startsWith('-')) requirements.push(line);
  }
  return { requirements, files };
}

/** Pins of a committed lockfile, used as constraints: only what gets installed is pinned. */
export function lockPins(manifests: Record<string, string>): { lockfile?: string; pins: string[] } {
  for (const lockfile of ['uv.lock', 'poetry.lock']) {
    const packages = tomlOf(manifests[lockfile]).package;
    if (!Array.isArray(packages)) continue;
    const pins = packages
      .map(table)
      .filter((p) => {
        const source = table(p.source);
        // The project itself and path/VCS sources cannot be pinned by version.
        return !(
          source.editable ||
          source.virtual ||
          source.directory ||
          source.path ||
          source.git ||
          source.url
        );
      })
      .filter((p) => typeof p.name === 'string' && typeof p.version === 'string')
      .map((p) => `${p.name}==${p.version}`);
    if (pins.length) return { lockfile, pins: [...new Set(pins)].sort() };
  }
  try {
    const lock = JSON.parse(manifests['Pipfile.lock'] ?? '') as Record<
      string,
      Record<string, { version?: string }>
    >;
    const pins = Object.entries({ ...lock.default, ...lock.develop })
      .filter(([, v]) => typeof v?.version === 'string' && v.version.startsWith('=='))
      .map(([name, v]) => `${name}${v.version}`);
    if (pins.length) return { lockfile: 'Pipfile.lock', pins: pins.sort() };
  } catch {
    // no Pipfile.lock
  }
  return { pins: [] };
}

/**
 * Test dependencies from everywhere maintainers declare them: project extras (pyproject,
 * setup.py, setup.cfg), setup.py tests_require, PEP 735 groups, poetry groups and
 * dev-dependencies, pdm dev-dependencies, hatch envs, Pipfile dev-packages, tox testenv deps
 * and requirement files of the usual test/dev layouts.
 */
export function testDeps(
  files: readonly string[],
  manifests: Record<string, string>,
  setupPy: SetupPyFacts,
): TestDeps {
  const pyproject = tomlOf(manifests['pyproject.toml']);
  const tool = table(pyproject.tool);
  const extras = new Set<string>();
  const requirements: string[] = [];
  const isTest = (name: string) => TEST_GROUP.test(name);
  for (const name of Object.keys(table(table(pyproject.project)['optional-dependencies']))) extras.add(name);
  for (const name of Object.keys(table(setupPy.extras_require))) if (!name.includes(':')) extras.add(name);
  for (const name of Object.keys(iniEntries(iniSection(manifests['setup.cfg'], 'options.extras_require'))))
    extras.add(name);
  requirements.push(...strings(setupPy.tests_require));
  const groups = table(pyproject['dependency-groups']);
  for (const name of Object.keys(groups))
    if (isTest(name)) requirements.push(...dependencyGroup(groups, name));
  const poetry = table(tool.poetry);
  const poetryGroups: Table[] = [table(poetry['dev-dependencies'])];
  for (const [name, g] of Object.entries(table(poetry.group)))
    if (isTest(name)) poetryGroups.push(table(table(g).dependencies));
  for (const g of poetryGroups)
    for (const [name, spec] of Object.entries(g)) {
      const r = tableRequirement(name, spec, poetryToPep440);
      if (r) requirements.push(r);
    }
  for (const [name, g] of Object.entries(table(table(tool.pdm)['dev-dependencies'])))
    if (isTest(name)) requirements.push(...strings(g).filter((r) => !r.startsWith('-e')));
  for (const [name, env] of Object.entries(table(table(tool.hatch).envs)))
    if (name === 'default' || isTest(name))
      requirements.push(...strings(table(env).dependencies), ...strings(table(env)['extra-dependencies']));
  const pipfile = tomlOf(manifests.Pipfile);
  for (const [name, spec] of Object.entries(table(pipfile['dev-packages']))) {
    const r = tableRequirement(name, spec, (c) => c);
    if (r) requirements.push(r);
  }
  const tox = toxDeps(manifests['tox.ini']);
  requirements.push(...tox.requirements);
  const reqFiles = [...new Set([...requirementFiles(files), ...tox.files.filter((f) => files.includes(f))])];
  const { lockfile, pins } = lockPins(manifests);
  return {
    extras: [...extras].filter(isTest).sort(),
    // Editable/path entries (`-e .`) are the project itself, installed anyway.
    requirements: [...new Set(requirements.map((r) => r.trim()).filter((r) => r && !/^(-|\.|\/)/.test(r)))],
    requirementFiles: reqFiles,
    lockPins: pins,
    lockfile,
  };
}
