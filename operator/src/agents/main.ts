#!/usr/bin/env node
/**
 * scaleswe-agent <stage> --input input.json --output result.json [--workdir DIR]
 * Runs one stage and writes its StageResult JSON (also to stdout when --output is absent).
 * Input comes from --input or stdin. Always writes a result: crashes become AgentCrashed.
 */
import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { Command } from 'commander';
import { STAGES, type StageResult } from '../api/index.ts';
import { runStage } from './runStage.ts';

async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const c of process.stdin) chunks.push(c as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

function crashed(stage: string, err: unknown, started: number): StageResult {
  return {
    stage: (STAGES as readonly string[]).includes(stage) ? (stage as StageResult['stage']) : 'env',
    outcome: 'failed',
    reason: 'AgentCrashed',
    message: String((err as Error)?.stack ?? err).slice(0, 4000),
    tokensUsed: 0,
    durationMs: Date.now() - started,
    trajectories: [],
  };
}

const program = new Command('scaleswe-agent')
  .argument('<stage>', `one of ${STAGES.join(', ')}`)
  .option('--input <file>', 'StageInput JSON (default: stdin)')
  .option('--output <file>', 'where to write the StageResult JSON (default: stdout)')
  .option('--workdir <dir>', 'scratch directory for workspaces')
  .action(async (stage: string, opts: { input?: string; output?: string; workdir?: string }) => {
    const started = Date.now();
    let result: StageResult;
    try {
      const raw = opts.input ? await readFile(opts.input, 'utf8') : await readStdin();
      const input = JSON.parse(raw) as Record<string, unknown>;
      if (input.stage !== undefined && input.stage !== stage)
        throw new Error(`input is for stage ${String(input.stage)}, not ${stage}`);
      const workDir = opts.workdir ?? (await mkdtemp(path.join(os.tmpdir(), `scaleswe-${stage}-`)));
      const log = {
        info: (m: string) => process.stderr.write(`[${stage}] ${m}\n`),
        warn: (m: string) => process.stderr.write(`[${stage}] WARN ${m}\n`),
      };
      result = await runStage({ ...input, stage } as Parameters<typeof runStage>[0], { workDir, log });
    } catch (err) {
      result = crashed(stage, err, started);
    }
    const json = `${JSON.stringify(result, null, 2)}\n`;
    if (opts.output) await writeFile(opts.output, json);
    else process.stdout.write(json);
    // Exit 0 whenever a result was written: the outcome lives in the result, not the exit code.
    process.exitCode = 0;
  });

await program.parseAsync(process.argv);
