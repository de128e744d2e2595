import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';

/**
 * The bundled sample: a small Python repository whose history has five merged PRs, built
 * by the project itself (fixed authors and dates, so commit ids are the same everywhere).
 * Expected outcome of a run without an LLM:
 *   #1 merge, fixes clamp + adds a test         → Verified
 *   #2 merge, README only                       → rejected by the candidate filter (docs only)
 *   #3 squash, fixes mean([]) + adds a test     → Verified
 *   #4 merge, refactor whose new test passes before the change → rejected (no FAIL_TO_PASS)
 *   #5 squash, fixes median, no tests           → rejected by the candidate filter (no tests and
 *                                                 no LLM to write them): no instance, no environment
 */
export const SAMPLE_REPO = 'scaleswe/minicalc';

export const SAMPLE_EXPECTED = {
  verified: {
    'scaleswe__minicalc-1': {
      FAIL_TO_PASS: ['tests/test_stats.py::test_clamp_above'],
      PASS_TO_PASS: [
        'tests/test_stats.py::test_clamp_below',
        'tests/test_stats.py::test_clamp_inside',
        'tests/test_stats.py::test_mean',
        'tests/test_stats.py::test_median_odd',
      ],
    },
    'scaleswe__minicalc-3': {
      FAIL_TO_PASS: ['tests/test_stats.py::test_mean_empty'],
      PASS_TO_PASS: [
        'tests/test_stats.py::test_clamp_above',
        'tests/test_stats.py::test_clamp_below',
        'tests/test_stats.py::test_clamp_inside',
        'tests/test_stats.py::test_mean',
        'tests/test_stats.py::test_median_odd',
      ],
    },
  },
  /** In mining order (newest first), with the candidate filter's reason. */
  rejectedAtMining: [
    { pullNumber: 5, reason: 'NoTestsAndNoLlm' },
    { pullNumber: 2, reason: 'DocsOrLockfileOnly' },
  ],
  rejectedInPipeline: { 'scaleswe__minicalc-4': 'NoFailToPass' },
} as const;

const BASE_FILES: Record<string, string> = {
  'pyproject.toml': `[build-system]
requires = ["setuptools>=61"]
build-backend = "setuptools.build_meta"

[project]
name = "minicalc"
version = "0.1.0"
requires-python = ">=3.8"

[project.optional-dependencies]
test = ["pytest"]

[tool.setuptools]
packages = ["minicalc"]
`,
  'README.md': '# minicalc\n\nSmall statistics helpers.\n',
  'minicalc/__init__.py': 'from .stats import clamp, mean, median\n\n__all__ = ["clamp", "mean", "median"]\n',
  'minicalc/stats.py': `"""Small statistics helpers."""


def clamp(value, low, high):
    """Limit value to the closed range [low, high]."""
    if value < low:
        return low
    if value > high:
        return value
    return value


def _total(values):
    return sum(values)


def mean(values):
    """Arithmetic mean of values."""
    return _total(values) / len(values)


def median(values):
    """Middle value of values."""
    ordered = sorted(values)
    return ordered[len(ordered) // 2]
`,
  'tests/__init__.py': '',
  'tests/test_stats.py': `from minicalc.stats import clamp, mean, median


def test_clamp_inside():
    assert clamp(5, 0, 10) == 5


def test_clamp_below():
    assert clamp(-3, 0, 10) == 0


def test_mean():
    assert mean([1, 2, 3]) == 2


def test_median_odd():
    assert median([3, 1, 2]) == 2
`,
};

interface Edit {
  path: string;
  from?: string;
  to: string;
}

interface SamplePr {
  number: number;
  branch: string;
  title: string;
  body: string;
  squash: boolean;
  edits: Edit[];
}

const PRS: SamplePr[] = [
  {
    number: 1,
    branch: 'fix-clamp',
    title: 'Fix clamp for values above the range',
    body: 'clamp(42, 0, 10) returned 42 instead of 10: values above the upper bound were not limited.\n\nFixes #10',
    squash: false,
    edits: [
      {
        path: 'minicalc/stats.py',
        from: '    if value > high:\n        return value\n',
        to: '    if value > high:\n        return high\n',
      },
      { path: 'tests/test_stats.py', to: '\n\ndef test_clamp_above():\n    assert clamp(42, 0, 10) == 10\n' },
    ],
  },
  {
    number: 2,
    branch: 'docs-usage',
    title: 'Document usage',
    body: 'Adds a usage section to the README.',
    squash: false,
    edits: [{ path: 'README.md', to: '\n## Usage\n\n    from minicalc import mean\n    mean([1, 2, 3])\n' }],
  },
  {
    number: 3,
    branch: 'empty-mean',
    title: 'mean() of an empty list raises ZeroDivisionError',
    body: 'Calling mean([]) crashes with ZeroDivisionError; an empty input should give 0.0.\n\nCloses #11',
    squash: true,
    edits: [
      {
        path: 'minicalc/stats.py',
        from: '    """Arithmetic mean of values."""\n',
        to: '    """Arithmetic mean of values."""\n    if not values:\n        return 0.0\n',
      },
      { path: 'tests/test_stats.py', to: '\n\ndef test_mean_empty():\n    assert mean([]) == 0.0\n' },
    ],
  },
  {
    number: 4,
    branch: 'rename-total',
    title: 'Rename internal helper',
    body: 'Internal clean-up; behaviour is unchanged.',
    squash: false,
    edits: [
      { path: 'minicalc/stats.py', from: 'def _total(values):', to: 'def _sum_of(values):' },
      { path: 'minicalc/stats.py', from: 'return _total(values)', to: 'return _sum_of(values)' },
      {
        path: 'tests/test_stats.py',
        to: '\n\ndef test_mean_floats():\n    assert mean([0.5, 1.5]) == 1.0\n',
      },
    ],
  },
  {
    number: 5,
    branch: 'median-even',
    title: 'median() is wrong for lists of even length',
    body: 'median([1, 2, 3, 4]) gives 3; it should be the mean of the two middle values, 2.5.',
    squash: true,
    edits: [
      {
        path: 'minicalc/stats.py',
        from: '    return ordered[len(ordered) // 2]\n',
        to: '    middle = len(ordered) // 2\n    if len(ordered) % 2 == 0:\n        return (ordered[middle - 1] + ordered[middle]) / 2\n    return ordered[middle]\n',
      },
    ],
  },
];

/** Creates the sample repository at `dir` (which must not exist) and returns its path. */
export function createSampleRepo(dir: string): string {
  if (existsSync(dir)) throw new Error(`${dir} already exists`);
  mkdirSync(dir, { recursive: true });
  let tick = 0;
  const git = (...args: string[]) => {
    const date = `${1_700_000_000 + tick * 3600} +0000`;
    return execFileSync('git', ['-c', 'init.defaultBranch=main', '-c', 'commit.gpgsign=false', ...args], {
      cwd: dir,
      encoding: 'utf8',
      env: {
        ...process.env,
        GIT_AUTHOR_NAME: 'Sample Author',
        GIT_AUTHOR_EMAIL: 'author@example.com',
        GIT_COMMITTER_NAME: 'Sample Maintainer',
        GIT_COMMITTER_EMAIL: 'maintainer@example.com',
        GIT_AUTHOR_DATE: date,
        GIT_COMMITTER_DATE: date,
      },
    }).trim();
  };
  const write = (path: string, text: string) => {
    mkdirSync(dirname(join(dir, path)), { recursive: true });
    writeFileSync(join(dir, path), text);
  };
  const read = (path: string) => execFileSync('cat', [join(dir, path)], { encoding: 'utf8' });
  const applyEdits = (edits: Edit[]) => {
    for (const edit of edits) {
      const text = read(edit.path);
      if (edit.from === undefined) write(edit.path, text + edit.to);
      else if (!text.includes(edit.from)) throw new Error(`sample: ${edit.path} lacks ${edit.from}`);
      else write(edit.path, text.replace(edit.from, edit.to));
    }
  };

  git('init', '-q');
  for (const [path, text] of Object.entries(BASE_FILES)) write(path, text);
  git('add', '-A');
  git('commit', '-q', '-m', 'Initial commit');
  for (const pr of PRS) {
    tick++;
    if (pr.squash) {
      applyEdits(pr.edits);
      git('commit', '-q', '-a', '-m', `${pr.title} (#${pr.number})\n\n${pr.body}`);
      continue;
    }
    git('checkout', '-q', '-b', pr.branch);
    applyEdits(pr.edits);
    git('commit', '-q', '-a', '-m', pr.title);
    tick++;
    git('checkout', '-q', 'main');
    git(
      'merge',
      '-q',
      '--no-ff',
      pr.branch,
      '-m',
      `Merge pull request #${pr.number} from sample/${pr.branch}\n\n${pr.title}\n\n${pr.body}`,
    );
    git('branch', '-q', '-D', pr.branch);
  }
  return dir;
}
