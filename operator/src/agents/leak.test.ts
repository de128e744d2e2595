import { describe, expect, it } from 'vitest';
import { findLeaks, isNonTrivialLine } from './leak.ts';

const gold = `diff --git a/pkg/range.py b/pkg/range.py
--- a/pkg/range.py
+++ b/pkg/range.py
@@ -1,6 +1,9 @@
 def clamp(value, low, high):
     if value < low:
         return low
+    if value > high:
+        return high
+    limit = _upper_limit_for(value)
+    }
     return value
`;

describe('findLeaks', () => {
  it('finds a verbatim added line, whitespace-insensitively', () => {
    expect(findLeaks('Fix: add `if  value >  high:` to clamp', gold)).toEqual([
      { kind: 'addedLine', text: 'if value > high:' },
    ]);
  });
  it('finds identifiers the fix introduces, unless they exist at base', () => {
    const s = 'clamp should call _upper_limit_for';
    expect(findLeaks(s, gold)).toEqual([{ kind: 'newIdentifier', text: '_upper_limit_for' }]);
    expect(findLeaks(s, gold, { existsAtBase: (id) => id === '_upper_limit_for' })).toEqual([]);
    expect(findLeaks(s, gold, { identifiers: false })).toEqual([]);
  });
  it('lets a symptom description pass', () => {
    expect(
      findLeaks('clamp(15, 0, 10) returns 15; expected 10 since high is the upper bound.', gold),
    ).toEqual([]);
  });
  it('ignores trivial lines', () => {
    expect(isNonTrivialLine('        return high')).toBe(false);
    expect(isNonTrivialLine('    }')).toBe(false);
    expect(isNonTrivialLine('# clamp to the upper limit now')).toBe(false);
    expect(isNonTrivialLine('    if value > high:')).toBe(true);
  });
});
