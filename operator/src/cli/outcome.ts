import type { LocalInstance } from '../local/state.ts';

/**
 * Rejected instances are the pipeline working; Failed ones mean the machinery did not (clone,
 * sandbox, LLM …) even after retries, and scripts must be able to tell. Undefined when none failed.
 */
export function failedInstancesMessage(instances: readonly LocalInstance[]): string | undefined {
  const failed = instances.filter((i) => i.status.phase === 'Failed');
  if (failed.length === 0) return undefined;
  const reasons = failed.map((i) => `${i.spec.instanceId}: ${i.status.lastError?.reason ?? 'unknown'}`);
  return `${failed.length} of ${instances.length} instances failed after their retries (${reasons.join(', ')}); the export holds the rest; these are infrastructure failures: rerun the same command once the cause is fixed and they continue`;
}
