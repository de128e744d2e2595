#!/usr/bin/env node
/**
 * The trusted half of an environment image build pod (operator image). The untrusted init
 * container left in $SCALESWE_BUILD_DIR: `status` ("<step> <exit code>", step checkout, setup
 * or pack), the logs of its steps and, when all went well, `layer.tar.gz` (the prepared
 * environment). This program appends that layer to the sandbox image and pushes it; it is the
 * only container of the pod that mounts the push Secret. Its result goes to the termination
 * message as JSON (api/env-image.ts). Always exits 0 after writing a result.
 */
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { ENV_IMAGE_CHECKOUT, EnvImageResult, type InfraFailureReason } from '../api/index.ts';
import {
  appendLayer,
  credentialsFromDockerConfig,
  parseImageRef,
  RegistryClient,
  RegistryError,
} from './oci-registry.ts';

const TERMINATION_LOG = process.env.SCALESWE_TERMINATION_LOG ?? '/dev/termination-log';

type Failure = { reason: InfraFailureReason; message: string };

const NO_SPACE = /No space left on device|ENOSPC|Disk quota exceeded/i;

/** Pure: what the init container's status file and logs say about the build. */
export function buildStepFailure(status: string, logTail: string): Failure | undefined {
  const [step = '', code = ''] = status.trim().split(/\s+/);
  if (step === 'pack' && code === '0') return undefined;
  const tail = logTail.trim().slice(-1500);
  if (NO_SPACE.test(logTail))
    return {
      reason: 'EnvImageOutOfDisk',
      message: `the build ran out of disk during ${step || 'the build'}: ${tail}`,
    };
  switch (step) {
    case 'checkout':
      return { reason: 'CheckoutFailed', message: `checkout of the base commit exited ${code}: ${tail}` };
    case 'setup':
      return {
        reason: 'EnvImageBuildFailed',
        message: `replaying the recorded setup exited ${code}: ${tail}`,
      };
    case 'pack':
      return { reason: 'EnvImageBuildFailed', message: `packing the environment exited ${code}: ${tail}` };
    default:
      return {
        reason: 'EnvImageBuildFailed',
        message: 'the build step left no status (init container crashed?)',
      };
  }
}

async function readOr(file: string, fallback: string): Promise<string> {
  try {
    return await readFile(file, 'utf8');
  } catch {
    return fallback;
  }
}

function required(name: string): string {
  const v = process.env[name];
  if (!v) throw new Error(`${name} is not set`);
  return v;
}

async function build(started: number): Promise<EnvImageResult> {
  const dir = required('SCALESWE_BUILD_DIR');
  const status = await readOr(path.join(dir, 'status'), '');
  const step = status.trim().split(/\s+/)[0] ?? '';
  const failure = buildStepFailure(status, await readOr(path.join(dir, `${step || 'setup'}.log`), ''));
  if (failure) return { outcome: 'failed', ...failure, durationMs: Date.now() - started };

  const authFile = process.env.SCALESWE_REGISTRY_AUTH_FILE;
  const credentials = authFile ? credentialsFromDockerConfig(await readFile(authFile, 'utf8')) : undefined;
  const base = parseImageRef(required('SCALESWE_BASE_IMAGE'));
  const target = parseImageRef(required('SCALESWE_TARGET_IMAGE'));
  const client = new RegistryClient({
    ...(credentials && { credentials }),
    plainHTTP: process.env.SCALESWE_REGISTRY_PLAIN_HTTP === 'true' ? [base.registry, target.registry] : [],
  });
  const pushed = await appendLayer(client, {
    base,
    target,
    layerFile: path.join(dir, 'layer.tar.gz'),
    comment: `scaleswe environment ${target.reference} (checkout and setup at ${ENV_IMAGE_CHECKOUT})`,
    env: { SCALESWE_PREPARED_DIR: ENV_IMAGE_CHECKOUT },
  });
  return {
    outcome: 'pushed',
    reason: 'Pushed',
    message: `pushed ${pushed.image}`,
    image: pushed.image,
    digest: pushed.digest,
    durationMs: Date.now() - started,
  };
}

async function main(): Promise<void> {
  const started = Date.now();
  let result: EnvImageResult;
  try {
    result = await build(started);
  } catch (err) {
    const message = String((err as Error).message ?? err).slice(0, 2000);
    const reason: InfraFailureReason =
      err instanceof RegistryError
        ? err.reason
        : NO_SPACE.test(message)
          ? 'EnvImageOutOfDisk'
          : 'EnvImageBuildFailed';
    result = { outcome: 'failed', reason, message, durationMs: Date.now() - started };
  }
  const json = JSON.stringify(EnvImageResult.parse(result));
  process.stdout.write(`${json}\n`);
  await writeFile(TERMINATION_LOG, json).catch(() => {});
}

if (process.argv[1] && import.meta.url.endsWith(path.basename(process.argv[1]))) await main();
