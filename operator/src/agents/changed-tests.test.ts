import { describe, expect, it } from 'vitest';
import { changedTests, isChangedTest } from './changed-tests.ts';

const python = `diff --git a/tests/test_a.py b/tests/test_a.py
--- a/tests/test_a.py
+++ b/tests/test_a.py
@@ -1,4 +1,4 @@
-from pkg import f
+from pkg import f, g
@@ -20,3 +20,7 @@ def test_old_changed():
     assert f(1) == 1
+    assert f(2) == 2
+
+def test_new(tmp_path):
+    assert g() == 0
diff --git a/tests/test_b.py b/tests/test_b.py
new file mode 100644
--- /dev/null
+++ b/tests/test_b.py
@@ -0,0 +1,2 @@
+def test_b():
+    pass
`;

const java = `diff --git a/src/test/java/org/x/WidgetTest.java b/src/test/java/org/x/WidgetTest.java
--- a/src/test/java/org/x/WidgetTest.java
+++ b/src/test/java/org/x/WidgetTest.java
@@ -30,6 +30,11 @@ public class WidgetTest {
+    @Test
+    public void resizesToFit() {
+        assertEquals(2, new Widget().fit());
+    }
diff --git a/src/test/java/org/x/GaugeTest.java b/src/test/java/org/x/GaugeTest.java
new file mode 100644
--- /dev/null
+++ b/src/test/java/org/x/GaugeTest.java
@@ -0,0 +1,3 @@
+package org.x;
+class GaugeTest {
+}
`;

const goRustJs = `diff --git a/uuid_test.go b/uuid_test.go
--- a/uuid_test.go
+++ b/uuid_test.go
@@ -10,2 +10,6 @@ import "testing"
+func TestNewV7(t *testing.T) {
+}
diff --git a/tests/api.rs b/tests/api.rs
--- a/tests/api.rs
+++ b/tests/api.rs
@@ -1,2 +1,5 @@
+#[test]
+fn wraps_at_boundary() {}
diff --git a/src/range.test.ts b/src/range.test.ts
--- a/src/range.test.ts
+++ b/src/range.test.ts
@@ -3,2 +3,5 @@ describe('inRange', () => {
+  it('includes the upper bound', () => {
+    expect(inRange(3, 1, 3)).toBe(true);
+  });
`;

describe('changedTests', () => {
  it('collects files, new files and the names defined or changed', () => {
    const c = changedTests([python]);
    expect([...c.files]).toEqual(['tests/test_a.py', 'tests/test_b.py']);
    expect([...c.newFiles]).toEqual(['tests/test_b.py']);
    expect([...c.names].sort()).toEqual(['test_b', 'test_new', 'test_old_changed']);
  });

  it('a change inside an existing test counts for that test; a decorator for the next one', () => {
    const patch = `diff --git a/tests/test_k.py b/tests/test_k.py
--- a/tests/test_k.py
+++ b/tests/test_k.py
@@ -3,10 +3,11 @@ class TestK:
     def test_one(self):
         assert 1
 
+    @pytest.mark.parametrize("x", [1, 2])
     def test_two(self, x):
         assert x
 
     def test_three(self):
-        assert 3
+        assert 3 == 3
`;
    expect([...changedTests([patch]).names].sort()).toEqual(['test_three', 'test_two']);
  });

  it('tests added above an existing one do not change it', () => {
    const patch = `diff --git a/tests/test_k.py b/tests/test_k.py
--- a/tests/test_k.py
+++ b/tests/test_k.py
@@ -3,6 +3,10 @@ def test_below():
     assert 1
 
 
+def test_above():
+    assert 2
+
+
 def test_slugify():
     assert 3
`;
    expect([...changedTests([patch]).names]).toEqual(['test_above']);
  });

  it('pytest ids: changed and new tests match, old ones and other files do not', () => {
    const c = changedTests([python]);
    const ids = [
      'tests/test_a.py::test_old_changed',
      'tests/test_a.py::test_new[1]',
      'tests/test_a.py::test_untouched',
      'tests/test_b.py::test_b',
      'tests/test_c.py::test_new',
    ];
    expect(ids.filter((id) => isChangedTest(id, c))).toEqual([
      'tests/test_a.py::test_old_changed',
      'tests/test_a.py::test_new[1]',
      'tests/test_b.py::test_b',
    ]);
  });

  it('junit ids: a new method, every test of a new class, not the rest', () => {
    const c = changedTests([java]);
    const ids = [
      'org.x.WidgetTest::resizesToFit',
      'org.x.WidgetTest::keepsRatio',
      'org.x.GaugeTest::reads',
      'org.x.OtherTest::works',
    ];
    expect(ids.filter((id) => isChangedTest(id, c))).toEqual([
      'org.x.WidgetTest::resizesToFit',
      'org.x.GaugeTest::reads',
    ]);
  });

  it('go, cargo and jest/vitest ids', () => {
    const c = changedTests([goRustJs]);
    const ids = [
      'github.com/acme/uuid/TestNewV7',
      'github.com/acme/uuid/TestNewV7/subcase',
      'github.com/acme/uuid/TestParse',
      'wraps_at_boundary',
      'tests::other',
      'src/range.test.ts > inRange > includes the upper bound',
      'src/range.test.ts > inRange > excludes below',
    ];
    expect(ids.filter((id) => isChangedTest(id, c))).toEqual([
      'github.com/acme/uuid/TestNewV7',
      'github.com/acme/uuid/TestNewV7/subcase',
      'wraps_at_boundary',
      'src/range.test.ts > inRange > includes the upper bound',
    ]);
  });
});
