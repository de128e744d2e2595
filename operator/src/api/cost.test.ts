import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import {
  costOf,
  formatUsd,
  RunCostStatus,
  runCost,
  runCostLine,
  runCostOfInstances,
  runCostStatus,
} from './cost.ts';
import { CurationRunSpec } from './curation-run.ts';

const price = { inputPerMillion: 2.5, outputPerMillion: 10 };

describe('costOf', () => {
  it('prices input and output tokens apart', () => {
    const cost = costOf(
      [
        { tokensUsed: 1_300_000, inputTokens: 1_000_000, outputTokens: 300_000 },
        { tokensUsed: 200_000, inputTokens: 200_000, outputTokens: 0 },
      ],
      price,
    );
    expect(cost).toEqual({
      inputTokens: 1_200_000,
      outputTokens: 300_000,
      totalTokens: 1_500_000,
      unsplitTokens: 0,
      usd: 1.2 * 2.5 + 0.3 * 10,
    });
  });

  it('without a price table: token counts, no dollars', () => {
    const cost = costOf([{ tokensUsed: 40, inputTokens: 30, outputTokens: 10 }], undefined);
    expect(cost).toEqual({ inputTokens: 30, outputTokens: 10, totalTokens: 40, unsplitTokens: 0 });
    expect('usd' in cost).toBe(false);
  });

  it('never prices tokens without a split (an estimate, or a record from before the split)', () => {
    const cost = costOf([{ tokensUsed: 500 }, { tokensUsed: 150, inputTokens: 100, outputTokens: 0 }], price);
    expect(cost.totalTokens).toBe(650);
    expect(cost.unsplitTokens).toBe(550);
    expect(cost.usd).toBeCloseTo((100 * 2.5) / 1e6, 12);
  });
});

describe('runCost', () => {
  const instances = [
    { status: { phase: 'Verified', tokensUsed: 400_000, inputTokens: 300_000, outputTokens: 100_000 } },
    { status: { phase: 'Rejected', tokensUsed: 400_000, inputTokens: 300_000, outputTokens: 100_000 } },
    { status: { phase: 'Verified' } },
    {},
  ];
  const solves = [
    { tokensUsed: 110_000, inputTokens: 100_000, outputTokens: 10_000, grade: { resolved: true } },
    { tokensUsed: 110_000, inputTokens: 100_000, outputTokens: 10_000, grade: { resolved: false } },
    { tokensUsed: 0 },
  ];

  it('charges all curation to the Verified instances and all solving to the resolved attempts', () => {
    const cost = runCost(instances, solves, price);
    // Curation: 0.6M in x $2.5 + 0.2M out x $10 = $3.50 over 2 Verified.
    expect(cost.curation.usd).toBeCloseTo(3.5, 12);
    expect(cost.verified).toBe(2);
    expect(cost.usdPerVerified).toBeCloseTo(1.75, 12);
    // Solving: 0.2M in x $2.5 + 0.02M out x $10 = $0.70 over 1 resolved of 3 attempts.
    expect(cost.solve).toMatchObject({
      attempts: 3,
      resolved: 1,
      inputTokens: 200_000,
      outputTokens: 20_000,
    });
    expect(cost.solve.usd).toBeCloseTo(0.7, 12);
    expect(cost.solve.usdPerResolved).toBeCloseTo(0.7, 12);
  });

  it('no per-unit figure without a unit to divide by, none without a price', () => {
    const none = runCost([{ status: { phase: 'Rejected', tokensUsed: 10, inputTokens: 10 } }], [], price);
    expect(none.curation.usd).toBeGreaterThan(0);
    expect(none.usdPerVerified).toBeUndefined();
    expect(none.solve.usdPerResolved).toBeUndefined();
    const unpriced = runCost(instances, solves, undefined);
    expect(unpriced.usdPerVerified).toBeUndefined();
    expect(unpriced.solve.usd).toBeUndefined();
    expect(unpriced.solve.usdPerResolved).toBeUndefined();
    expect(unpriced.curation.inputTokens).toBe(600_000);
  });

  it('a status line: dollars with a price, token counts only without', () => {
    expect(runCostLine(runCost(instances, solves, price), true)).toBe(
      'cost: 600000 in / 200000 out tokens, $3.50 ($1.75 per Verified instance); solve: 200000 in / 20000 out tokens, $0.70 ($0.70 per resolved attempt)',
    );
    const line = runCostLine(runCost(instances, [], undefined), false);
    expect(line).toBe('cost: 600000 in / 200000 out tokens (no llm.price)');
    expect(line).not.toContain('$');
  });
});

describe('status.cost', () => {
  const instances = [
    {
      status: {
        phase: 'Verified',
        tokensUsed: 400_000,
        inputTokens: 300_000,
        outputTokens: 100_000,
        // Two attempts, one resolved, one failed on infrastructure (its tokens still paid).
        solve: {
          attempts: 1,
          resolved: 1,
          failedAttempts: 1,
          tokensUsed: 220_000,
          inputTokens: 200_000,
          outputTokens: 20_000,
        },
      },
    },
    { status: { phase: 'Rejected', tokensUsed: 400_000, inputTokens: 300_000, outputTokens: 100_000 } },
    { status: { phase: 'Verified', solve: { attempts: 1, resolved: 0, tokensUsed: 500 } } },
  ];

  it("from the instances' statuses alone: $ in all, per Verified instance, per resolved solve", () => {
    const status = runCostStatus(runCostOfInstances(instances, price));
    // Curation $3.50 over 2 Verified; solving 0.2M in x $2.5 + 0.02M out x $10 = $0.70 over 1 resolved.
    expect(status).toEqual({
      inputTokens: 800_000,
      outputTokens: 220_000,
      unsplitTokens: 500,
      usd: 4.2,
      curationUsd: 3.5,
      usdPerVerified: 1.75,
      solveUsd: 0.7,
      usdPerResolvedSolve: 0.7,
    });
    expect(runCostOfInstances(instances, price).solve).toMatchObject({ attempts: 3, resolved: 1 });
    expect(RunCostStatus.parse(status)).toEqual(status);
  });

  it('the same figures as runCost over the attempt records (the local run)', () => {
    const fromAttempts = runCostStatus(
      runCost(
        instances,
        [
          { tokensUsed: 110_000, inputTokens: 100_000, outputTokens: 10_000, grade: { resolved: true } },
          { tokensUsed: 110_000, inputTokens: 100_000, outputTokens: 10_000 },
          { tokensUsed: 500, grade: { resolved: false } },
        ],
        price,
      ),
    );
    expect(fromAttempts).toEqual(runCostStatus(runCostOfInstances(instances, price)));
  });

  it('token counts only without a price; no solve figures without solving', () => {
    expect(runCostStatus(runCostOfInstances(instances, undefined))).toEqual({
      inputTokens: 800_000,
      outputTokens: 220_000,
      unsplitTokens: 500,
    });
    expect(runCostStatus(runCostOfInstances([instances[1]!], price))).toEqual({
      inputTokens: 300_000,
      outputTokens: 100_000,
      usd: 1.75,
      curationUsd: 1.75,
    });
  });

  it('numbers only: the schema takes no text, so no key or URL can land in status.cost', () => {
    expect(RunCostStatus.safeParse({ inputTokens: 1, outputTokens: 1, apiKey: 'sk-x' }).success).toBe(false);
    expect(RunCostStatus.safeParse({ inputTokens: 1, outputTokens: 1, usd: 'sk-x' }).success).toBe(false);
    const shape = RunCostStatus.shape;
    for (const [field, schema] of Object.entries(shape))
      expect(schema instanceof z.ZodOptional ? schema.unwrap() : schema, field).toBeInstanceOf(z.ZodNumber);
  });
});

describe('formatUsd', () => {
  it('cents, two significant digits below a cent', () => {
    expect([0, 3.5, 0.0123, 0.00042, 1234.567].map(formatUsd)).toEqual([
      '$0.00',
      '$3.50',
      '$0.01',
      '$0.00042',
      '$1234.57',
    ]);
  });
});

describe('spec.llm.price', () => {
  const spec = (price: unknown) => ({
    source: { git: { url: 'https://example.com/a.git' } },
    llm: { baseURL: 'http://llm.local/v1', model: 'm', price },
  });

  it('parses, and is optional', () => {
    expect(CurationRunSpec.parse(spec(price)).llm?.price).toEqual(price);
    expect(CurationRunSpec.parse(spec(undefined)).llm?.price).toBeUndefined();
  });

  it('rejects a negative or half-given price', () => {
    expect(CurationRunSpec.safeParse(spec({ inputPerMillion: -1, outputPerMillion: 1 })).success).toBe(false);
    expect(CurationRunSpec.safeParse(spec({ inputPerMillion: 1 })).success).toBe(false);
  });
});
