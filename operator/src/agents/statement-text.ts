/**
 * Problem statements taken from commit or PR text: what to strip before the text can be a
 * statement, and which sentences describe the change itself (the fix in words) rather than
 * the problem. Pure.
 */

// git trailers (`Key: value` lines git interpret-trailers knows, and the usual review ones).
const TRAILER =
  /^\s*(signed-off-by|co-authored-by|reviewed-by|acked-by|tested-by|reported-by|suggested-by|helped-by|reviewed-on|cc|change-id|bug|issue|fixes|closes|resolves|refs|see-also|pr-url|release-note|backport-of|cherry-picked from)\s*:.*$/i;
// GitHub closing keywords on a line of their own, and cherry-pick notes.
const CLOSING_LINE =
  /^\s*((close[sd]?|fix(e[sd])?|resolve[sd]?)\s+([\w.-]+\/[\w.-]+)?#\d+[\s,.]*)+$|^\s*\(cherry picked from commit [0-9a-f]+\)\s*$/i;
// `---------` between the squashed commit list and the co-author trailers; markdown rules.
const SEPARATOR = /^\s*([-*_=])\1{2,}\s*$/;
// Commit subjects that only make sense as history.
const HISTORY_SUBJECT =
  /^\s*[*-]\s+(update\s+\S+$|merge (branch|remote-tracking branch|pull request)\b|apply suggestions? from code review|fixup!|squash!|amend!|wip\b|address(ed)? (review )?(comments?|feedback)|review (comments?|feedback)|(fix )?(lint|linting|formatting|format|typo|typos|style|tests?)$|run (black|prettier|gofmt|cargo fmt|ruff)\b|bump version)/i;
const DEPENDABOT =
  /^\s*(bumps \[.*\]\(.*\) from .* to .*|dependabot will .*|you can trigger dependabot .*|\[!\[dependabot compatibility score\].*|- `@dependabot .*|updated-dependencies:.*|- dependency-name:.*|dependency-(type|group|version):.*|update-type:.*|\.\.\.)\s*$/i;

/**
 * The statement-worthy part of commit/PR text: trailers, separators, HTML comments (PR
 * templates), `<details>` blocks (release notes, dependabot), squash-merge lists of commit
 * subjects and bot boilerplate removed; blank runs collapsed.
 */
export function cleanStatement(text: string): string {
  let t = text.replace(/\r\n?/g, '\n');
  t = t.replace(/<!--[\s\S]*?-->/g, '');
  t = t.replace(/<details>[\s\S]*?<\/details>/gi, '');
  const lines = t.split('\n');
  const kept = lines.filter(
    (l) => !TRAILER.test(l) && !CLOSING_LINE.test(l) && !SEPARATOR.test(l) && !DEPENDABOT.test(l),
  );
  const out = dropSquashList(kept).filter((l) => !HISTORY_SUBJECT.test(l));
  return out
    .join('\n')
    .replace(/[ \t]+$/gm, '')
    .replace(/\n{3,}/g, '\n\n')
    .trim();
}

/**
 * GitHub's squash merge body lists the PR's commit subjects as `* subject` paragraphs, one
 * per line with blank lines between: two or more such paragraphs and nothing else are
 * history, not a description.
 */
function dropSquashList(lines: string[]): string[] {
  const paragraphs: string[][] = [[]];
  for (const l of lines) {
    if (l.trim() === '') paragraphs.push([]);
    else paragraphs.at(-1)!.push(l);
  }
  const nonEmpty = paragraphs.filter((p) => p.length > 0);
  const isSubject = (p: string[]) => p.length === 1 && /^\* \S/.test(p[0]!);
  const subjects = nonEmpty.filter(isSubject);
  if (subjects.length < 2) return lines;
  return nonEmpty.filter((p) => !isSubject(p)).flatMap((p, i) => (i === 0 ? p : ['', ...p]));
}

export interface ChangeSentence {
  sentence: string;
  why: string;
}

// How-verbs: an imperative sentence starting with one of these says what the code now does.
// Not run/call/pass/check/compare: reproduction steps start with those.
const HOW_VERBS =
  'compute|calculate|use|replace|rewrite|change|move|rename|refactor|switch|convert|cast|coerce|store|cache|memoize|extract|inline|wrap|guard|initiali[sz]e|reset|reorder|defer|treat|normalize|escape|sanitize|catch|increment|decrement|clamp|truncate|round|promote|widen|narrow|reuse|delegate|special-case';
const capitalised = (alternatives: string) =>
  alternatives
    .split('|')
    .map((v) => v[0]!.toUpperCase() + v.slice(1))
    .join('|');
const RULES: { re: RegExp; why: string }[] = [
  {
    re: /^(this|the|my|our)\s+(pr|pull request|commit|change|changeset|patch|mr|merge request|diff|fix)\b/i,
    why: 'describes what the change does',
  },
  { re: /^in this (pr|pull request|commit|patch)\b/i, why: 'describes what the change does' },
  {
    re: /\b(fix(es|ed)?|resolve[sd]?|solve[sd]?|address(es|ed)?|prevent(s|ed)?|avoid(s|ed)?|correct(s|ed)?)\b.*\bby\s+(\w+ing|using|making|adding)\b/i,
    why: 'says how the fix works ("… by doing …")',
  },
  {
    // Capitalised: a sentence starting with a lower-case `clamp` names the function.
    re: new RegExp(`^(?:[-*]\\s+)?(${capitalised(HOW_VERBS)})(s|d|ed|es)?\\s+\\S`),
    why: 'states the implementation (an imperative or past-tense change)',
  },
  {
    re: new RegExp(`\\bwe\\s+(now\\s+)?(${HOW_VERBS})d?\\b|\\bnow\\s+(${HOW_VERBS})(s|d|ed|es)?\\b`, 'i'),
    why: 'states the implementation',
  },
  {
    re: /\b(is|was|were|has been|have been)\s+(changed|switched|moved|converted|renamed|replaced|rewritten|refactored)\b/i,
    why: 'states the implementation',
  },
];

/** Sentences of a statement, title lines and list items included. */
export function sentences(text: string): string[] {
  return text
    .split('\n')
    .flatMap((line) => line.split(/(?<=[.!?])\s+(?=[A-Z`*_(["'])/))
    .map((s) => s.replace(/^#+\s*/, '').trim())
    .filter((s) => /[A-Za-z]/.test(s));
}

/**
 * Sentences that describe the change itself ("Compute the wrap boundary as a long", "Fix X
 * by doing Y", "This PR changes …") rather than the problem. Symptom language ("returns 15",
 * "should be 10", "Fixes an off-by-one in …") does not match.
 */
export function changeSentences(text: string): ChangeSentence[] {
  const found: ChangeSentence[] = [];
  for (const sentence of sentences(text)) {
    const rule = RULES.find((r) => r.re.test(sentence));
    if (rule) found.push({ sentence, why: rule.why });
  }
  return found;
}
