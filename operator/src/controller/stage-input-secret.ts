import { isAlreadyExists, type Kube } from '../kube/index.ts';
import type { SecretManifest } from '../sandbox/index.ts';

/**
 * Creates a stage pod's input Secret; one already there is fine when it belongs to this pod
 * (a restarted operator ensuring it again). One owned by an earlier pod of the same name is
 * about to be garbage collected: an error, so the reconcile is retried with backoff.
 */
export async function ensureStageInputSecret(
  kube: Kube,
  secret: SecretManifest,
): Promise<'created' | 'exists'> {
  const { namespace, name } = secret.metadata;
  try {
    await kube.createSecretObject(namespace, secret);
    return 'created';
  } catch (err) {
    if (!isAlreadyExists(err)) throw err;
  }
  const existing = await kube.readSecret(namespace, name);
  const want = secret.metadata.ownerReferences[0]?.uid;
  const owner = existing.metadata?.ownerReferences?.find((r) => r.kind === 'Pod')?.uid;
  if (owner !== want)
    throw new Error(
      `stage input Secret ${name} belongs to pod uid ${owner ?? 'none'}, not ${want}: waiting for its garbage collection`,
    );
  return 'exists';
}
