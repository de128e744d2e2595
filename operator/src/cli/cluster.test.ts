import { describe, expect, it } from 'vitest';
import type { InstanceRecord, SWEInstanceSpec } from '../api/index.ts';
import { clusterSolveAttempts, describeClusterError, renderStatus } from './cluster.ts';

const SERVER = 'https://10.0.0.1:6443';

describe('describeClusterError', () => {
  it('names the server when fetch could not reach it, whatever the transport reason', () => {
    const refused = new TypeError('fetch failed', {
      cause: Object.assign(new Error('connect ECONNREFUSED 10.0.0.1:6443'), { code: 'ECONNREFUSED' }),
    });
    expect(describeClusterError(refused, 'CurationRuns', 'ns', SERVER)).toBe(
      `cannot reach the API server at ${SERVER}: ECONNREFUSED`,
    );
    // undici refuses some ports outright: no code, only a message.
    const badPort = new TypeError('fetch failed', { cause: new Error('bad port') });
    expect(describeClusterError(badPort, 'CurationRuns', 'ns', SERVER)).toBe(
      `cannot reach the API server at ${SERVER}: bad port`,
    );
  });

  it('keeps other errors as they are, prefixed with what was asked', () => {
    expect(describeClusterError(new Error('boom'), 'CurationRuns', 'ns', SERVER)).toBe('CurationRuns: boom');
  });
});

describe('renderStatus', () => {
  const spec = { instanceId: 'o__r-1' } as SWEInstanceSpec;
  const run = {
    name: 'nightly',
    status: { phase: 'Succeeded' as const },
    instances: [
      { spec, status: { phase: 'Verified' as const, tokensUsed: 40, inputTokens: 30, outputTokens: 10 } },
    ],
  };

  it('prices the tokens with spec.llm.price, per Verified instance', () => {
    const text = renderStatus({ ...run, price: { inputPerMillion: 1000, outputPerMillion: 2000 } });
    expect(text).toContain('  cost: 30 in / 10 out tokens, $0.05 ($0.05 per Verified instance)');
  });

  it("adds solving's cost from the instances' status.solve, per resolved attempt", () => {
    const solved = {
      ...run,
      price: { inputPerMillion: 1000, outputPerMillion: 2000 },
      instances: [
        {
          spec,
          status: {
            ...run.instances[0]!.status,
            solve: {
              attempts: 2,
              resolved: 1,
              k: 2,
              failedAttempts: 0,
              tokensUsed: 30,
              inputTokens: 20,
              outputTokens: 10,
            },
          },
        },
      ],
    };
    expect(renderStatus(solved)).toContain(
      '  cost: 30 in / 10 out tokens, $0.05 ($0.05 per Verified instance); solve: 20 in / 10 out tokens, $0.04 ($0.04 per resolved attempt)',
    );
  });

  it('without a price: token counts only', () => {
    const text = renderStatus(run);
    expect(text).toContain('  cost: 30 in / 10 out tokens (no llm.price)');
    expect(text).not.toContain('$');
  });
});

describe('clusterSolveAttempts', () => {
  const step = (content: string) => ({
    startedAt: '2026-12-01T00:00:00Z',
    durationMs: 1,
    request: { model: 'm', messages: [{ role: 'system' as const, content }] },
    response: { role: 'assistant' as const, content: 'ok' },
    usage: { prompt_tokens: 1, completion_tokens: 1, total_tokens: 2 },
  });
  const payload = (attempt: number, content: string) => ({
    instanceId: 'acme__widgets-1',
    stage: 'verify' as const,
    attempt,
    droppedSteps: 0,
    steps: [step(content)],
  });
  const grade = {
    resolved: true,
    failToPassPassed: 1,
    failToPassTotal: 1,
    passToPassBroken: 0,
    reason: 'Graded',
  };

  it("pairs each Done attempt with its producing pod's trajectory; in-flight attempts and verify's own grants are left out", () => {
    const instance = {
      spec: { instanceId: 'acme__widgets-1' } as InstanceRecord['spec'],
      status: {
        phase: 'Verified' as const,
        solveAttempts: [
          {
            attempt: 1,
            phase: 'Done' as const,
            tries: 0,
            solveTry: 2,
            patch: 'p',
            grade,
            tokensUsed: 2,
            durationMs: 1,
          },
          {
            attempt: 2,
            phase: 'Grading' as const,
            tries: 0,
            solveTry: 1,
            patch: 'q',
            tokensUsed: 2,
            durationMs: 1,
          },
        ],
      },
    };
    const solves = clusterSolveAttempts(
      [instance],
      [payload(1, 'verify agent'), payload(1001, 'first try'), payload(2001, 'second try')],
    );
    expect(solves).toHaveLength(1);
    expect(solves[0]).toMatchObject({ instanceId: 'acme__widgets-1', attempt: 1, patch: 'p', grade });
    expect(solves[0]?.trajectory?.agent).toBe('SolveAgent');
    expect(solves[0]?.trajectory?.steps[0]?.request.messages[0]).toEqual({
      role: 'system',
      content: 'second try',
    });
  });
});
