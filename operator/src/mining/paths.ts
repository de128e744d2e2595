import type { Language } from '../api/index.ts';
import { LANGUAGE_CONFIG_FILES, LANGUAGE_TEST_FILES, LOCKFILES, languageOfPath } from '../languages/index.ts';

/**
 * What a changed path is, by repository conventions: the generic ones here, each ecosystem's
 * test-file names, lockfiles and configuration files from its language module. `test` wins over
 * everything: a fixture under tests/ belongs to the test patch even when it is a .json or a binary.
 *
 * `config` is repository configuration (VCS and editor settings, bots, docs hosting, linters,
 * test-environment runners such as tox/nox): a PR changing only it and CI is not a code change.
 * Manifests that declare dependencies or the build stay `code` (pyproject.toml, setup.py,
 * setup.cfg, package.json, go.mod, Cargo.toml, pom.xml, and Makefile: it often is the build and
 * can generate sources, so changing it can change what the tests see).
 */
export type PathKind = 'test' | 'code' | 'docs' | 'lockfile' | 'ci' | 'config';

/** Directory names that hold tests in the ecosystems we mine (any depth). */
const TEST_DIRS = new Set([
  'test',
  'tests',
  'testing',
  '__tests__',
  '__test__',
  '__snapshots__',
  'testdata',
  'e2e',
  'spec',
]);

const DOC_EXTENSIONS = /\.(md|markdown|rst|txt|adoc|asciidoc)$/i;
const DOC_DIRS = new Set(['docs', 'doc', 'documentation', 'changelog.d', 'changes', 'newsfragments']);
const DOC_FILES =
  /^(readme|changelog|changes|history|news|authors|contributors|license|licence|notice|copying)(\.|$)/i;
const CI_PATHS =
  /^(\.github|\.circleci|\.gitlab|\.buildkite|\.azure-pipelines)\/|^(\.gitlab-ci\.yml|\.travis\.yml|appveyor\.yml|azure-pipelines\.yml)$/;

/** Generic configuration, by file name anywhere or by path from the root. */
const CONFIG_FILES =
  /^(\.editorconfig|\.gitignore|\.gitattributes|\.mailmap|\.git-blame-ignore-revs|codeowners|\.pre-commit-config\.ya?ml|\.?codecov\.ya?ml|renovate\.json5?|\.renovaterc(\.json)?|\.readthedocs\.ya?ml|\.dockerignore|\.codespellrc|_?typos\.toml|\.yamllint(\.ya?ml)?|\.gitpod\.ya?ml)$/i;
const CONFIG_PATHS =
  /^(\.github\/(dependabot\.ya?ml|codeowners|funding\.yml|labeler\.yml|release\.yml|(issue|pull_request)_template.*|ISSUE_TEMPLATE\/.*)|\.vscode\/.*|\.idea\/.*|\.devcontainer\/.*)$/i;

export function classifyPath(path: string): PathKind {
  const segments = path.split('/');
  const name = segments[segments.length - 1] ?? path;
  const dirs = segments.slice(0, -1).map((s) => s.toLowerCase());
  if (dirs.some((d) => TEST_DIRS.has(d)) || LANGUAGE_TEST_FILES.some((re) => re.test(name))) return 'test';
  if (LOCKFILES.has(name.toLowerCase())) return 'lockfile';
  // Before CI: .github/ holds both workflows and bot settings.
  if (CONFIG_PATHS.test(path) || CONFIG_FILES.test(name) || LANGUAGE_CONFIG_FILES.some((re) => re.test(name)))
    return 'config';
  if (CI_PATHS.test(path)) return 'ci';
  if (DOC_EXTENSIONS.test(name) || DOC_FILES.test(name) || dirs.some((d) => DOC_DIRS.has(d))) return 'docs';
  return 'code';
}

/**
 * Language of a change: the language with the most changed lines among code and test files.
 * Ties go to the language seen first, so the result is deterministic for a given diff.
 */
export function languageOfChange(
  files: ReadonlyArray<{ path: string; kind: PathKind; added: number; deleted: number }>,
): Language | undefined {
  const weight = new Map<Language, number>();
  for (const f of files) {
    if (f.kind !== 'code' && f.kind !== 'test') continue;
    const language = languageOfPath(f.path);
    if (language !== undefined) weight.set(language, (weight.get(language) ?? 0) + f.added + f.deleted + 1);
  }
  let best: Language | undefined;
  let bestWeight = 0;
  for (const [language, w] of weight) {
    if (w > bestWeight) {
      best = language;
      bestWeight = w;
    }
  }
  return best;
}
