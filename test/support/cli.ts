// The real `scaleswe` CLI as a child process, for tests. Asynchronous on purpose: servers in
// the test process (git, GitHub, the API server's clients) must keep answering it.
import { type ChildProcess, spawn } from 'node:child_process';
import { join } from 'node:path';

export const CLI = join(import.meta.dirname, '../../operator/src/cli/scaleswe.ts');

export interface CliProcess {
  child: ChildProcess;
  out: () => string;
  err: () => string;
  /** The exit code; -1 when a signal ended it. */
  exit: Promise<number | null>;
}

export function startCli(args: string[], env: NodeJS.ProcessEnv = process.env): CliProcess {
  const child = spawn(process.execPath, [CLI, ...args], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stdout!.on('data', (c) => {
    out += c;
  });
  child.stderr!.on('data', (c) => {
    err += c;
  });
  const exit = new Promise<number | null>((resolve) =>
    child.on('close', (code, signal) => resolve(code ?? (signal ? -1 : null))),
  );
  return { child, out: () => out, err: () => err, exit };
}

/** Runs the CLI to the end. */
export async function runCli(
  args: string[],
  env: NodeJS.ProcessEnv = process.env,
): Promise<{ code: number | null; out: string; err: string }> {
  const cli = startCli(args, env);
  const code = await cli.exit;
  return { code, out: cli.out(), err: cli.err() };
}
