import { runStage } from '../../operator/src/agents/run-stage.ts';
import type { AgentLog } from '../../operator/src/agents/stage-context.ts';
import type {
  Stage,
  StageInputArg,
  StageResult,
  SWEInstanceSpecInput,
} from '../../operator/src/api/index.ts';

export type PipelineConfig = NonNullable<StageInputArg['config']>;
type Previous = NonNullable<StageInputArg['previous']>;

/** Folds a stage result into what later stages receive (mirrors SWEInstance.status). */
export function nextPrevious(prev: Previous, r: StageResult): Previous {
  const out: Previous = { ...prev };
  if (r.recipe) out.recipe = r.recipe;
  if (r.testsSource) out.testsSource = r.testsSource;
  if (r.generatedTestPatch !== undefined) out.generatedTestPatch = r.generatedTestPatch;
  if (r.FAIL_TO_PASS) out.FAIL_TO_PASS = r.FAIL_TO_PASS;
  if (r.PASS_TO_PASS) out.PASS_TO_PASS = r.PASS_TO_PASS;
  return out;
}

/**
 * Local, in-process pipeline (what the operator does with one pod per stage):
 * env → tests → prompt → verify, stopping at the first stage that does not succeed.
 * Each stage gets a fresh sub-directory of workDir.
 */
export async function runPipeline(
  instance: SWEInstanceSpecInput,
  config: PipelineConfig,
  opts: { workDir: string; log?: AgentLog; stages?: Stage[]; onStage?: (r: StageResult) => void },
): Promise<{ results: StageResult[]; previous: Previous; final: StageResult | undefined }> {
  let previous: Previous = {};
  const results: StageResult[] = [];
  for (const stage of opts.stages ?? (['env', 'tests', 'prompt', 'verify'] as Stage[])) {
    const r = await runStage(
      { stage, instance, previous, config },
      { workDir: `${opts.workDir}/${stage}`, ...(opts.log ? { log: opts.log } : {}) },
    );
    results.push(r);
    opts.onStage?.(r);
    previous = nextPrevious(previous, r);
    if (r.outcome !== 'succeeded') break;
  }
  return { results, previous, final: results.at(-1) };
}
