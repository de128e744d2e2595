import { XMLParser } from 'fast-xml-parser';
import { type ParseContext, record, relativize, type TestResults } from './types.ts';

/**
 * JUnit XML (surefire/gradle, pytest --junitxml, node --test junit reporter, mocha xunit).
 * Several documents may be concatenated (one surefire file per class).
 * Id: `classname::name` (`com.acme.FooTest::testBar`, `tests.test_x::test_y`); when the
 * report names the file (node --test), `file > suite > name` with the path made relative.
 */
const parser = new XMLParser({
  ignoreAttributes: false,
  attributeNamePrefix: '',
  isArray: (name) => name === 'testsuite' || name === 'testcase',
  processEntities: true,
});

type Node = Record<string, unknown>;

export function parseJunit(text: string, ctx: ParseContext = {}): TestResults {
  const results: TestResults = new Map();
  const docs = text.split(/(?=<\?xml)/).filter((d) => d.includes('<test'));
  for (const doc of docs) {
    let tree: Node;
    try {
      tree = parser.parse(doc) as Node;
    } catch {
      continue;
    }
    walk(tree, [], results, ctx);
  }
  return results;
}

function walk(node: Node, suites: string[], results: TestResults, ctx: ParseContext): void {
  for (const c of asArray(node.testcase)) testcase(c, suites, results, ctx);
  for (const s of asArray(node.testsuite)) {
    const name = typeof s.name === 'string' ? s.name : '';
    walk(s, name ? [...suites, name] : suites, results, ctx);
  }
  if (node.testsuites && typeof node.testsuites === 'object')
    walk(node.testsuites as Node, suites, results, ctx);
}

function testcase(c: Node, suites: string[], results: TestResults, ctx: ParseContext): void {
  const name = String(c.name ?? '');
  if (!name) return;
  const classname = String(c.classname ?? '');
  let id: string;
  if (typeof c.file === 'string' && c.file) {
    // node --test: classname is the enclosing describe (or the literal "test" at top level).
    const inner = suites.length > 0 ? suites : classname && classname !== 'test' ? [classname] : [];
    id = [relativize(c.file, ctx), ...inner, name].join(' > ');
  } else {
    id = classname ? `${classname}::${name}` : name;
  }
  const status =
    c.error !== undefined
      ? 'error'
      : c.failure !== undefined
        ? 'failed'
        : c.skipped !== undefined
          ? 'skipped'
          : 'passed';
  record(results, id, status);
}

function asArray(v: unknown): Node[] {
  if (Array.isArray(v)) return v.filter((x): x is Node => typeof x === 'object' && x !== null);
  return typeof v === 'object' && v !== null ? [v as Node] : [];
}
