import { describe, expect, it } from 'vitest';
import type { SWEInstanceSpec } from '../api/index.ts';
import { describeClusterError, renderStatus } from './cluster.ts';

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
