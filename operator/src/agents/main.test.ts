/** The runner CLI as the sandbox pod runs it: a real child process, JSON in, JSON out. */
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { buildPythonRepo, type FixtureRepo } from '../../../test/fixtures/repos.ts';
import { StageResult } from '../api/index.ts';
import { decodeStageResult, encodeStageInput } from '../sandbox/index.ts';

const MAIN = path.join(import.meta.dirname, 'main.ts');
let root: string;
let fixture: FixtureRepo;

beforeAll(async () => {
  root = await mkdtemp(path.join(os.tmpdir(), 'scaleswe-cli-'));
  fixture = await buildPythonRepo(root);
});

function agent(args: string[], stdin?: string): Promise<{ stdout: string; code: number }> {
  return new Promise((resolve) => {
    const child = execFile(process.execPath, [MAIN, ...args], { cwd: root }, (err, stdout) =>
      resolve({ stdout, code: err ? Number((err as { code?: number }).code ?? 1) : 0 }),
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

  it('in a pod: input from $SCALESWE_STAGE_INPUT, result as the envelope the operator decodes', async () => {
    const input = encodeStageInput({ stage: 'prompt', instance: fixture.spec } as never);
    const stdout = await new Promise<string>((resolve, reject) => {
      const child = execFile(
        process.execPath,
        [MAIN, 'prompt'],
        { cwd: root, env: { ...process.env, SCALESWE_STAGE_INPUT: input } },
        (err, out) => (err ? reject(err) : resolve(out)),
      );
      child.stdin!.end();
    });
    const decoded = decodeStageResult({ log: `agent chatter\n${stdout}` });
    expect(decoded.ok && decoded.result).toMatchObject({ stage: 'prompt', outcome: 'succeeded' });
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
});
