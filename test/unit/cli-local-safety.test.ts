// The CLI refuses what would be unsafe before it starts: two runs on one state directory,
// untrusted code without a sandbox unless explicitly accepted, names the API server refuses.
import { spawnSync } from 'node:child_process';
import {
  existsSync,
  lstatSync,
  mkdirSync,
  mkdtempSync,
  readlinkSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { createSampleRepo } from '../../operator/src/cli/sample.ts';
import { processStart } from '../../operator/src/local/state-lock.ts';
import { runCli, startCli } from '../support/cli.ts';

const scratch = mkdtempSync(join(tmpdir(), 'scaleswe-safety-'));
const repo = createSampleRepo(join(scratch, 'repo'));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

function manifest(name: string, spec: Record<string, unknown> = {}): string {
  const file = join(scratch, `${name.replace(/[^a-z0-9]/gi, '_')}.yaml`);
  writeFileSync(
    file,
    JSON.stringify({
      apiVersion: 'scaleswe.dev/v1alpha1',
      kind: 'CurationRun',
      metadata: { name },
      spec: { source: { git: { url: repo } }, limits: { maxPRs: 1, maxParallel: 1 }, ...spec },
    }),
  );
  return file;
}

async function waitFor(output: () => string, pattern: RegExp, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!pattern.test(output())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${pattern}:\n${output()}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

describe('state directory lock', { timeout: 300_000 }, () => {
  it('a second run on the same state directory fails at once naming the holder; a dead holder is taken over', async () => {
    const state = join(scratch, 'locked');
    const file = manifest('locked');
    const first = startCli(['run', '-f', file, '--state-dir', state]);
    await waitFor(first.out, /env started/, 120_000);

    const second = await runCli(['run', '-f', file, '--state-dir', state]);
    expect(second.code).toBe(1);
    expect(second.err).toContain(
      `${state} is in use by another scaleswe run (pid ${first.child.pid} on ${hostname()})`,
    );
    expect(second.out).not.toContain('env started');

    first.child.kill('SIGINT');
    expect(await first.exit).toBe(130);
    expect(lstatSync(join(state, 'run.lock'), { throwIfNoEntry: false })).toBeUndefined();

    // A lock left by a process that died (SIGKILL leaves it behind) is stale: taken over.
    const dead = spawnSync('true').pid;
    symlinkSync(`${hostname()}:${dead}:1`, join(state, 'run.lock'));
    const resumed = await runCli(['run', '-f', manifest('locked', { suspend: true }), '--state-dir', state]);
    expect(resumed.code, resumed.err).toBe(0);
    expect(lstatSync(join(state, 'run.lock'), { throwIfNoEntry: false })).toBeUndefined();
  }, 300_000);

  it('a lock held by a live process is honoured and left in place', async () => {
    const state = join(scratch, 'live');
    mkdirSync(state, { recursive: true });
    const lock = `${hostname()}:${process.pid}:${processStart(process.pid)}`;
    symlinkSync(lock, join(state, 'run.lock'));
    const r = await runCli(['run', '-f', manifest('live', { suspend: true }), '--state-dir', state]);
    expect(r.code).toBe(1);
    expect(r.err).toContain(`(pid ${process.pid} on ${hostname()})`);
    expect(readlinkSync(join(state, 'run.lock'))).toBe(lock);
  });
});

describe('scaleswe retry on a state directory in use', { timeout: 300_000 }, () => {
  it('waits its turn: refused while a run holds the lock', async () => {
    const state = join(scratch, 'retry-live');
    mkdirSync(state, { recursive: true });
    writeFileSync(join(state, 'run.json'), '{"name":"retry-live"}\n');
    symlinkSync(`${hostname()}:${process.pid}:${processStart(process.pid)}`, join(state, 'run.lock'));
    const r = await runCli(['retry', '--state-dir', state]);
    expect(r.code).toBe(1);
    expect(r.err).toContain(`is in use by another scaleswe run (pid ${process.pid} on ${hostname()})`);
  });
});

describe('untrusted code without a sandbox', { timeout: 300_000 }, () => {
  it('is refused unless the user accepts it explicitly', async () => {
    const state = join(scratch, 'unsandboxed');
    const refused = await runCli([
      'run',
      '-f',
      manifest('unsandboxed', { suspend: true }),
      '--state-dir',
      state,
      '--isolation',
      'none',
    ]);
    expect(refused.code).toBe(2);
    expect(refused.err).toContain('add --i-accept-unsandboxed');
    expect(existsSync(state)).toBe(false);
    const accepted = await runCli([
      'run',
      '-f',
      manifest('unsandboxed', { suspend: true }),
      '--state-dir',
      state,
      '--isolation',
      'none',
      '--i-accept-unsandboxed',
    ]);
    expect(accepted.code, accepted.err).toBe(0);
    expect(accepted.err).toContain('stages run unsandboxed');
  });
});

describe('names', { timeout: 300_000 }, () => {
  const apiServerMessage = `metadata.name: Invalid value: "Bad_Name/../x": a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')`;

  it('metadata.name is refused as the API server refuses it, and never used as a path', async () => {
    const r = await runCli(['run', '-f', manifest('Bad_Name/../x')]);
    expect(r.code).toBe(2);
    expect(r.err).toContain(apiServerMessage);
    expect(existsSync(join('.scaleswe', 'x'))).toBe(false);
  });

  it('--name too', async () => {
    const r = await runCli(['run', '--sample', '--name', 'Bad_Name/../x']);
    expect(r.code).toBe(2);
    expect(r.err).toContain(apiServerMessage);
    expect(existsSync(join('.scaleswe', 'x'))).toBe(false);
  });
});
