import { z } from 'zod';

/** metav1.Condition, per the Kubernetes API conventions. */
export const Condition = z
  .object({
    type: z.string().min(1).max(316).describe('CamelCase condition type, e.g. Ready'),
    status: z.enum(['True', 'False', 'Unknown']).describe('Whether the condition holds'),
    reason: z
      .string()
      .min(1)
      .max(1024)
      .regex(/^[A-Za-z]([A-Za-z0-9_,:]*[A-Za-z0-9_])?$/, 'reason must be CamelCase')
      .describe('CamelCase machine-readable reason for the status'),
    message: z.string().max(32768).default('').describe('Human-readable details'),
    lastTransitionTime: z.string().describe('RFC 3339 time of the last status change'),
    observedGeneration: z
      .number()
      .int()
      .min(0)
      .optional()
      .describe('metadata.generation the condition was set for'),
  })
  .strict();
export type Condition = z.infer<typeof Condition>;
export type ConditionStatus = Condition['status'];

export interface ConditionInput {
  type: string;
  status: ConditionStatus;
  reason: string;
  message: string;
  observedGeneration?: number;
}

/**
 * Returns the conditions with `next` set. lastTransitionTime moves only when the status
 * changes, so rewriting the same condition is a no-op (no spurious status writes).
 */
export function setCondition(conditions: readonly Condition[], next: ConditionInput, now: Date): Condition[] {
  const existing = conditions.find((c) => c.type === next.type);
  const transitioned = !existing || existing.status !== next.status;
  const merged: Condition = {
    type: next.type,
    status: next.status,
    reason: next.reason,
    message: next.message,
    lastTransitionTime: transitioned ? now.toISOString() : existing.lastTransitionTime,
    ...(next.observedGeneration === undefined ? {} : { observedGeneration: next.observedGeneration }),
  };
  return existing ? conditions.map((c) => (c.type === next.type ? merged : c)) : [...conditions, merged];
}

export function findCondition(
  conditions: readonly Condition[] | undefined,
  type: string,
): Condition | undefined {
  return conditions?.find((c) => c.type === type);
}

export function isConditionTrue(conditions: readonly Condition[] | undefined, type: string): boolean {
  return findCondition(conditions, type)?.status === 'True';
}
