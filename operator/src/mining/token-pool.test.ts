import { describe, expect, it } from 'vitest';
import { chooseToken, parseTokens, resourceOf, TokenPool, type TokenWindow } from './token-pool.ts';

const w = (remaining: number | undefined, resetAtMs = 10_000, lastUse = 0): TokenWindow => ({
  remaining,
  resetAtMs,
  lastUse,
});

describe('chooseToken', () => {
  it('takes the token with the most requests left; an unknown budget counts as full', () => {
    expect(chooseToken([w(5), w(40), w(7)], 0)).toBe(1);
    expect(chooseToken([w(5), w(undefined), w(4000)], 0)).toBe(1);
  });

  it('spreads equal budgets least recently used first', () => {
    expect(chooseToken([w(9, 10_000, 50), w(9, 10_000, 20)], 100)).toBe(1);
    expect(chooseToken([w(undefined, 0, 30), w(undefined, 0, 60)], 100)).toBe(0);
  });

  it('skips spent tokens until their window resets, then counts them as full again', () => {
    expect(chooseToken([w(0, 5_000), w(1, 5_000)], 1_000)).toBe(1);
    expect(chooseToken([w(0, 5_000), w(1, 9_000)], 6_000)).toBe(0);
  });

  it('with every window spent, names the one that resets first', () => {
    expect(chooseToken([w(0, 9_000), w(0, 3_000), w(0, 4_000)], 1_000)).toBe(1);
  });
});

describe('TokenPool', () => {
  it('follows what GitHub reports per token and resource, and reserves a request per take', () => {
    let now = 0;
    const pool = new TokenPool(['a', 'b'], () => now);
    expect([pool.take('core'), pool.take('core')]).toEqual(['a', 'b']);
    pool.observe('a', {
      'x-ratelimit-remaining': '2',
      'x-ratelimit-reset': '100',
      'x-ratelimit-resource': 'core',
    });
    pool.observe('b', {
      'x-ratelimit-remaining': '1',
      'x-ratelimit-reset': '100',
      'x-ratelimit-resource': 'core',
    });
    // a has 2 left, b 1: a; then 1 each, b used less recently: b; then a.
    expect([pool.take('core'), pool.take('core'), pool.take('core')]).toEqual(['a', 'b', 'a']);
    // Both spent (a 0, b 0): the earliest reset; the graphql window is apart and untouched.
    expect(pool.hasOtherThan('a', 'core')).toBe(false);
    expect(pool.take('graphql')).toBe('a');
    expect(pool.hasOtherThan('a', 'graphql')).toBe(true);
    now = 100_000;
    expect(pool.hasOtherThan('a', 'core')).toBe(true);
  });

  it('sets a refused token aside for the time GitHub names', () => {
    let now = 0;
    const pool = new TokenPool(['a', 'b'], () => now);
    pool.exhausted('b', 'core', 30);
    expect([pool.take('core'), pool.take('core')]).toEqual(['a', 'a']);
    now = 31_000;
    expect(pool.take('core')).toBe('b');
  });

  it('without tokens sends anonymous requests', () => {
    const pool = new TokenPool([]);
    expect(pool.take('core')).toBeUndefined();
    expect(pool.authenticated).toBe(false);
    expect(new TokenPool(['x']).authenticated).toBe(true);
  });
});

describe('parseTokens and resourceOf', () => {
  it('reads one or several tokens from a Secret value', () => {
    expect(parseTokens('ghp_one\n')).toEqual(['ghp_one']);
    expect(parseTokens(' ghp_a, ghp_b\nghp_c  ghp_a ')).toEqual(['ghp_a', 'ghp_b', 'ghp_c']);
  });

  it('names the rate-limit resource of a request by its path', () => {
    expect(resourceOf('https://api.github.com/graphql')).toBe('graphql');
    expect(resourceOf('https://ghe.example.com/api/graphql')).toBe('graphql');
    expect(resourceOf('https://api.github.com/search/repositories?q=x')).toBe('search');
    expect(resourceOf('https://ghe.example.com/api/v3/search/repositories')).toBe('search');
    expect(resourceOf('https://api.github.com/repos/a/b/pulls')).toBe('core');
    expect(resourceOf('/repos/a/b/pulls/1')).toBe('core');
  });
});
