#!/usr/bin/env node
/**
 * scaleswe-agent <stage> --input input.json --output result.json [--workdir DIR]
 * Runs one stage and writes its StageResult JSON (also to stdout when --output is absent).
 * Input comes from --input or stdin. Always writes a result: crashes become AgentCrashed.
 *
 * In a sandbox pod the input is the gzip JSON file $SCALESWE_STAGE_INPUT_FILE names (the
 * pod's stage-input Secret, or its base64 in the pod's annotation, mounted by the operator's
 * pod builder) and the result goes back
 * as the result envelope: last thing on stdout (the log) and, when it fits, the termination
 * message.
 */
import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { Command } from 'commander';
import { STAGES, type Stage, type StageResult, stageRow } from '../api/index.ts';
import { LLM_SOCKET_ENV, loopbackPort, relayLoopbackToSocket } from '../llm/socket-relay.ts';
import { encodeResultEnvelope } from '../sandbox/envelope.ts';
import { decodeStageInputFile, STAGE_INPUT_FILE_ENV } from '../sandbox/stage-input.ts';
import { CACHE_SEED_ENV, seedCaches } from './cache-seed.ts';
import { runStage } from './run-stage.ts';

const POD_INPUT = process.env[STAGE_INPUT_FILE_ENV];
const TERMINATION_LOG = '/dev/termination-log';
const TERMINATION_LIMIT = 4096;
// PID 1 in the container: Node ignores SIGTERM there unless told, and a deleted pod would
// hold its node for the whole grace period. Its children die with the pid namespace.
if (POD_INPUT) process.on('SIGTERM', () => process.exit(143));

async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const c of process.stdin) chunks.push(c as Buffer);
  const text = Buffer.concat(chunks).toString('utf8');
  if (!text.trim())
    throw new Error(`no stage input: pass --input FILE, JSON on stdin, or set ${STAGE_INPUT_FILE_ENV}`);
  return text;
}

async function readPodInput(file: string): Promise<string> {
  let gzip: Buffer;
  try {
    gzip = await readFile(file);
  } catch (err) {
    throw new Error(
      `stage input file ${file} (${STAGE_INPUT_FILE_ENV}) unreadable: ${(err as Error).message}`,
    );
  }
  return decodeStageInputFile(gzip);
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

/** In a local sandbox the run's LLM gateway is a Unix socket: serve its loopback URL here. */
async function relayGatewaySocket(input: Record<string, unknown>): Promise<void> {
  const socket = process.env[LLM_SOCKET_ENV];
  const config = input.config as { llm?: { baseURL?: unknown } } | undefined;
  const baseURL = config?.llm?.baseURL;
  const port = typeof baseURL === 'string' ? loopbackPort(baseURL) : undefined;
  if (socket && port !== undefined) await relayLoopbackToSocket(port, socket);
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
      const raw = opts.input
        ? await readFile(opts.input, 'utf8')
        : POD_INPUT
          ? await readPodInput(POD_INPUT)
          : await readStdin();
      const input = JSON.parse(raw) as Record<string, unknown>;
      if (input.stage !== undefined && input.stage !== stage)
        throw new Error(`input is for stage ${String(input.stage)}, not ${stage}`);
      await relayGatewaySocket(input);
      // In a pod the working directory is the workspace emptyDir (sized by the pod's limits).
      const scratch = POD_INPUT ? process.cwd() : os.tmpdir();
      const workDir = opts.workdir ?? (await mkdtemp(path.join(scratch, `scaleswe-${stage}-`)));
      const log = {
        info: (m: string) => process.stderr.write(`[${stage}] ${m}\n`),
        warn: (m: string) => process.stderr.write(`[${stage}] WARN ${m}\n`),
      };
      // The image's warm caches (the Go image: the standard library compiled) into this stage's,
      // when it builds the repository. Only a speed-up: a failed copy leaves the stage to build.
      const t0 = Date.now();
      const builds = (STAGES as readonly string[]).includes(stage) && stageRow(stage as Stage).runsTests;
      const seeded = await seedCaches(
        builds ? process.env[CACHE_SEED_ENV] : undefined,
        process.env.XDG_CACHE_HOME,
      ).catch((err: unknown) => {
        log.warn(`seeding caches from the image failed: ${(err as Error).message}`);
        return [];
      });
      if (seeded.length)
        log.info(`caches seeded from the image: ${seeded.join(', ')} (${Date.now() - t0} ms)`);
      result = await runStage({ ...input, stage } as Parameters<typeof runStage>[0], { workDir, log });
    } catch (err) {
      result = crashed(stage, err, started);
    }
    if (POD_INPUT && !opts.output) {
      // In a pod the operator's gateway records the trajectories: the envelope carries none.
      const envelope = encodeResultEnvelope({ ...result, trajectories: [] });
      process.stderr.write(
        `[${stage}] result: ${result.outcome}${result.reason ? ` (${result.reason})` : ''}\n`,
      );
      if (Buffer.byteLength(envelope) <= TERMINATION_LIMIT)
        await writeFile(TERMINATION_LOG, envelope).catch(() => undefined);
      process.stdout.write(envelope);
      process.exitCode = 0;
      return;
    }
    const json = `${JSON.stringify(result, null, 2)}\n`;
    if (opts.output) await writeFile(opts.output, json);
    else process.stdout.write(json);
    // Exit 0 whenever a result was written: the outcome lives in the result, not the exit code.
    process.exitCode = 0;
  });

await program.parseAsync(process.argv);
