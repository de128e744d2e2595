import {
  CurationRun,
  ENV_IMAGE_CHECKOUT,
  formatIssues,
  type InstanceRecord,
  Recipe,
  type RememberedRecipe,
  type Stage,
  type StageInput,
  SWEINSTANCES,
  SWEInstance,
  type SWEInstanceStatus,
  setCondition,
  TERMINAL_PHASES,
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
import { solveGrant, solveInputFrom } from '../pipeline/solve.ts';
import { credentialsFromDockerConfig, parseImageRef, RegistryClient } from '../registry/oci-registry.ts';
import {
  buildEnvImagePod,
  buildSolvePod,
  buildStageInputSecret,
  buildStagePod,
  carriesInput,
  type DecodedStageResult,
  decodeStageResult,
  type EncodedStageInput,
  encodeStageInput,
  inlineStageInput,
  instancePodsSelector,
  MAX_SETUP_SCRIPT_BYTES,
  type SolvePodInput,
  type StagePodInput,
  type StagePodRef,
  stageInputTooLarge,
} from '../sandbox/index.ts';
import type { ControllerContext } from './controller-context.ts';
import { envImageOf, envImageTarget, envImageToDelete, markEnvImageDeleted } from './env-image.ts';
import {
  dropReplacedContent,
  statusTooLarge,
  statusToWrite,
  storeContent,
  withCachedContent,
  withContent,
} from './instance-content.ts';
import {
  AGENT_CONTAINER,
  type InstancePlan,
  planInstance,
  settled,
  terminationMessageOf,
} from './instance-plan.ts';
import { key, type RawObject, splitKey } from './resources.ts';
import type { SolvePodToCreate } from './solve-plan.ts';
import { ensureStageInputSecret } from './stage-input-secret.ts';
import { recordTerminal } from './terminal.ts';

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
  const run = withEnvironmentDefaults(parsed.data, ctx.environmentDefaults);
  ctx.parsedRuns.set(k, { rv, run });
  return run;
}

/** A run that names no registry uses the chart's (all of its registry settings, as one unit). Pure. */
export function withEnvironmentDefaults(
  run: CurationRun,
  defaults: ControllerContext['environmentDefaults'],
): CurationRun {
  if (run.spec.environment.registry !== undefined || !defaults?.registry) return run;
  return { ...run, spec: { ...run.spec, environment: { ...run.spec.environment, ...defaults } } };
}

function parseInstance(raw: RawObject): SWEInstance {
  const parsed = SWEInstance.safeParse(raw);
  if (!parsed.success)
    throw new TerminalError('InvalidInstance', formatIssues(parsed.error.issues).slice(0, 5).join('; '));
  return parsed.data;
}

export async function readResult(
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
    ...envImagePodFields(run, instance),
    ...(ctx.gateway &&
      run.spec.llm && {
        gatewayURL: ctx.gateway.url,
        gatewayToken: ctx.gateway.token({ run, instance, stage, attempt }),
      }),
  };
}

/** A stage after env runs the instance's environment image (by digest), prepared at its checkout. */
export function envImagePodFields(run: CurationRun, instance: SWEInstance): Pick<StagePodInput, 'envImage'> {
  const image = envImageOf(run, instance.status);
  if (!image) return {};
  const pullSecret = run.spec.environment.pullSecretRef?.name;
  return { envImage: { image, ...(pullSecret && { pullSecret }) } };
}

/** What the pod's agent gets: the pipeline's stage input, with the gateway as its LLM endpoint. */
export function stageInputOfPod(pod: StagePodInput, remembered?: RememberedRecipe[]): StageInput {
  const input = stageInputFor({
    runSpec: pod.run.spec,
    instance: pod.instance.spec,
    status: pod.instance.status,
    stage: pod.stage,
    llmEndpoint: pod.gatewayURL ? { baseURL: pod.gatewayURL, apiKey: pod.gatewayToken } : undefined,
    remembered,
  });
  const { environment, recipe } = pod.instance.status ?? {};
  // The image holds the checkout with its environment installed: the agent runs no setup.
  if (pod.envImage && pod.stage !== 'env' && environment && recipe)
    return { ...input, prepared: { dir: ENV_IMAGE_CHECKOUT, environment, recipe } };
  return input;
}

/**
 * A grading pod's input (an Evaluation's prediction, a solve attempt's patch): the verify
 * stage's input with the patch to grade — the grader of verification, nothing of its own.
 */
export function gradingInputOf(pod: StagePodInput, modelPatch: string): StageInput {
  return { ...stageInputOfPod(pod), grade: { modelPatch } };
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

/**
 * The encoded input and, when it holds nothing secret and is small, the same for the pod's
 * annotation (no Secret then); or a TerminalError: an input too big for a Secret never fits
 * on a retry.
 */
function encodedInput(
  podInput: StagePodInput,
  remembered?: RememberedRecipe[],
): { encoded: EncodedStageInput; inline?: string } {
  const input = stageInputOfPod(podInput, remembered);
  const encoded = encodeStageInput(input);
  const tooLarge = stageInputTooLarge(encoded);
  if (tooLarge) throw new TerminalError(tooLarge.reason, `stage ${podInput.stage}: ${tooLarge.message}`);
  const inline = inlineStageInput(input, encoded);
  return { encoded, ...(inline !== undefined && { inline }) };
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
  const parsed = parseInstance(raw);
  const run = runOf(ctx, namespace, parsed.spec.runRef);
  const pods = ctx.podExpectations.visible(ctx.pods.byIndex('instance', k));
  // A finished instance's resync: nothing to plan, so no store read (10k of them every 5 min).
  if (settled(parsed, run, pods)) return undefined;
  // The planner sees the whole status: content kept in the dataset store is read back.
  const instance = await withContent(ctx, parsed);
  const now = ctx.now();
  const results = new Map<string, DecodedStageResult>();
  const envImageDonors = run?.spec.environment.registry ? othersOf(ctx, namespace, name) : undefined;
  let plan = planInstance({ instance, run, pods, now, results, envImageDonors });
  const toRead = [plan.readResultOf, ...(plan.solve?.readResultsOf ?? [])].filter((n) => n !== undefined);
  if (toRead.length) {
    for (const podName of toRead) results.set(podName, await readResult(ctx, namespace, podName, log));
    plan = planInstance({ instance, run, pods, now, results, envImageDonors });
  }

  // Content first, then the status that names it: a crash between the two leaves an object
  // no status names yet, which the next attempt writes again under the same key.
  const where = { namespace, name };
  await storeContent(ctx, where, instance.status, plan.status);
  // On a 409 the plan is made again from the fresh object: status and actions stay consistent.
  let finalPlan: InstancePlan = plan;
  let finalInstance = instance;
  const write = await updateStatus(
    ctx.kube,
    SWEINSTANCES,
    raw,
    (fresh) => {
      if (fresh !== raw) {
        finalInstance = withCachedContent(ctx, parseInstance(fresh));
        finalPlan = planInstance({ instance: finalInstance, run, pods, now, results, envImageDonors });
      }
      const next = statusToWrite(ctx, where, finalPlan.status);
      // Refused by the API server on every retry: a clear reason instead of an endless backoff.
      const tooLarge = statusTooLarge(next, ctx.datasetStore !== undefined);
      if (tooLarge) throw new TerminalError(tooLarge.reason, tooLarge.message);
      return next;
    },
    {
      overlay: ctx.instanceOverlay,
      onConflict: () => ctx.metrics.statusConflicts.inc({ controller: 'sweinstance' }),
    },
  );
  if (write.written) {
    log.debug({ phase: finalPlan.status.phase }, 'status written');
    await dropReplacedContent(
      ctx,
      finalInstance.status?.content,
      write.object.status as SWEInstanceStatus,
      log,
    );
    // Observed once: a later reconcile plans from this status, where the outcome is recorded.
    ctx.pipelineMetrics.stagesFinished(finalPlan.finished);
  }
  for (const event of finalPlan.events)
    ctx.events.record(write.object, event.type, event.reason, 'Reconcile', event.message);

  if (finalPlan.deleteAllPods.length) {
    for (const podName of finalPlan.deleteAllPods) ctx.podExpectations.expectDeletion(namespace, podName);
    await ctx.kube.deletePods(namespace, instancePodsSelector(name));
    log.debug({ pods: finalPlan.deleteAllPods.length }, 'deleted the instance pods');
  }
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
  if (finalPlan.createEnvImagePod && run)
    await createEnvImagePod(ctx, run, owner, finalPlan.createEnvImagePod, log);
  // Retention, once the instance is finished (the namespace scan only then).
  const finished = finalPlan.status.phase !== undefined && TERMINAL_PHASES.has(finalPlan.status.phase);
  const toDelete =
    run &&
    finished &&
    finalPlan.status.environment?.digest &&
    envImageToDelete(
      run,
      finalPlan.status,
      othersOf(ctx, namespace, name).map((o) => o.status),
    );
  if (run && toDelete) await deleteEnvImage(ctx, run, write.object, toDelete, log);

  if (
    finalPlan.createPod &&
    run &&
    !ctx.podExpectations.creationPending(namespace, finalPlan.createPod.name)
  ) {
    const { stage, attempt, name: podName } = finalPlan.createPod;
    const podInput = stagePodInputOf(ctx, run, owner, stage, attempt, namespace);
    const { encoded, inline } = encodedInput(podInput, rememberedInNamespace(ctx, namespace, owner, stage));
    let pod: StagePodRef | undefined;
    try {
      ctx.podExpectations.expectCreation(namespace, podName);
      const manifest = buildStagePod({ ...podInput, ...(inline !== undefined && { inlineInput: inline }) });
      pod = (await ctx.kube.createPod(namespace, manifest)) as StagePodRef;
      log.info({ pod: podName, stage, attempt, inputInPod: inline !== undefined }, 'created sandbox pod');
    } catch (err) {
      // Already there: a later reconcile sees it pending and ensures its Secret.
      if (!isAlreadyExists(err)) throw err;
    }
    // Pod first, as the Secret's owner; the kubelet holds the pod until the Secret exists.
    if (pod && inline === undefined) await provideInput(ctx, pod, encoded);
  } else if (finalPlan.pendingPod && run) {
    const { stage, attempt, name: podName } = finalPlan.pendingPod;
    const pod = ctx.pods.get(namespace, podName);
    const uid = pod?.metadata.uid;
    // A pod carrying its input in its annotation needs no Secret.
    if (pod && uid && !ctx.stageInputsProvided.has(uid) && !carriesInput(pod)) {
      const { encoded: input } = encodedInput(
        stagePodInputOf(ctx, run, owner, stage, attempt, namespace),
        rememberedInNamespace(ctx, namespace, owner, stage),
      );
      if ((await provideInput(ctx, pod, input)) === 'created')
        log.info({ pod: podName, stage, attempt }, 'created the missing stage input Secret');
    }
  }
  if (finalPlan.solve && run) await actOnSolvePods(ctx, run, owner, finalPlan.solve, log);
  return finalPlan.requeueAfterMs === undefined ? undefined : { requeueAfterMs: finalPlan.requeueAfterMs };
}

/** A solve attempt's pod input: the solving agent's (with a gateway token) or the grader's. */
function solvePodOf(
  ctx: ControllerContext,
  run: CurationRun,
  instance: SWEInstance,
  pod: SolvePodToCreate,
): { podInput: SolvePodInput; input: EncodedStageInput } {
  const settings = run.spec.solve!;
  const namespace = instance.metadata.namespace ?? '';
  const grant = solveGrant(pod.attempt, pod.podTry);
  const podInput: SolvePodInput = {
    run,
    instance,
    attempt: grant,
    namespace,
    runnerImage: run.spec.agents.runnerImage,
    image: run.spec.agents.images[instance.spec.language],
    ...envImagePodFields(run, instance),
    kind: pod.kind,
    solveAttempt: pod.attempt,
    podTry: pod.podTry,
    // Only the agent reaches the gateway, with the attempt's own budget; the grader runs no LLM.
    ...(pod.kind === 'solve' &&
      ctx.gateway &&
      run.spec.llm && {
        gatewayURL: ctx.gateway.url,
        gatewayToken: ctx.gateway.token({
          run,
          instance,
          stage: 'verify',
          attempt: grant,
          budget: settings.maxTokens,
        }),
      }),
  };
  const verifyPod = { ...podInput, stage: 'verify' as const };
  const input = encodeStageInput(
    pod.kind === 'solve'
      ? solveInputFrom(stageInputOfPod(verifyPod), settings, instance)
      : gradingInputOf(verifyPod, pod.patch ?? ''),
  );
  // Not a TerminalError: that would fail a Verified instance. (The verify input fitted; the
  // solve input is a part of it, the grading input adds at most MAX_SOLVE_PATCH_BYTES.)
  const tooLarge = stageInputTooLarge(input);
  if (tooLarge) throw new Error(`${pod.name}: ${tooLarge.message}`);
  return { podInput, input };
}

/**
 * The solve stage's pods, after status records their attempts: create the new ones (pod, then
 * its input Secret), and ensure the Secret of any still Pending this process has not seen.
 */
async function actOnSolvePods(
  ctx: ControllerContext,
  run: CurationRun,
  instance: SWEInstance,
  solve: NonNullable<InstancePlan['solve']>,
  log: Logger,
): Promise<void> {
  const namespace = instance.metadata.namespace ?? '';
  for (const create of solve.createPods) {
    if (ctx.podExpectations.creationPending(namespace, create.name)) continue;
    const { podInput, input } = solvePodOf(ctx, run, instance, create);
    let pod: StagePodRef | undefined;
    try {
      ctx.podExpectations.expectCreation(namespace, create.name);
      pod = (await ctx.kube.createPod(namespace, buildSolvePod(podInput))) as StagePodRef;
      log.info(
        { pod: create.name, kind: create.kind, solveAttempt: create.attempt, try: create.podTry },
        'created solve pod',
      );
    } catch (err) {
      // Already there: a later reconcile sees it pending and ensures its Secret.
      if (!isAlreadyExists(err)) throw err;
    }
    if (pod) await provideInput(ctx, pod, input);
  }
  for (const pending of solve.pendingPods) {
    const pod = ctx.pods.get(namespace, pending.name);
    const uid = pod?.metadata.uid;
    if (!pod || !uid || ctx.stageInputsProvided.has(uid)) continue;
    const { input } = solvePodOf(ctx, run, instance, pending);
    if ((await provideInput(ctx, pod, input)) === 'created')
      log.info({ pod: pending.name }, 'created the missing solve input Secret');
  }
}

/** The other instances in the namespace (from the cache, with this process's own writes). */
function othersOf(ctx: ControllerContext, namespace: string, name: string): InstanceRecord[] {
  return ctx.instances
    .list(namespace)
    .filter((o) => o.metadata.name !== name)
    .map((o) => ctx.instanceOverlay.resolve(o) ?? o)
    .map((o) => ({
      spec: o.spec as InstanceRecord['spec'],
      status: o.status as SWEInstanceStatus | undefined,
    }));
}

async function createEnvImagePod(
  ctx: ControllerContext,
  run: CurationRun,
  instance: SWEInstance,
  create: { attempt: number; name: string },
  log: Logger,
): Promise<void> {
  const { namespace } = instance.metadata;
  if (!namespace || ctx.podExpectations.creationPending(namespace, create.name)) return;
  const recipe = instance.status?.recipe;
  const key = instance.status?.environment?.key;
  if (!recipe || !key) return;
  const lock = instance.status?.environment?.lock;
  for (const [what, text] of [
    ['setup script', recipe.setupScript],
    ['lock', lock ?? ''],
  ] as const) {
    if (Buffer.byteLength(text) > MAX_SETUP_SCRIPT_BYTES)
      throw new TerminalError(
        'StageInputTooLarge',
        `the ${what} is ${Buffer.byteLength(text)} bytes; an environment image build takes at most ${MAX_SETUP_SCRIPT_BYTES}`,
      );
  }
  const pod = buildEnvImagePod({
    run,
    instance,
    attempt: create.attempt,
    namespace,
    baseImage: run.spec.agents.images[instance.spec.language],
    targetImage: envImageTarget(run, key),
    setupScript: recipe.setupScript,
    lock,
  });
  try {
    ctx.podExpectations.expectCreation(namespace, create.name);
    await ctx.kube.createPod(namespace, pod);
    log.info(
      { pod: create.name, attempt: create.attempt, image: envImageTarget(run, key) },
      'created environment image build pod',
    );
  } catch (err) {
    if (!isAlreadyExists(err)) throw err;
  }
}

/**
 * Deletes a finished instance's environment image (retention), with the run's push
 * credentials, then records it. A registry error is thrown: the work queue retries with backoff.
 */
async function deleteEnvImage(
  ctx: ControllerContext,
  run: CurationRun,
  raw: RawObject,
  image: string,
  log: Logger,
): Promise<void> {
  const namespace = raw.metadata.namespace ?? '';
  const secretName = run.spec.environment.pushSecretRef?.name;
  const auth = secretName && (await ctx.kube.readSecretKey(namespace, secretName, '.dockerconfigjson'));
  const ref = parseImageRef(image);
  const client = new RegistryClient({
    ...(auth && { credentials: credentialsFromDockerConfig(auth) }),
    plainHTTP: run.spec.environment.plainHTTP ? [ref.registry] : [],
    timeoutMs: 30_000,
  });
  await client.deleteManifest(ref);
  log.info({ image }, 'deleted the environment image of a finished instance');
  await updateStatus(
    ctx.kube,
    SWEINSTANCES,
    raw,
    (fresh) => markEnvImageDeleted((fresh.status ?? {}) as SWEInstanceStatus, ctx.now()),
    { overlay: ctx.instanceOverlay },
  );
}

/** A TerminalError on an instance: Failed with the reason, kept for humans. */
export function recordInstanceTerminal(ctx: ControllerContext, k: string, err: TerminalError): Promise<void> {
  return recordTerminal(
    ctx,
    {
      resource: SWEINSTANCES,
      cache: ctx.instances,
      overlay: ctx.instanceOverlay,
      failed: (fresh, reason, message, now) => {
        const status = (fresh.status ?? {}) as SWEInstanceStatus;
        return {
          ...status,
          phase: 'Failed',
          lastError: { reason, message, time: status.lastError?.time ?? now.toISOString() },
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
