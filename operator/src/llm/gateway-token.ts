import { createHmac, timingSafeEqual } from 'node:crypto';
import { z } from 'zod';

/**
 * What a sandbox pod may do with the LLM gateway, signed by the operator. Tokens are
 * stateless (HMAC), so an operator restart does not strand running pods, and a pod never
 * holds anything that works against the provider directly.
 */
export const GatewayClaims = z
  .object({
    namespace: z.string(),
    instance: z.string().describe('SWEInstance object name'),
    instanceId: z.string(),
    stage: z.string(),
    attempt: z.number().int(),
    budget: z.number().int().min(0).describe('Tokens this pod may spend'),
    expiresAt: z.number().int().describe('Unix ms'),
  })
  .strict();
export type GatewayClaims = z.infer<typeof GatewayClaims>;

const PREFIX = 'sgw1';

function sign(secret: Buffer, payload: string): string {
  return createHmac('sha256', secret).update(payload).digest('base64url');
}

export function mintGatewayToken(secret: Buffer, claims: GatewayClaims): string {
  const payload = Buffer.from(JSON.stringify(GatewayClaims.parse(claims))).toString('base64url');
  return `${PREFIX}.${payload}.${sign(secret, payload)}`;
}

/** The claims of a valid, unexpired token; undefined for anything else. */
export function verifyGatewayToken(secret: Buffer, token: string, now: number): GatewayClaims | undefined {
  const [prefix, payload, signature] = token.split('.');
  if (prefix !== PREFIX || !payload || !signature) return undefined;
  const expected = Buffer.from(sign(secret, payload));
  const given = Buffer.from(signature);
  if (expected.length !== given.length || !timingSafeEqual(expected, given)) return undefined;
  try {
    const claims = GatewayClaims.parse(JSON.parse(Buffer.from(payload, 'base64url').toString('utf8')));
    return claims.expiresAt > now ? claims : undefined;
  } catch {
    return undefined;
  }
}

/** Identity of one pod's grant, for usage accounting. */
export function grantKey(claims: GatewayClaims): string {
  return `${claims.namespace}/${claims.instance}/${claims.stage}/${claims.attempt}`;
}
