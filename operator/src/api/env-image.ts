import { z } from 'zod';

/**
 * The contract of an environment image build pod (cluster). Its untrusted init container
 * (the sandbox image) checks out the base commit and replays the setup into ENV_IMAGE_ROOT,
 * then packs it; its trusted push container (the operator image, the only one holding the
 * push Secret) appends that layer to the sandbox image in the registry and writes this
 * result, as JSON, to its termination message.
 */
export const ENV_IMAGE_ROOT = '/scaleswe-env';
/** The prepared checkout inside the image: later stages start there (StageInput.prepared.dir). */
export const ENV_IMAGE_CHECKOUT = `${ENV_IMAGE_ROOT}/repo`;
/** HOME and caches live in the image too: Maven, Go, Cargo read them at test time. */
export const ENV_IMAGE_HOME = `${ENV_IMAGE_ROOT}/home`;
export const ENV_IMAGE_CACHE = `${ENV_IMAGE_ROOT}/.cache`;
/** The condition an instance carries while its environment image is wanted. */
export const ENV_IMAGE_CONDITION = 'EnvImageReady';

export const EnvImageResult = z
  .object({
    outcome: z.enum(['pushed', 'failed']),
    /** An infrastructure failure reason (api/failures.ts) when failed; `Pushed` otherwise. */
    reason: z.string().regex(/^[A-Z][A-Za-z0-9]*$/),
    message: z.string(),
    /** repository@sha256:… */
    image: z.string().optional(),
    digest: z
      .string()
      .regex(/^sha256:[0-9a-f]{64}$/)
      .optional(),
    durationMs: z.number().min(0),
  })
  .strict();
export type EnvImageResult = z.infer<typeof EnvImageResult>;

/** Tag of an environment: one image per environment key, shared by instances with that key. */
export function envImageTag(key: string): string {
  return `env-${key}`;
}
