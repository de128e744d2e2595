/** The runner CLI as the sandbox pod runs it: a real child process, JSON in, JSON out. */
import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, readdir, readFile, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { buildPythonRepo, type FixtureRepo } from '../../../test/fixtures/repos.ts';
import { StageResult } from '../api/index.ts';
import {
  decodeStageResult,
  encodeStageInput,
  STAGE_INPUT_FILE_ENV,
  STAGE_INPUT_INLINE_KEY,
  STAGE_INPUT_KEY,
} from '../sandbox/index.ts';
import { CACHE_SEED_ENV } from './cache-seed.ts';

const MAIN = path.join(import.meta.dirname, 'scaleswe-agent.ts');
let root: string;
let fixture: FixtureRepo;

beforeAll(async () => {
  root = await mkdtemp(path.join(os.tmpdir(), 'scaleswe-cli-'));
  fixture = await buildPythonRepo(root);
});

function agent(
  args: string[],
  stdin?: string,
  env?: Record<string, string>,
): Promise<{ stdout: string; stderr: string; code: number }> {
  return new Promise((resolve) => {
    const child = execFile(
      process.execPath,
      [MAIN, ...args],
      { cwd: root, env: { ...process.env, ...env } },
      (err, stdout, stderr) =>
        resolve({ stdout, stderr, code: err ? Number((err as { code?: number }).code ?? 1) : 0 }),
    );
    child.stdin!.end(stdin ?? '');
  });
}

describe('scaleswe-agent CLI', () => {
  it('reads the input from stdin and writes the result to stdout', async () => {
    const { stdout, code } = await agent(
      ['prompt'],
      JSON.stringify({ stage: 'prompt', instance: fixture.spec }),
    );
    expect(code).toBe(0);
    const result = StageResult.parse(JSON.parse(stdout));
    expect(result).toMatchObject({ stage: 'prompt', outcome: 'succeeded', problemStatementSource: 'pr' });
  }, 60_000);

  it('reads --input, writes --output, and turns bad input into a failed result', async () => {
    const input = path.join(root, 'in.json');
    const output = path.join(root, 'out.json');
    await writeFile(input, JSON.stringify({ instance: { ...fixture.spec, baseCommit: 'nope' } }));
    expect((await agent(['tests', '--input', input, '--output', output])).code).toBe(0);
    const result = StageResult.parse(JSON.parse(await readFile(output, 'utf8')));
    expect(result).toMatchObject({ stage: 'tests', outcome: 'failed', reason: 'InvalidInput' });
    expect(result.message).toContain('baseCommit');
  }, 60_000);

  function inPod(env: Record<string, string>): Promise<string> {
    return new Promise<string>((resolve, reject) => {
      const child = execFile(
        process.execPath,
        [MAIN, 'prompt'],
        { cwd: root, env: { ...process.env, ...env } },
        (err, out) => (err ? reject(err) : resolve(out)),
      );
      child.stdin!.end();
    });
  }

  it('in a pod: input from the $SCALESWE_STAGE_INPUT_FILE file, result as the envelope the operator decodes', async () => {
    const file = path.join(root, STAGE_INPUT_KEY);
    await writeFile(file, encodeStageInput({ stage: 'prompt', instance: fixture.spec } as never).gzip);
    const stdout = await inPod({ [STAGE_INPUT_FILE_ENV]: file });
    const decoded = decodeStageResult({ log: `agent chatter\n${stdout}` });
    expect(decoded.ok && decoded.result).toMatchObject({ stage: 'prompt', outcome: 'succeeded' });
  }, 60_000);

  it('in a pod: the input carried in the pod (its annotation, base64 of the gzip, as the downward API writes it)', async () => {
    const file = path.join(root, STAGE_INPUT_INLINE_KEY);
    const { gzip } = encodeStageInput({ stage: 'prompt', instance: fixture.spec } as never);
    await writeFile(file, gzip.toString('base64'));
    const decoded = decodeStageResult({ log: await inPod({ [STAGE_INPUT_FILE_ENV]: file }) });
    expect(decoded.ok && decoded.result).toMatchObject({ stage: 'prompt', outcome: 'succeeded' });
  }, 60_000);

  it('in a pod: a missing input file is a crash result that names the file', async () => {
    const file = path.join(root, 'no-such-input.json.gz');
    const decoded = decodeStageResult({ log: await inPod({ [STAGE_INPUT_FILE_ENV]: file }) });
    expect(decoded.ok && decoded.result).toMatchObject({ outcome: 'failed', reason: 'AgentCrashed' });
    expect(decoded.ok && decoded.result.message).toContain(`stage input file ${file}`);
  }, 60_000);

  it('no input at all (no --input, empty stdin, no input file) fails with a clear message', async () => {
    const output = path.join(root, 'none.json');
    await agent(['env', '--output', output]);
    const result = JSON.parse(await readFile(output, 'utf8'));
    expect(result).toMatchObject({ outcome: 'failed', reason: 'AgentCrashed' });
    expect(result.message).toContain('no stage input');
  }, 60_000);

  it('unparseable input still yields a result (AgentCrashed)', async () => {
    const output = path.join(root, 'crash.json');
    await agent(['env', '--output', output], '{not json');
    expect(JSON.parse(await readFile(output, 'utf8'))).toMatchObject({
      stage: 'env',
      outcome: 'failed',
      reason: 'AgentCrashed',
    });
  }, 60_000);

  it('an unreachable repository is a retryable failure with a reason', async () => {
    const output = path.join(root, 'clone.json');
    const spec = { ...fixture.spec, cloneURL: path.join(root, 'does-not-exist') };
    await agent(
      ['env', '--output', output, '--workdir', path.join(root, 'wd')],
      JSON.stringify({ instance: spec }),
    );
    expect(JSON.parse(await readFile(output, 'utf8'))).toMatchObject({
      outcome: 'failed',
      reason: 'CheckoutFailed',
    });
  }, 60_000);

  it("copies the image's cache seeds into the cache of a stage that builds, not of the prompt stage", async () => {
    const seed = path.join(root, 'image-seed');
    await mkdir(path.join(seed, 'go-build', '0a'), { recursive: true });
    await writeFile(path.join(seed, 'go-build', '0a', 'entry-d'), 'compiled fmt');
    const env = (cache: string) => ({ [CACHE_SEED_ENV]: seed, XDG_CACHE_HOME: cache });
    const unreachable = JSON.stringify({
      instance: { ...fixture.spec, cloneURL: path.join(root, 'nowhere') },
    });
    const built = path.join(root, 'env-cache');
    const r = await agent(['env', '--workdir', path.join(root, 'wd-seed')], unreachable, env(built));
    expect(r.stderr).toMatch(/caches seeded from the image: go-build/);
    expect(await readFile(path.join(built, 'go-build', '0a', 'entry-d'), 'utf8')).toBe('compiled fmt');
    const prompt = path.join(root, 'prompt-cache');
    await agent(['prompt'], JSON.stringify({ stage: 'prompt', instance: fixture.spec }), env(prompt));
    expect(await readdir(prompt).catch(() => [])).toEqual([]);
  }, 60_000);
});
