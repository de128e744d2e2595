import type { ResultFormat } from '../../api/index.ts';
import { parseCargo } from './cargo.ts';
import { parseGoTestJson } from './go-test.ts';
import { parseJestJson } from './jest.ts';
import { parseJunit } from './junit.ts';
import { parsePytest } from './pytest.ts';
import { parseTap } from './tap.ts';
import type { ParseContext, TestResults } from './types.ts';

export type { ParseContext, TestResults, TestStatus } from './types.ts';

const PARSERS: Record<ResultFormat, (text: string, ctx: ParseContext) => TestResults> = {
  pytest: parsePytest,
  'junit-xml': parseJunit,
  'jest-json': parseJestJson,
  'vitest-json': parseJestJson,
  'go-test-json': parseGoTestJson,
  cargo: parseCargo,
  tap: parseTap,
};

export function parseTestResults(format: ResultFormat, text: string, ctx: ParseContext = {}): TestResults {
  return PARSERS[format](text, ctx);
}
