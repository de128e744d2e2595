import { gunzipSync } from 'node:zlib';
import {
  EVALUATIONS,
  Evaluation,
  type EvaluationSpec,
  type EvaluationStatus,
  formatIssues,
  type OwnerReference,
  SWEInstance,
  setCondition,
} from '../api/index.ts';
import { instanceReport, type Prediction, parsePredictions } from '../export/eval.ts';
import {
  isAlreadyExists,
  isNotFound,
  type Logger,
  type ReconcileResult,
  TerminalError,
  updateStatus,
} from '../kube/index.ts';
import {
  buildGradeLogConfigMap,
  buildGradePod,
  buildStageInputSecret,
  type DecodedStageResult,
  encodeStageInput,
  type GradePodInput,
  type StagePodRef,
  stageInputTooLarge,
} from '../sandbox/index.ts';
import type { ControllerContext } from './controller-context.ts';
import {
  type Dataset,
  datasetOf,
  type EvaluationPlan,
  type GradeTarget,
  type PredictionsRead,
  planEvaluation,
} from './evaluation-plan.ts';
import { withContent } from './instance-content.ts';
import { controllerRef, key, type RawObject, splitKey } from './resources.ts';
import { ensureStageInputSecret } from './stage-input-secret.ts';
import { envImagePodFields, gradingInputOf, readResult, runOf } from './swe-instance-reconciler.ts';
import { recordTerminal } from './terminal.ts';

/** A ConfigMap of predictions is read again after this long (its edits are picked up then). */
const PREDICTIONS_TTL_MS = 30_000;

export interface EvaluationReconcilerState {
  /** Parsed ConfigMap predictions per Evaluation: up to 1 MiB, not fetched on every pod event. */
  predictions: Map<string, { at: number; ref: string; read: PredictionsRead }>;
}

function parseEvaluation(raw: RawObject): Evaluation {
  const parsed = Evaluation.safeParse(raw);
  if (!parsed.success)
    throw new TerminalError('InvalidSpec', formatIssues(parsed.error.issues).slice(0, 5).join('; '));
  return parsed.data;
}

/** The predictions of the spec: inline, or the ConfigMap's file (gzip in binaryData allowed). */
async function readPredictions(
  ctx: ControllerContext,
  state: EvaluationReconcilerState,
  k: string,
  namespace: string,
  spec: EvaluationSpec['predictions'],
): Promise<PredictionsRead> {
  if (spec.inline)
    return {
      ok: true,
      predictions: spec.inline.map(
        (p): Prediction => ({
          instance_id: p.instanceId,
          model_patch: p.modelPatch,
          model_name_or_path: p.modelName,
        }),
      ),
    };
  const ref = spec.configMapRef!;
  const refKey = `${ref.name}/${ref.key}`;
  const cached = state.predictions.get(k);
  if (cached && cached.ref === refKey && Date.now() - cached.at < PREDICTIONS_TTL_MS) return cached.read;
  const read = await fetchPredictions(ctx, namespace, ref);
  state.predictions.set(k, { at: Date.now(), ref: refKey, read });
  return read;
}

async function fetchPredictions(
  ctx: ControllerContext,
  namespace: string,
  ref: NonNullable<EvaluationSpec['predictions']['configMapRef']>,
): Promise<PredictionsRead> {
  const where = `ConfigMap ${ref.name} key ${ref.key}`;
  let cm: Awaited<ReturnType<ControllerContext['kube']['getConfigMap']>>;
  try {
    cm = await ctx.kube.getConfigMap(namespace, ref.name);
  } catch (err) {
    if (!isNotFound(err)) throw err;
    return {
      ok: false,
      reason: 'PredictionsNotFound',
      message: `no ConfigMap ${ref.name} in this namespace`,
      terminal: false,
    };
  }
  let text = cm.data?.[ref.key];
  const binary = cm.binaryData?.[ref.key];
  if (text === undefined && binary !== undefined) {
    const bytes = Buffer.from(binary, 'base64');
    try {
      text = (bytes[0] === 0x1f && bytes[1] === 0x8b ? gunzipSync(bytes) : bytes).toString('utf8');
    } catch (err) {
      return {
        ok: false,
        reason: 'InvalidPredictions',
        message: `${where}: not gzip: ${(err as Error).message}`,
        terminal: true,
      };
    }
  }
  if (text === undefined)
    return { ok: false, reason: 'PredictionsNotFound', message: `${where}: no such key`, terminal: false };
  const parsed = parsePredictions(text, where);
  return parsed.ok
    ? { ok: true, predictions: parsed.value }
    : { ok: false, reason: 'InvalidPredictions', message: parsed.error.slice(0, 1000), terminal: true };
}

/** The instances the spec names, with their runs, from the caches. */
function datasetFor(ctx: ControllerContext, namespace: string, spec: EvaluationSpec['instances']): Dataset {
  const raws = spec.runRef
    ? ctx.instances.byIndex('run', key(namespace, spec.runRef))
    : (spec.names ?? []).flatMap((n) => ctx.instances.get(namespace, n) ?? []);
  const candidates = raws.flatMap((raw) => {
    const parsed = SWEInstance.safeParse(ctx.instanceOverlay.resolve(raw) ?? raw);
    if (!parsed.success) return [];
    return [{ instance: parsed.data, run: runOf(ctx, namespace, parsed.data.spec.runRef) }];
  });
  return datasetOf({
    instances: spec,
    ...(spec.runRef && { run: runOf(ctx, namespace, spec.runRef) }),
    candidates,
  });
}

/** The target with its instance whole (patches, labels from the dataset store): the grader needs them. */
async function wholeTarget(ctx: ControllerContext, target: GradeTarget): Promise<GradeTarget> {
  return { ...target, instance: await withContent(ctx, target.instance) };
}

/** The grading pod of a prediction and its input (the verify stage's, with the patch to grade). */
function gradePod(
  target: GradeTarget,
  create: EvaluationPlan['createPods'][number],
  namespace: string,
  owner: Required<OwnerReference>,
) {
  const { run, instance } = target;
  const podInput: GradePodInput = {
    run,
    instance,
    attempt: create.attempt,
    namespace,
    runnerImage: run.spec.agents.runnerImage,
    image: run.spec.agents.images[instance.spec.language],
    ...envImagePodFields(run, instance),
    name: create.name,
    owner,
  };
  const input = encodeStageInput(gradingInputOf({ ...podInput, stage: 'verify' }, create.modelPatch));
  const tooLarge = stageInputTooLarge(input);
  if (tooLarge) throw new Error(`${create.instanceId}: ${tooLarge.message}`);
  return { pod: buildGradePod(podInput), input };
}

/**
 * Thin: observe (caches, the predictions), plan (pure), act in the plan's order: status,
 * then pod deletions, then pod creations with their input Secrets.
 */
export async function reconcileEvaluation(
  ctx: ControllerContext,
  state: EvaluationReconcilerState,
  k: string,
  log: Logger,
): Promise<ReconcileResult | undefined> {
  const { namespace, name } = splitKey(k);
  const raw = ctx.evaluationOverlay.resolve(ctx.evaluations.get(namespace, name));
  if (!raw || raw.metadata.deletionTimestamp) {
    state.predictions.delete(k);
    return undefined;
  }
  const evaluation = parseEvaluation(raw);
  const pods = ctx.podExpectations.visible(ctx.pods.byIndex('evaluation', k));
  const recorded = evaluation.status;
  // Finished for this generation and nothing left to clean up: no ConfigMap read.
  if (
    (recorded?.phase === 'Succeeded' || recorded?.phase === 'Failed') &&
    recorded.observedGeneration === raw.metadata.generation &&
    pods.length === 0
  )
    return undefined;

  const predictions = await readPredictions(ctx, state, k, namespace, evaluation.spec.predictions);
  const dataset = datasetFor(ctx, namespace, evaluation.spec.instances);
  const results = new Map<string, DecodedStageResult>();
  const now = ctx.now();
  const observe = (e: Evaluation) =>
    planEvaluation({ evaluation: e, predictions, dataset, pods, results, now });
  let plan = observe(evaluation);
  if (plan.readResultsOf.length) {
    for (const podName of plan.readResultsOf)
      results.set(podName, await readResult(ctx, namespace, podName, log));
    plan = observe(evaluation);
  }

  // The logs of verdicts about to be recorded go first: the pods go once status has them.
  const owner = controllerRef(raw) as Required<OwnerReference>;
  for (const entry of plan.logs) {
    const cm = buildGradeLogConfigMap({
      namespace,
      podName: entry.podName,
      evaluationName: name,
      owner,
      instanceId: entry.verdict.instanceId,
      patchDigest: entry.patchDigest,
      attempt: entry.attempt,
      files: {
        'patch.diff': entry.verdict.patch,
        'test_output.txt': entry.testOutput,
        'report.json': `${JSON.stringify(instanceReport(entry.verdict), null, 2)}\n`,
        'run_instance.log': entry.runLog,
      },
    });
    try {
      await ctx.kube.createConfigMap(namespace, cm);
    } catch (err) {
      if (!isAlreadyExists(err)) throw err;
    }
  }

  let finalPlan = plan;
  const write = await updateStatus(
    ctx.kube,
    EVALUATIONS,
    raw,
    (fresh) => {
      if (fresh !== raw) finalPlan = observe(parseEvaluation(fresh));
      return finalPlan.status;
    },
    { overlay: ctx.evaluationOverlay },
  );
  if (write.written)
    log.debug({ phase: finalPlan.status.phase, progress: finalPlan.status.progress }, 'status written');
  for (const event of finalPlan.events)
    ctx.events.record(write.object, event.type, event.reason, 'Grade', event.message);

  for (const podName of finalPlan.deletePods) {
    try {
      ctx.podExpectations.expectDeletion(namespace, podName);
      await ctx.kube.deletePod(namespace, podName);
      log.debug({ pod: podName }, 'deleted grading pod');
    } catch (err) {
      if (!isNotFound(err)) throw err;
    }
  }

  if (dataset.ready) {
    for (const create of finalPlan.createPods) {
      if (ctx.podExpectations.creationPending(namespace, create.name)) continue;
      const target = await wholeTarget(ctx, dataset.targets.get(create.instanceId)!);
      const { pod: manifest, input } = gradePod(target, create, namespace, owner);
      let pod: StagePodRef | undefined;
      try {
        ctx.podExpectations.expectCreation(namespace, create.name);
        pod = (await ctx.kube.createPod(namespace, manifest)) as StagePodRef;
        log.info(
          { pod: create.name, instance: create.instanceId, attempt: create.attempt },
          'created grading pod',
        );
      } catch (err) {
        // Already there: a later reconcile sees it pending and ensures its Secret.
        if (!isAlreadyExists(err)) throw err;
      }
      if (pod) {
        await ensureStageInputSecret(ctx.kube, buildStageInputSecret(pod, input.gzip));
        if (pod.metadata.uid) ctx.stageInputsProvided.add(pod.metadata.uid);
      }
    }
    // A pod still Pending whose Secret this process has not seen (an operator that died
    // between creating the pod and its Secret): the Secret is ensured.
    for (const pending of finalPlan.pendingPods) {
      const pod = ctx.pods.get(namespace, pending.name);
      const uid = pod?.metadata.uid;
      if (!pod || !uid || ctx.stageInputsProvided.has(uid)) continue;
      const target = await wholeTarget(ctx, dataset.targets.get(pending.instanceId)!);
      const { input } = gradePod(target, pending, namespace, owner);
      if ((await ensureStageInputSecret(ctx.kube, buildStageInputSecret(pod, input.gzip))) === 'created')
        log.info({ pod: pending.name }, 'created the missing grading input Secret');
      ctx.stageInputsProvided.add(uid);
    }
  }
  return finalPlan.requeueAfterMs === undefined ? undefined : { requeueAfterMs: finalPlan.requeueAfterMs };
}

/** A TerminalError (an object the schema refuses): Failed with the reason. */
export function recordEvaluationTerminal(
  ctx: ControllerContext,
  k: string,
  err: TerminalError,
): Promise<void> {
  return recordTerminal(
    ctx,
    {
      resource: EVALUATIONS,
      cache: ctx.evaluations,
      overlay: ctx.evaluationOverlay,
      failed: (fresh, reason, message, now) => {
        const status = (fresh.status ?? {}) as EvaluationStatus;
        return {
          ...status,
          phase: 'Failed',
          ...(fresh.metadata.generation !== undefined && { observedGeneration: fresh.metadata.generation }),
          conditions: setCondition(
            status.conditions ?? [],
            { type: 'Ready', status: 'False', reason, message },
            now,
          ),
        };
      },
    },
    k,
    err,
  );
}
