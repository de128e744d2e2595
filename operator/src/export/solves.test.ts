import { describe, expect, it } from 'vitest';
import type { SolveAttempt, Trajectory } from '../api/index.ts';
import { solveExamples } from './solves.ts';

const tools = [{ type: 'function', function: { name: 'submit', parameters: { type: 'object' } } }];
function trajectory(id: string): Trajectory {
  const messages = [
    { role: 'system', content: 'fix it' },
    { role: 'user', content: `<issue>${id}</issue>` },
    {
      role: 'assistant',
      content: 'look first',
      tool_calls: [{ id: 'c0', type: 'function', function: { name: 'view', arguments: '{}' } }],
    },
    { role: 'tool', tool_call_id: 'c0', content: 'def f(): ...' },
  ];
  return {
    instanceId: id,
    stage: 'verify',
    agent: 'SolveAgent',
    steps: [
      {
        request: { model: 'm', messages, tools },
        response: {
          choices: [
            {
              message: {
                role: 'assistant',
                content: null,
                refusal: null,
                tool_calls: [{ id: 'c1', type: 'function', function: { name: 'submit', arguments: '{}' } }],
              },
            },
          ],
        },
        usage: { prompt_tokens: 10, completion_tokens: 2, total_tokens: 12 },
        startedAt: '2026-01-01T00:00:00Z',
        durationMs: 1,
      },
    ],
  };
}
const attempt = (id: string, n: number, resolved: boolean | 'error'): SolveAttempt => ({
  instanceId: id,
  attempt: n,
  ending: 'Submitted',
  patch: `patch ${n}`,
  tokensUsed: 12,
  inputTokens: 10,
  outputTokens: 2,
  durationMs: 5,
  trajectory: trajectory(id),
  ...(resolved === 'error'
    ? { error: { reason: 'LlmUnavailable', message: 'down' } }
    : {
        grade: {
          resolved,
          failToPassPassed: resolved ? 1 : 0,
          failToPassTotal: 1,
          passToPassBroken: 0,
          reason: 'Graded',
        },
      }),
});

describe('solves.jsonl', () => {
  const attempts = [attempt('o__r-1', 1, true), attempt('o__r-1', 2, false), attempt('o__r-2', 1, 'error')];
  it('resolved attempts only by default, in the SFT shape {messages, tools}', () => {
    const out = solveExamples(attempts);
    expect(out).toHaveLength(1);
    expect(Object.keys(out[0]!.example).sort()).toEqual(['messages', 'tools']);
    expect(out[0]!.example.messages.at(-1)).toEqual({
      role: 'assistant',
      tool_calls: [{ id: 'c1', type: 'function', function: { name: 'submit', arguments: '{}' } }],
    });
    expect(out[0]!.labels).toMatchObject({
      instance_id: 'o__r-1',
      attempt: 1,
      resolved: true,
      ending: 'Submitted',
      total_tokens: 12,
      prompt_tokens: 10,
      completion_tokens: 2,
    });
  });
  it('allSolves adds the unresolved ones with their labels; attempts without a grade never', () => {
    const out = solveExamples(attempts, { allSolves: true });
    expect(out.map((e) => [e.labels.attempt, e.labels.resolved])).toEqual([
      [1, true],
      [2, false],
    ]);
    expect(out[1]!.labels).toMatchObject({ fail_to_pass_passed: 0, fail_to_pass_total: 1, patch: 'patch 2' });
  });
  it('solveWeights puts weight 1 on assistant messages of resolved attempts, 0 on unresolved, none elsewhere', () => {
    const out = solveExamples(attempts, { allSolves: true, solveWeights: true });
    const weights = out.map((e) =>
      (e.example.messages as { role: string; weight?: number }[]).map((m) => [m.role, m.weight]),
    );
    expect(weights).toEqual([
      [
        ['system', undefined],
        ['user', undefined],
        ['assistant', 1],
        ['tool', undefined],
        ['assistant', 1],
      ],
      [
        ['system', undefined],
        ['user', undefined],
        ['assistant', 0],
        ['tool', undefined],
        ['assistant', 0],
      ],
    ]);
    // Default: no weight key at all (fine-tuning then learns every assistant message).
    expect(JSON.stringify(solveExamples(attempts, { allSolves: true }))).not.toContain('"weight"');
  });
});
