import { describe, expect, it } from 'vitest';
import { hiddenFromCommands, replaceOnce, solveEnding, solvePrompt, viewLines } from './solve-agent.ts';
import { isContextLengthError } from './tool-loop.ts';

describe('SolveAgent interface (pure parts)', () => {
  const text = 'a\nb\nc\nd\n';
  it('view_file numbers a line range and says what is left', () => {
    expect(viewLines(text, 2, 3)).toBe('     2\tb\n     3\tc\n(1 more lines)');
    expect(viewLines(text)).toBe('     1\ta\n     2\tb\n     3\tc\n     4\td');
    expect(viewLines(text, 9)).toBe('the file has 4 lines');
  });
  it('str_replace needs exactly one occurrence', () => {
    expect(replaceOnce(text, 'b\n', 'B\n')).toEqual({ text: 'a\nB\nc\nd\n' });
    expect(replaceOnce('x x', 'x', 'y')).toMatchObject({ error: expect.stringMatching(/more than once/) });
    expect(replaceOnce(text, 'z', 'y')).toMatchObject({ error: expect.stringMatching(/does not occur/) });
    expect(replaceOnce(text, '', 'y')).toMatchObject({ error: expect.stringMatching(/empty/) });
  });
  it('the task message holds the statement and the test command', () => {
    expect(solvePrompt('  clamp ignores high \n', 'pytest -rA')).toContain(
      '<issue>\nclamp ignores high\n</issue>',
    );
    expect(solvePrompt('x', 'pytest -rA')).toContain('pytest -rA');
  });
  it("a local source repository is hidden from the agent's commands, unless it holds the workspace", () => {
    expect(hiddenFromCommands('/src/repo', '/work/ws')).toEqual(['/src/repo']);
    expect(hiddenFromCommands('file:///src/my%20repo', '/work/ws')).toEqual(['/src/my repo']);
    expect(hiddenFromCommands('https://github.com/o/r.git', '/work/ws')).toEqual([]);
    expect(hiddenFromCommands('/work', '/work/ws')).toEqual([]);
  });
  it('every loop ending but an LLM failure is a recorded attempt', () => {
    expect(solveEnding({ status: 'done', value: true, turns: 3 })).toBe('Submitted');
    expect(solveEnding({ status: 'maxTurns', message: '', turns: 3 })).toBe('MaxTurns');
    expect(solveEnding({ status: 'budget', message: '', turns: 3 })).toBe('BudgetExhausted');
    expect(solveEnding({ status: 'context', message: '', turns: 3 })).toBe('ContextExceeded');
    expect(solveEnding({ status: 'error', message: '', turns: 3 })).toBeUndefined();
  });
});

describe('isContextLengthError', () => {
  it("recognizes OpenAI's code and compatible servers' wording, not other 400s", () => {
    expect(isContextLengthError({ status: 400, code: 'context_length_exceeded', message: '' })).toBe(true);
    expect(
      isContextLengthError({ status: 400, message: "This model's maximum context length is 8192 tokens" }),
    ).toBe(true);
    expect(isContextLengthError({ status: 413, message: 'prompt is too long' })).toBe(true);
    expect(isContextLengthError({ status: 400, message: 'invalid tool schema' })).toBe(false);
    expect(isContextLengthError({ status: 500, message: 'maximum context length' })).toBe(false);
    expect(isContextLengthError(new Error('socket hang up'))).toBe(false);
    expect(isContextLengthError(undefined)).toBe(false);
  });
});
