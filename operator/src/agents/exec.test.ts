import os from 'node:os';
import { describe, expect, it } from 'vitest';
import { sh, truncateMiddle } from './exec.ts';

describe('sh', () => {
  const cwd = os.tmpdir();
  it('returns the exit code and interleaved output', async () => {
    const r = await sh('echo out; echo err >&2; exit 3', { cwd, timeoutMs: 10_000 });
    expect(r).toMatchObject({ code: 3, timedOut: false, output: 'out\nerr\n' });
  });
  it('kills the whole process tree on timeout', async () => {
    const started = Date.now();
    const r = await sh('sleep 30 & sleep 30; echo never', { cwd, timeoutMs: 500 });
    expect(r.timedOut).toBe(true);
    expect(r.output).not.toContain('never');
    expect(Date.now() - started).toBeLessThan(6000);
  });
  it('does not hang on a background process that keeps the pipes open', async () => {
    const started = Date.now();
    const r = await sh('(sleep 30 &) ; echo done', { cwd, timeoutMs: 60_000 });
    expect(r).toMatchObject({ code: 0, timedOut: false });
    expect(r.output).toContain('done');
    expect(Date.now() - started).toBeLessThan(8000);
  });
  it('keeps head and tail of huge output', async () => {
    const r = await sh('seq 1 200000', { cwd, timeoutMs: 10_000, maxChars: 10_000 });
    expect(r.output.startsWith('1\n2\n')).toBe(true);
    expect(r.output.trimEnd().endsWith('200000')).toBe(true);
    expect(r.output).toContain('chars truncated');
    expect(r.output.length).toBeLessThan(12_000);
  });
  it('truncateMiddle keeps both ends', () => {
    expect(truncateMiddle('abcdefghij', 4)).toBe('ab\n…[6 chars truncated]…\nij');
    expect(truncateMiddle('abc', 4)).toBe('abc');
  });
});
