import { describe, expect, it } from 'vitest';
import { findLeaks, isNonTrivialLine, testInterfaceNames } from './leak.ts';

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
  it('a feature statement may name the interface the tests use, not the helpers of the fix', () => {
    const feature = `diff --git a/pkg/range.py b/pkg/range.py
--- a/pkg/range.py
+++ b/pkg/range.py
@@ -1,2 +1,8 @@
 def clamp(value, low, high):
     return value
+
+def wrap_into(value, low, high):
+    return low + _span_mod(value - low, high - low)
+
+def _span_mod(offset, span_width):
+    return offset % span_width
`;
    const tests = `diff --git a/tests/test_range.py b/tests/test_range.py
--- a/tests/test_range.py
+++ b/tests/test_range.py
@@ -1,1 +1,5 @@
-from pkg.range import clamp
+from pkg.range import clamp, wrap_into
+
+def test_wrap_into():
+    assert wrap_into(12, 0, 10) == 2
`;
    const statement = 'Add wrap_into(value, low, high), which wraps values into [low, high).';
    expect(findLeaks(statement, feature)).toEqual([{ kind: 'newIdentifier', text: 'wrap_into' }]);
    const interfaceNames = testInterfaceNames(tests);
    expect(findLeaks(statement, feature, { interfaceNames })).toEqual([]);
    // A name only the fix uses is still a leak.
    expect(findLeaks(`${statement} Use _span_mod.`, feature, { interfaceNames })).toEqual([
      { kind: 'newIdentifier', text: '_span_mod' },
    ]);
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
