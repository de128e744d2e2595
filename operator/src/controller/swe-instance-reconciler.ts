import {
  CurationRun,
  formatIssues,
  type InstanceRecord,
  Recipe,
  type RememberedRecipe,
  type Stage,
  SWEINSTANCES,
  SWEInstance,
  type SWEInstanceStatus,
  setCondition,
} from '../api/index.ts';
import {
  errorMessage,
  isAlreadyExists,
  isNotFound,
  type Logger,
  type ReconcileResult,
  TerminalError,
  updateStatus,
} from '../kube/index.ts';
import { rememberedFor } from '../languages/recipe-memory.ts';
import { stageInputFor } from '../pipeline/pipeline.ts';
import {
  buildStageInputSecret,
  buildStagePod,
  type DecodedStageResult,
  decodeStageResult,
  type EncodedStageInput,
  encodeStageInput,
  type StagePodInput,
  type StagePodRef,
  stageInputTooLarge,
} from '../sandbox/index.ts';
import type { ControllerContext } from './controller-context.ts';
import { AGENT_CONTAINER, type InstancePlan, planInstance, terminationMessageOf } from './instance-plan.ts';
import { key, type RawObject, splitKey } from './resources.ts';
import { ensureStageInputSecret } from './stage-input-secret.ts';

/** The run of an instance, parsed once per resourceVersion. */
export function runOf(ctx: ControllerContext, namespace: string, name: string): CurationRun | undefined {
  const raw = ctx.runOverlay.resolve(ctx.runs.get(namespace, name));
  if (!raw) return undefined;
  const k = key(namespace, name);
  const rv = raw.metadata.resourceVersion ?? '';
  const hit = ctx.parsedRuns.get(k);
  if (hit?.rv === rv) return hit.run;
  const parsed = CurationRun.safeParse(raw);
  if (!parsed.success) return undefined; // the run reconciler reports it
  ctx.parsedRuns.set(k, { rv, run: parsed.data });
  return parsed.data;
}

function parseInstance(raw: RawObject): SWEInstance {
  const parsed = SWEInstance.safeParse(raw);
  if (!parsed.success)
    throw new TerminalError('InvalidInstance', formatIssues(parsed.error.issues).slice(0, 5).join('; '));
  return parsed.data;
}

async function readResult(
  ctx: ControllerContext,
  namespace: string,
  podName: string,
  log: Logger,
): Promise<DecodedStageResult> {
  const pod = ctx.pods.get(namespace, podName);
  const terminationMessage = pod ? terminationMessageOf(pod) : undefined;
  // A result small enough for the termination message is complete there: no log request.
  const fromTermination = decodeStageResult({
    ...(terminationMessage !== undefined && { terminationMessage }),
  });
  if (fromTermination.ok) return fromTermination;
  let podLog: string | undefined;
  try {
    podLog = await ctx.kube.readPodLog(namespace, podName, AGENT_CONTAINER, ctx.logLimitBytes);
  } catch (err) {
    // No kubelet (or the node is gone): the termination message may still carry the result.
    log.debug({ pod: podName, err: errorMessage(err) }, 'pod log unavailable; using the termination message');
  }
  return decodeStageResult({
    ...(podLog !== undefined && { log: podLog }),
    ...(terminationMessage !== undefined && { terminationMessage }),
  });
}

function stagePodInputOf(
  ctx: ControllerContext,
  run: CurationRun,
  instance: SWEInstance,
  stage: Stage,
  attempt: number,
  namespace: string,
): StagePodInput {
  return {
    run,
    instance,
    stage,
    attempt,
    namespace,
    runnerImage: run.spec.agents.runnerImage,
    image: run.spec.agents.images[instance.spec.language],
    ...(ctx.gateway &&
      run.spec.llm && {
        gatewayURL: ctx.gateway.url,
        gatewayToken: ctx.gateway.token({ run, instance, stage, attempt }),
      }),
  };
}

/** What the pod's agent gets: the pipeline's stage input, with the gateway as its LLM endpoint. */
export function stageInputOfPod(pod: StagePodInput, remembered?: RememberedRecipe[]) {
  return stageInputFor({
    runSpec: pod.run.spec,
    instance: pod.instance.spec,
    status: pod.instance.status,
    stage: pod.stage,
    llmEndpoint: pod.gatewayURL ? { baseURL: pod.gatewayURL, apiKey: pod.gatewayToken } : undefined,
    remembered,
  });
}

/**
 * Recipe memory in a cluster: the recorded recipes of the repository's other SWEInstances in
 * the namespace, from the informer's cache (no extra object to own, no API call; any run's
 * instances count, so later runs of the repository reuse them while those instances exist).
 */
function rememberedInNamespace(
  ctx: ControllerContext,
  namespace: string,
  instance: SWEInstance,
  stage: Stage,
): RememberedRecipe[] | undefined {
  if (stage !== 'env') return undefined;
  const records: InstanceRecord[] = [];
  for (const raw of ctx.instances.list(namespace)) {
    const { spec, status } = raw as unknown as { spec?: SWEInstance['spec']; status?: { recipe?: unknown } };
    if (spec?.repo !== instance.spec.repo) continue;
    const recipe = Recipe.safeParse(status?.recipe);
    if (recipe.success) records.push({ spec, status: { recipe: recipe.data } });
  }
  return rememberedFor(instance.spec, records);
}

/** The encoded input, or a TerminalError: an input too big for a Secret never fits on a retry. */
function encodedInput(podInput: StagePodInput, remembered?: RememberedRecipe[]): EncodedStageInput {
  const input = encodeStageInput(stageInputOfPod(podInput, remembered));
  const tooLarge = stageInputTooLarge(input);
  if (tooLarge) throw new TerminalError(tooLarge.reason, `stage ${podInput.stage}: ${tooLarge.message}`);
  return input;
}

async function provideInput(
  ctx: ControllerContext,
  pod: StagePodRef,
  input: EncodedStageInput,
): Promise<'created' | 'exists'> {
  const outcome = await ensureStageInputSecret(ctx.kube, buildStageInputSecret(pod, input.gzip));
  if (pod.metadata.uid) ctx.stageInputsProvided.add(pod.metadata.uid);
  return outcome;
}

/**
 * Thin: observe (cache + read-your-writes overlay), plan (pure), act in the plan's order:
 * status first, then pod deletions, then pod creation and its input Secret.
 */
export async function reconcileInstance(
  ctx: ControllerContext,
  k: string,
  log: Logger,
): Promise<ReconcileResult | undefined> {
  const { namespace, name } = splitKey(k);
  const raw = ctx.instanceOverlay.resolve(ctx.instances.get(namespace, name));
  if (!raw || raw.metadata.deletionTimestamp) return undefined;
  const instance = parseInstance(raw);
  const run = runOf(ctx, namespace, instance.spec.runRef);
  const pods = ctx.podExpectations.visible(ctx.pods.byIndex('instance', k));
  const now = ctx.now();
  const results = new Map<string, DecodedStageResult>();
  let plan = planInstance({ instance, run, pods, now, results });
  if (plan.readResultOf) {
    results.set(plan.readResultOf, await readResult(ctx, namespace, plan.readResultOf, log));
    plan = planInstance({ instance, run, pods, now, results });
  }

  // On a 409 the plan is made again from the fresh object: status and actions stay consistent.
  let finalPlan: InstancePlan = plan;
  let finalInstance = instance;
  const write = await updateStatus(
    ctx.kube,
    SWEINSTANCES,
    raw,
    (fresh) => {
      if (fresh !== raw) {
        finalInstance = parseInstance(fresh);
        finalPlan = planInstance({ instance: finalInstance, run, pods, now, results });
      }
      return finalPlan.status;
    },
    {
      overlay: ctx.instanceOverlay,
      onConflict: () => ctx.metrics.statusConflicts.inc({ controller: 'sweinstance' }),
    },
  );
  if (write.written) log.debug({ phase: finalPlan.status.phase }, 'status written');
  for (const event of finalPlan.events)
    ctx.events.record(write.object, event.type, event.reason, 'Reconcile', event.message);

  for (const podName of finalPlan.deletePods) {
    try {
      ctx.podExpectations.expectDeletion(namespace, podName);
      await ctx.kube.deletePod(namespace, podName);
      log.debug({ pod: podName }, 'deleted pod');
    } catch (err) {
      if (!isNotFound(err)) throw err;
    }
  }

  // The pod's input is the status just written (the stage may start in the same reconcile
  // that recorded the previous stage's recipe/tests): never the status read before it.
  const owner = {
    ...finalInstance,
    status: finalPlan.status,
    metadata: { ...finalInstance.metadata, uid: raw.metadata.uid },
  };
  if (
    finalPlan.createPod &&
    run &&
    !ctx.podExpectations.creationPending(namespace, finalPlan.createPod.name)
  ) {
    const { stage, attempt, name: podName } = finalPlan.createPod;
    const podInput = stagePodInputOf(ctx, run, owner, stage, attempt, namespace);
    const input = encodedInput(podInput, rememberedInNamespace(ctx, namespace, owner, stage));
    let pod: StagePodRef | undefined;
    try {
      ctx.podExpectations.expectCreation(namespace, podName);
      pod = (await ctx.kube.createPod(namespace, buildStagePod(podInput))) as StagePodRef;
      log.info({ pod: podName, stage, attempt }, 'created sandbox pod');
    } catch (err) {
      // Already there: a later reconcile sees it pending and ensures its Secret.
      if (!isAlreadyExists(err)) throw err;
    }
    // Pod first, as the Secret's owner; the kubelet holds the pod until the Secret exists.
    if (pod) await provideInput(ctx, pod, input);
  } else if (finalPlan.pendingPod && run) {
    const { stage, attempt, name: podName } = finalPlan.pendingPod;
    const pod = ctx.pods.get(namespace, podName);
    const uid = pod?.metadata.uid;
    if (pod && uid && !ctx.stageInputsProvided.has(uid)) {
      const input = encodedInput(
        stagePodInputOf(ctx, run, owner, stage, attempt, namespace),
        rememberedInNamespace(ctx, namespace, owner, stage),
      );
      if ((await provideInput(ctx, pod, input)) === 'created')
        log.info({ pod: podName, stage, attempt }, 'created the missing stage input Secret');
    }
  }
  return finalPlan.requeueAfterMs === undefined ? undefined : { requeueAfterMs: finalPlan.requeueAfterMs };
}

/** A TerminalError on an instance: Failed with the reason, kept for humans. */
export async function recordInstanceTerminal(
  ctx: ControllerContext,
  k: string,
  err: TerminalError,
): Promise<void> {
  const { namespace, name } = splitKey(k);
  const raw = ctx.instanceOverlay.resolve(ctx.instances.get(namespace, name));
  if (!raw) return;
  const now = ctx.now();
  await updateStatus(
    ctx.kube,
    SWEINSTANCES,
    raw,
    (fresh) => {
      const status = (fresh.status ?? {}) as SWEInstanceStatus;
      return {
        ...status,
        phase: 'Failed',
        lastError: {
          reason: err.reason,
          message: err.message,
          time: status.lastError?.time ?? now.toISOString(),
        },
        conditions: setCondition(
          status.conditions ?? [],
          { type: 'Ready', status: 'False', reason: err.reason, message: err.message },
          now,
        ),
      };
    },
    { overlay: ctx.instanceOverlay },
  );
}
