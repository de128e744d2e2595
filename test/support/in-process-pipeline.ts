import { runStage } from '../../operator/src/agents/run-stage.ts';
import type { AgentLog } from '../../operator/src/agents/stage-context.ts';
import {
  CurationRunSpec,
  type CurationRunSpecInput,
  STAGES,
  type Stage,
  type StageResult,
  SWEInstanceSpec,
  type SWEInstanceSpecInput,
  type SWEInstanceStatus,
} from '../../operator/src/api/index.ts';
import { applyStageResult, initialStatus, stageInputFor } from '../../operator/src/pipeline/pipeline.ts';

/**
 * The pipeline in this process, for agent tests: each stage's input and the status it folds
 * into come from the pipeline's own functions (as in both real drivers), but agents run
 * in-process instead of in a sandbox, and the run stops at the first stage that does not
 * succeed. Each stage gets a fresh sub-directory of workDir.
 */
export async function runPipeline(
  instanceInput: SWEInstanceSpecInput,
  runSpec: Partial<CurationRunSpecInput>,
  opts: { workDir: string; log?: AgentLog; stages?: Stage[] },
): Promise<{ results: StageResult[]; status: SWEInstanceStatus }> {
  const spec = CurationRunSpec.parse({ source: { git: { url: instanceInput.cloneURL } }, ...runSpec });
  const instance = SWEInstanceSpec.parse(instanceInput);
  const options = { now: new Date(), maxAttempts: 1 };
  let status = initialStatus(options);
  const results: StageResult[] = [];
  for (const stage of opts.stages ?? STAGES) {
    const input = stageInputFor({ runSpec: spec, instance, status, stage });
    const r = await runStage(input, {
      workDir: `${opts.workDir}/${stage}`,
      ...(opts.log ? { log: opts.log } : {}),
    });
    results.push(r);
    status = applyStageResult(status, r, options);
    if (r.outcome !== 'succeeded') break;
  }
  return { results, status };
}
