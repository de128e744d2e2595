import { describe, expect, it } from 'vitest';
import { changeSentences, cleanStatement } from './statement-text.ts';

describe('cleanStatement', () => {
  it('drops a squash merge: commit subjects, separator, co-authors', () => {
    const squash = `Handle negative widths in wrap() (#412)

* Handle negative widths in wrap()

* Update test_wrap.py

* Apply suggestions from code review

---------

Co-authored-by: Jane Doe <jane@example.com>
Signed-off-by: John Roe <john@example.com>`;
    expect(cleanStatement(squash)).toBe('Handle negative widths in wrap() (#412)');
  });

  it('keeps the description, drops the PR template comment, closing line and trailers', () => {
    const pr = `Crash on empty input
<!-- Thanks for contributing! Describe your change below. -->
parse("") raises IndexError instead of returning an empty list.

- happens on 2.1 and 2.2
- not on 2.0

Fixes #88
Reviewed-by: A B <ab@example.com>
Change-Id: I0123456789abcdef`;
    expect(cleanStatement(pr)).toBe(
      'Crash on empty input\n\nparse("") raises IndexError instead of returning an empty list.\n\n- happens on 2.1 and 2.2\n- not on 2.0',
    );
  });

  it('drops dependabot boilerplate', () => {
    const bot = `Bump lodash from 4.17.20 to 4.17.21
Bumps [lodash](https://github.com/lodash/lodash) from 4.17.20 to 4.17.21.
<details>
<summary>Commits</summary>
<ul><li>f299b52 Bump to v4.17.21</li></ul>
</details>
<br />

[![Dependabot compatibility score](https://dependabot-badges.githubapp.com/badges/x)](https://docs.github.com/x)

Dependabot will resolve any conflicts with this PR as long as you don't alter it yourself.

---
updated-dependencies:
- dependency-name: lodash
  dependency-type: direct:production
...

Signed-off-by: dependabot[bot] <support@github.com>`;
    expect(cleanStatement(bot)).toBe('Bump lodash from 4.17.20 to 4.17.21\n\n<br />');
  });

  it('a single bullet paragraph is content, not a squash list', () => {
    expect(cleanStatement('Title\n\n* clamp(15, 0, 10) returns 15')).toBe(
      'Title\n\n* clamp(15, 0, 10) returns 15',
    );
  });
});

describe('changeSentences', () => {
  it.each([
    ['Compute the wrap boundary as a long', 'states the implementation'],
    ['Fix overflow in wrap() by casting the width to a long.', 'says how the fix works'],
    ['This PR changes the parser to skip blank lines.', 'describes what the change does'],
    ['Use a monotonic clock instead of time.time() for the deadline.', 'states the implementation'],
    ['Moved the validation into the constructor.', 'states the implementation'],
    ['The timeout is now computed from the start of the request.', 'states the implementation'],
    ['With this change we now cache the resolved path.', 'states the implementation'],
    ['The default was changed to UTF-8.', 'states the implementation'],
  ])('catches %j', (text, why) => {
    const found = changeSentences(`Output overflows on wide terminals\n${text}`);
    expect(found).toHaveLength(1);
    expect(found[0]!.sentence).toBe(text);
    expect(found[0]!.why).toContain(why);
  });

  it('lets symptoms, expectations and reproduction steps through', () => {
    const statement = `Respect the upper bound in clamp()
Fixes an off-by-one in the range handling. Adds a regression test.
clamp(15, 0, 10) returns 15 instead of 10. Call clamp with a value above the maximum to see it.
Expected: the maximum comes back. It should also work for floats.
Since 0.1 clamp(15, 0, 10) returns 15; test_clamp_below still passes.
Add a wrap(value, low, high) function that wraps values into the range.
clamp is broken for values above the maximum.`;
    expect(changeSentences(statement)).toEqual([]);
  });
});
