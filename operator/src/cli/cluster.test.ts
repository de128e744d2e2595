import { describe, expect, it } from 'vitest';
import { describeClusterError } from './cluster.ts';

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
