import { compareVersions } from './versions.ts';

/**
 * The deterministic repair loop's rules and the env failure classes, for Python: pure
 * functions over the output of a setup or test run.
 */

/** Import names whose distribution is named differently (the common cases; the rest match). */
export const DISTRIBUTION_OF_MODULE: Readonly<Record<string, string>> = {
  yaml: 'PyYAML',
  PIL: 'Pillow',
  sklearn: 'scikit-learn',
  skimage: 'scikit-image',
  bs4: 'beautifulsoup4',
  dateutil: 'python-dateutil',
  cv2: 'opencv-python-headless',
  attr: 'attrs',
  OpenSSL: 'pyOpenSSL',
  jwt: 'PyJWT',
  dotenv: 'python-dotenv',
  Crypto: 'pycryptodome',
  serial: 'pyserial',
  git: 'GitPython',
  zmq: 'pyzmq',
  docx: 'python-docx',
  magic: 'python-magic',
  slugify: 'python-slugify',
  multipart: 'python-multipart',
  jose: 'python-jose',
  websocket: 'websocket-client',
  socks: 'PySocks',
  nacl: 'PyNaCl',
  psycopg2: 'psycopg2-binary',
  MySQLdb: 'mysqlclient',
  fitz: 'PyMuPDF',
  google: 'protobuf',
  pkg_resources: 'setuptools',
  // Python 3.12 dropped distutils; setuptools ships a replacement.
  distutils: 'setuptools',
  mpl_toolkits: 'matplotlib',
  _pytest: 'pytest',
};

/**
 * Standard-library modules removed in 3.10–3.13: missing one means the interpreter is too new,
 * not that a package is missing.
 */
export const REMOVED_STDLIB = new Set([
  'imp',
  'asynchat',
  'asyncore',
  'smtpd',
  'aifc',
  'audioop',
  'cgi',
  'cgitb',
  'chunk',
  'crypt',
  'imghdr',
  'mailcap',
  'msilib',
  'nis',
  'nntplib',
  'ossaudiodev',
  'pipes',
  'sndhdr',
  'spwd',
  'sunau',
  'telnetlib',
  'uu',
  'xdrlib',
  'lib2to3',
]);

/** Top-level module names that output reports missing (`No module named 'x.y'` → `x`). */
export function missingModules(output: string): string[] {
  const names = new Set<string>();
  for (const m of output.matchAll(
    /(?:ModuleNotFoundError|ImportError): No module named '?([A-Za-z_][\w.]*)'?/g,
  ))
    names.add(m[1]!.split('.')[0]!);
  return [...names];
}

/** Is `name` importable from the checkout itself (a package dir or module at the root or in src/)? */
export function isLocalModule(name: string, files: readonly string[]): boolean {
  return files.some((f) => {
    const rel = f.startsWith('src/') ? f.slice(4) : f;
    return rel === `${name}.py` || rel.startsWith(`${name}/`);
  });
}

/**
 * Distributions to install for the modules a run reports missing: not the checkout's own
 * modules, not removed stdlib modules, not what an earlier round already installed.
 */
export function distributionsFor(
  output: string,
  files: readonly string[],
  installed: readonly string[],
): string[] {
  const have = new Set(installed.map((d) => d.toLowerCase()));
  return [
    ...new Set(
      missingModules(output)
        .filter((m) => !isLocalModule(m, files) && !REMOVED_STDLIB.has(m))
        .map((m) => DISTRIBUTION_OF_MODULE[m] ?? m.replace(/_/g, '-')),
    ),
  ].filter((d) => !have.has(d.toLowerCase()));
}

export type PythonEnvFailure =
  | 'InterpreterUnsupported'
  | 'DependencyResolutionFailed'
  | 'TestCollectionFailed';

/** The clearest cause in the output of a failed setup or test run, if any. */
export function classifyPythonOutput(output: string, phase: 'setup' | 'tests'): PythonEnvFailure | undefined {
  const removed = missingModules(output).some((m) => REMOVED_STDLIB.has(m));
  if (
    removed ||
    /requires-python|Requires-Python|requires a different Python|is not supported by this Python|has no attribute '(formatargspec|getargspec|coroutine)'|cannot import name '(Mapping|MutableMapping|Sequence|Iterable|Callable)' from 'collections'/.test(
      output,
    )
  )
    return 'InterpreterUnsupported';
  if (
    phase === 'setup' &&
    /No solution found when resolving|ResolutionImpossible|Could not find a version that satisfies|No matching distribution found|conflicting dependencies|we can conclude that/.test(
      output,
    )
  )
    return 'DependencyResolutionFailed';
  if (
    phase === 'tests' &&
    /ERROR collecting|errors? during collection|ImportError while loading conftest|ImportError while importing test module|ModuleNotFoundError/.test(
      output,
    )
  )
    return 'TestCollectionFailed';
  return undefined;
}

/** setuptools_scm's (and hatch-vcs') version when git has no tag to count from: `0.1.dev1+g<sha>`. */
const SCM_PLACEHOLDER = /([A-Za-z0-9][\w.-]*?)(?:\[[^\]]*\])?(?:==| )0\.1\.dev\d+(?:\+g[0-9a-f]+)?\b/;

/**
 * The version a VCS-versioned project must claim to install, or undefined. The sandbox's
 * checkout carries no tags, so setuptools_scm names the project `0.1.dev1+g<sha>`; when a test
 * dependency needs the project itself (virtualenv needs filelock ≥ 3.12.2: filelock#345) the
 * resolver then finds no solution. The lowest version that dependency accepts is one the
 * project had already published by then, so claiming it is true enough for its tests.
 */
export function scmPretendVersion(output: string): string | undefined {
  const project = SCM_PLACEHOLDER.exec(output)?.[1];
  if (!project) return undefined;
  const name = project.replace(/[-_.]+/g, '[-_.]+');
  // uv: "virtualenv>=20.26.2 depends on filelock>=3.12.2,<4"; pip: "depends on filelock<4 and >=3.12.2".
  const needs = new RegExp(`depends on ${name}((?:\\s*(?:,|and)?\\s*(?:[<>=!~]=?|===)\\s*[\\w.*+]+)+)`, 'gi');
  let best: string | undefined;
  for (const m of output.matchAll(needs)) {
    for (const b of m[1]!.matchAll(/(>=|==|~=|===)\s*(\d+(?:\.\d+)*)/g)) {
      if (!best || compareVersions(b[2]!, best) > 0) best = b[2]!;
    }
  }
  return best;
}
