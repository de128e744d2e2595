import { mkdtemp } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import {
  Stage,
  type StageInput,
  type StageInputArg,
  StageInput as StageInputSchema,
  StageResult,
} from '../api/index.ts';
import { runEnvStage } from './env-agent.ts';
import { runGradeStage } from './grade-patch.ts';
import { runPromptStage } from './prompt-agent.ts';
import { runSolveStage } from './solve-agent.ts';
import { type AgentLog, StageContext } from './stage-context.ts';
import type { StageOutput } from './stage-output.ts';
import { PatchError, runTestsStage } from './test-agent.ts';
import { runVerifyStage } from './verifier.ts';
import { WorkspaceError } from './workspace.ts';

export interface RunStageOptions {
  /** Scratch space for workspaces; a fresh temp dir when absent. */
  workDir?: string;
  log?: AgentLog;
}

/** One agent module per row of the stage table (api/stages.ts); a new row fails to type-check until it has one. */
const AGENTS: Record<Stage, (ctx: StageContext) => Promise<StageOutput>> = {
  env: runEnvStage,
  tests: runTestsStage,
  prompt: runPromptStage,
  verify: runVerifyStage,
};

/**
 * The single entry point of the agent runner (sandbox pod, CLI, tests). Every stage starts
 * from the input alone in a fresh workspace. Never throws: unexpected errors become
 * outcome failed / AgentCrashed, so a result is always written.
 */
export async function runStage(
  inputArg: StageInput | StageInputArg,
  opts: RunStageOptions = {},
): Promise<StageResult> {
  const started = Date.now();
  let input: StageInput;
  try {
    input = StageInputSchema.parse(inputArg);
  } catch (err) {
    const stage = (inputArg as { stage?: string }).stage;
    return StageResult.parse({
      stage: Stage.safeParse(stage).data ?? 'env',
      outcome: 'failed',
      reason: 'InvalidInput',
      message: String((err as Error).message).slice(0, 4000),
      durationMs: Date.now() - started,
    });
  }
  const workDir = opts.workDir ?? (await mkdtemp(path.join(os.tmpdir(), `scaleswe-${input.stage}-`)));
  const ctx = new StageContext(input, workDir, opts.log);
  let out: StageOutput;
  try {
    // A grading request (scaleswe eval) runs the grader, a solve request the solving agent,
    // instead of the stage's agent.
    out = input.grade
      ? await runGradeStage(ctx, input.grade.modelPatch)
      : input.solve
        ? await runSolveStage(ctx, input.solve)
        : await AGENTS[input.stage](ctx);
  } catch (err) {
    if (err instanceof PatchError) out = { outcome: 'rejected', reason: err.reason, message: err.message };
    else if (err instanceof WorkspaceError)
      out = { outcome: 'failed', reason: err.reason, message: err.message };
    else
      out = {
        outcome: 'failed',
        reason: 'AgentCrashed',
        message: `${(err as Error).stack ?? err}`.slice(0, 4000),
      };
  }
  const logTail = ctx.logTail;
  return StageResult.parse({
    ...out,
    stage: input.stage,
    tokensUsed: ctx.llm?.tokensUsed ?? 0,
    ...(ctx.llm && { inputTokens: ctx.llm.inputTokens, outputTokens: ctx.llm.outputTokens }),
    durationMs: Date.now() - started,
    trajectories: ctx.recorder.all(),
    ...(logTail ? { logTail } : {}),
  });
}
