import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { CurationRunSpec, SWEInstanceSpec, SWEInstanceStatus } from '../api/index.ts';
import { LlmGateway } from '../llm/gateway.ts';
import { mintGatewayToken } from '../llm/gateway-token.ts';
import type { AttemptRef } from '../pipeline/instance-plan.ts';
import { remainingTokenBudget } from '../pipeline/pipeline.ts';

export interface LocalLlmEndpoint {
  /** Where one stage attempt's agents send their requests, and the token they send. */
  endpointFor(
    instance: SWEInstanceSpec,
    status: SWEInstanceStatus,
    ref: AttemptRef,
    timeoutSeconds: number,
    /** The attempt's own token budget (a solve attempt's); default: what the instance has left. */
    budget?: number,
  ): { baseURL: string; apiKey: string };
  /** The same gateway on a Unix socket, for stage sandboxes that cannot reach the host's loopback. */
  socketPath: string;
  close(): Promise<void>;
}

/**
 * The same LLM gateway the operator serves, on loopback, for a local run: it alone holds the
 * provider key (stage processes get a per-attempt token), pins the model, and enforces the
 * run's token budget and requests per minute exactly as in the cluster.
 */
export async function startLocalLlmGateway(
  llm: NonNullable<CurationRunSpec['llm']>,
  runSpec: CurationRunSpec,
  apiKey: string | undefined,
): Promise<LocalLlmEndpoint> {
  const secret = randomBytes(32);
  const gateway = new LlmGateway({
    secret,
    resolveProvider: async () => ({
      baseURL: llm.baseURL,
      apiKey,
      model: llm.model,
      requestsPerMinute: llm.requestsPerMinute,
    }),
  });
  const port = await gateway.listen(0, '127.0.0.1');
  // A directory of its own (0700 by mkdtemp): it is bound into every stage sandbox.
  const socketDir = await mkdtemp(join(tmpdir(), 'scaleswe-llm-'));
  const socketPath = join(socketDir, 'gateway.sock');
  await gateway.listenOnSocket(socketPath);
  return {
    socketPath,
    endpointFor(instance, status, ref, timeoutSeconds, budget) {
      const token = mintGatewayToken(secret, {
        namespace: 'local',
        instance: instance.instanceId,
        instanceId: instance.instanceId,
        stage: ref.stage,
        attempt: ref.attempt,
        budget: budget ?? remainingTokenBudget(runSpec, status),
        expiresAt: Date.now() + (timeoutSeconds + 300) * 1000,
      });
      return { baseURL: `http://127.0.0.1:${port}/v1`, apiKey: token };
    },
    close: async () => {
      await gateway.close();
      await rm(socketDir, { recursive: true, force: true });
    },
  };
}
