import { z } from 'zod';

/** USD per million tokens of the run's model, input and output apart (providers price them apart). */
export const Price = z
  .object({
    inputPerMillion: z.number().min(0).max(100000).describe('USD per 1M input (prompt) tokens'),
    outputPerMillion: z.number().min(0).max(100000).describe('USD per 1M output (completion) tokens'),
  })
  .strict()
  .describe(
    'Price table of llm.model in USD, for cost in status and report.md; absent: token counts only, never a price',
  );
export type Price = z.infer<typeof Price>;

/** Token counts as recorded on a stage result, an instance's status or a solve attempt. */
export interface TokenCounts {
  tokensUsed?: number | undefined;
  inputTokens?: number | undefined;
  outputTokens?: number | undefined;
}

export interface Cost {
  inputTokens: number;
  outputTokens: number;
  totalTokens: number;
  /**
   * Tokens without an input/output split (a server that reported no usage was charged an
   * estimate; records from before the split): not priced, so `usd` leaves them out.
   */
  unsplitTokens: number;
  /** Only with a price table. */
  usd?: number;
}

/** Sum of token counts, priced when there is a price table. Pure. */
export function costOf(records: readonly TokenCounts[], price: Price | undefined): Cost {
  let inputTokens = 0;
  let outputTokens = 0;
  let totalTokens = 0;
  for (const r of records) {
    const input = r.inputTokens ?? 0;
    const output = r.outputTokens ?? 0;
    inputTokens += input;
    outputTokens += output;
    totalTokens += Math.max(r.tokensUsed ?? 0, input + output);
  }
  const cost = {
    inputTokens,
    outputTokens,
    totalTokens,
    unsplitTokens: totalTokens - inputTokens - outputTokens,
  };
  if (!price) return cost;
  return {
    ...cost,
    usd: (inputTokens * price.inputPerMillion + outputTokens * price.outputPerMillion) / 1_000_000,
  };
}

export interface RunCost {
  /** Every curation stage attempt of every instance (rejected ones too: they paid for the verified). */
  curation: Cost;
  verified: number;
  /** curation.usd / verified; only with a price and at least one Verified instance. */
  usdPerVerified?: number;
  solve: Cost & {
    attempts: number;
    resolved: number;
    /** solve.usd / resolved attempts; only with a price and at least one resolved attempt. */
    usdPerResolved?: number;
  };
}

/** What a run cost: curation per Verified instance, solving per resolved attempt. Pure. */
export function runCost(
  instances: readonly { status?: (TokenCounts & { phase?: string | undefined }) | undefined }[],
  solves: readonly (TokenCounts & { grade?: { resolved: boolean } | undefined })[],
  price: Price | undefined,
): RunCost {
  const curation = costOf(
    instances.map((i) => i.status ?? {}),
    price,
  );
  const verified = instances.filter((i) => i.status?.phase === 'Verified').length;
  const solveCost = costOf(solves, price);
  const resolved = solves.filter((s) => s.grade?.resolved).length;
  return {
    curation,
    verified,
    ...(curation.usd !== undefined && verified > 0 && { usdPerVerified: curation.usd / verified }),
    solve: {
      ...solveCost,
      attempts: solves.length,
      resolved,
      ...(solveCost.usd !== undefined && resolved > 0 && { usdPerResolved: solveCost.usd / resolved }),
    },
  };
}

const tokens = z.number().int().min(0);
const usd = z.number().min(0);

/**
 * What a run cost, in CurationRun.status.cost and the local run.json: numbers only (a strict
 * schema of counts and dollars, so nothing else — no key, no URL, no text — can land here).
 * Dollars only with spec.llm.price.
 */
export const RunCostStatus = z
  .object({
    inputTokens: tokens.describe('Input (prompt) tokens of curation and solving'),
    outputTokens: tokens.describe('Output (completion) tokens of curation and solving'),
    unsplitTokens: tokens
      .optional()
      .describe('Tokens reported without an input/output split: counted, never priced'),
    usd: usd.optional().describe('USD in all (curation and solving); only with spec.llm.price'),
    curationUsd: usd.optional().describe('USD of curation (rejected instances included)'),
    usdPerVerified: usd.optional().describe('curationUsd / Verified instances'),
    solveUsd: usd.optional().describe('USD of solve attempts (spec.solve)'),
    usdPerResolvedSolve: usd.optional().describe('solveUsd / resolved solve attempts'),
  })
  .strict()
  .describe('Tokens and, with spec.llm.price, dollars the run spent');
export type RunCostStatus = z.infer<typeof RunCostStatus>;

/** Micro-dollars: status values that do not flap with float noise between roll-ups. */
const micro = (v: number) => Math.round(v * 1e6) / 1e6;

/** The status form of a run's cost. Pure. */
export function runCostStatus(cost: RunCost): RunCostStatus {
  const { curation, solve } = cost;
  const unsplit = curation.unsplitTokens + solve.unsplitTokens;
  const priced = curation.usd !== undefined;
  return {
    inputTokens: curation.inputTokens + solve.inputTokens,
    outputTokens: curation.outputTokens + solve.outputTokens,
    ...(unsplit > 0 && { unsplitTokens: unsplit }),
    ...(priced && {
      usd: micro((curation.usd ?? 0) + (solve.usd ?? 0)),
      curationUsd: micro(curation.usd ?? 0),
    }),
    ...(cost.usdPerVerified !== undefined && { usdPerVerified: micro(cost.usdPerVerified) }),
    ...(priced && solve.attempts > 0 && { solveUsd: micro(solve.usd ?? 0) }),
    ...(solve.usdPerResolved !== undefined && { usdPerResolvedSolve: micro(solve.usdPerResolved) }),
  };
}

/** An instance's solve tokens and counts, as its status.solve records them. */
export interface SolveTokenSummary extends TokenCounts {
  attempts: number;
  resolved: number;
  failedAttempts?: number | undefined;
}

/**
 * A run's cost from its instances' statuses alone (curation tokens, status.solve's tokens and
 * counts), what the operator's run roll-up sees. Pure.
 */
export function runCostOfInstances(
  instances: readonly {
    status?:
      | (TokenCounts & { phase?: string | undefined; solve?: SolveTokenSummary | undefined })
      | undefined;
  }[],
  price: Price | undefined,
): RunCost {
  const base = runCost(instances, [], price);
  const summaries = instances.flatMap((i) => (i.status?.solve ? [i.status.solve] : []));
  const solveCost = costOf(summaries, price);
  const attempts = summaries.reduce((n, s) => n + s.attempts + (s.failedAttempts ?? 0), 0);
  const resolved = summaries.reduce((n, s) => n + s.resolved, 0);
  return {
    ...base,
    solve: {
      ...solveCost,
      attempts,
      resolved,
      ...(solveCost.usd !== undefined && resolved > 0 && { usdPerResolved: solveCost.usd / resolved }),
    },
  };
}

/** A dollar amount for people: cents, or two significant digits below a cent. */
export function formatUsd(usd: number): string {
  if (usd === 0) return '$0.00';
  return usd >= 0.01 ? `$${usd.toFixed(2)}` : `$${usd.toPrecision(2)}`;
}

/** One line for `scaleswe status`: tokens, and dollars only with a price table. Pure. */
export function runCostLine(cost: RunCost, priced: boolean): string {
  const tokens = (c: Cost) => `${c.inputTokens} in / ${c.outputTokens} out tokens`;
  const usd = (v: number | undefined) => (v === undefined ? 'n/a' : formatUsd(v));
  const curation = priced
    ? `${tokens(cost.curation)}, ${usd(cost.curation.usd)} (${usd(cost.usdPerVerified)} per Verified instance)`
    : `${tokens(cost.curation)} (no llm.price)`;
  if (cost.solve.attempts === 0) return `cost: ${curation}`;
  const solve = priced
    ? `${tokens(cost.solve)}, ${usd(cost.solve.usd)} (${usd(cost.solve.usdPerResolved)} per resolved attempt)`
    : tokens(cost.solve);
  return `cost: ${curation}; solve: ${solve}`;
}
