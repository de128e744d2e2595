import { readFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { type Language, RESULT_FORMATS, type Recipe, type ResultFormat } from '../api/index.ts';
import {
  candidateRecipes,
  classifyEnvFailure,
  detectLanguages,
  type EnvAttemptOutput,
  envFilesToRead,
  envProbes,
  languageProbes,
  type RepoFacts,
  repairRecipe,
} from '../languages/index.ts';
import { chooseRemembered, manifestDigest, memoryManifestFiles } from '../languages/recipe-memory.ts';
import { dependencyChange } from './dependency-change.ts';
import { adoptPrepared, canAdoptAcrossCommits, describeEnvironment, sourcesDigest } from './environment.ts';
import { sh, truncateMiddle } from './exec.ts';
import { baseRunAccepted, type RunFacts } from './grading.ts';
import type { StageContext } from './stage-context.ts';
import type { StageOutput } from './stage-output.ts';
import { loopFailure } from './stage-output.ts';
import { countStatuses, RUN_ENV, runSetup, runTests, type TestRun, testCommandFor } from './test-run.ts';
import { runToolLoop, type Tool } from './tool-loop.ts';
import { workspaceTools } from './tools.ts';
import {
  applyPatch,
  createWorkspace,
  listFiles,
  resetHard,
  resetToSetup,
  type Workspace,
} from './workspace.ts';

interface Attempt {
  recipe: Recipe;
  ok: boolean;
  note: string;
  /** Which command the attempt ended on and its output, for repairs and failure classes. */
  phase: EnvAttemptOutput['phase'];
  output: string;
  /** Tests that passed or failed. */
  ran: number;
  /** Cut off by its time limit: no evidence either way. */
  timedOut?: boolean;
}

/**
 * No recipe worked: a rejection only when every failed attempt is evidence. One cut off by its
 * time limit (a cold build on a busy machine, a hanging download) is retried as TestsTimedOut.
 */
export function unworkableEnvOutcome(
  attempts: readonly Pick<Attempt, 'note' | 'timedOut'>[],
  rejection: { reason: string; message: string },
): StageOutput {
  const cut = attempts.find((a) => a.timedOut);
  if (cut)
    return {
      outcome: 'failed',
      reason: 'TestsTimedOut',
      message: `no recipe worked, and one attempt was cut off by its limit (${cut.note}): not evidence against the PR; ${rejection.message}`,
    };
  return { outcome: 'rejected', ...rejection };
}

/** Rounds of the deterministic repair loop per candidate recipe (each replays the setup). */
const MAX_REPAIR_ROUNDS = 3;

/**
 * EnvAgent: deterministic recipes first, then (with an LLM) a tool loop. A recipe counts
 * only when replaying its setup script from a pristine checkout lets the test command
 * produce parseable per-test results (at base, or at base + the PR's tests).
 */
export async function runEnvStage(ctx: StageContext): Promise<StageOutput> {
  const { instance } = ctx.input;
  const ws = await createWorkspace(instance.cloneURL, instance.baseCommit, await ctx.dir('env'));
  const facts = await repoFacts(ctx, ws);
  const digest = await manifestsDigestOf(ws, facts.files);
  // The PR's dependency change is installed too (runSetup): an environment without it is not this one.
  const change = dependencyChange(instance.patch);
  const sources = sourcesDigest(instance.language, {
    ...facts.manifests,
    ...(change && { '(the PR’s dependency change)': change.patch }),
  });
  const shared = await adoptSharedEnvironment(ctx, facts, sources);
  if (shared) return shared;
  const ready = async (recipe: Recipe, attempts: Attempt[], note: string): Promise<StageOutput> => {
    const out = envReady({ ...recipe, manifestDigest: digest }, facts, attempts, note, instance.language);
    // A later repair that was dropped left its own setup in the tree: put this recipe's back.
    if (INSTALLED.get(ws) !== recipe && (await runSetup(ctx, ws, recipe)).code !== 0) return out;
    return {
      ...out,
      environment: await describeEnvironment(ctx, ws, recipe, out.language ?? instance.language, sources),
      preparedDir: ws.dir,
    };
  };
  const attempts: Attempt[] = [];
  // Recipe memory: what worked for another PR of the repository at the same manifests first.
  const memory = chooseRemembered(ctx.input.remembered, {
    createdAt: instance.createdAt,
    manifestDigest: digest,
  });
  for (const s of memory.skipped) ctx.log.info(`env: remembered recipe of ${s.from} not reused: ${s.why}`);
  for (const { recipe, from } of memory.tryFirst) {
    const check = await checkRecipe(ctx, ws, recipe);
    attempts.push({ recipe, ...check });
    ctx.log.info(`env: remembered recipe of ${from} ${check.ok ? 'works' : `failed: ${check.note}`}`);
    if (check.ok) return ready(recipe, attempts, `remembered recipe of ${from}: ${check.note}`);
  }
  for (const candidate of candidateRecipes(facts, instance.language)) {
    if (memory.tryFirst.some((m) => sameRecipe(m.recipe, candidate))) continue;
    let recipe = candidate;
    let check = await checkRecipe(ctx, ws, recipe);
    attempts.push({ recipe, ...check });
    ctx.log.info(
      `env: deterministic recipe (${recipe.resultFormat}) ${check.ok ? 'works' : `failed: ${check.note}`}`,
    );
    // Deterministic repairs (e.g. a module the tests import that no manifest declares), bounded.
    for (let round = 1; round <= MAX_REPAIR_ROUNDS; round++) {
      const repaired = repairRecipe(recipe, check.output, facts);
      if (!repaired) break;
      const next = await checkRecipe(ctx, ws, repaired);
      attempts.push({ recipe: repaired, ...next });
      ctx.log.info(`env: repair round ${round} ${next.ok ? 'works' : `failed: ${next.note}`}`);
      // A repair that broke a working recipe (or ran fewer tests) is dropped.
      if (check.ok && (!next.ok || next.ran < check.ran)) break;
      recipe = repaired;
      check = next;
    }
    if (check.ok) return ready(recipe, attempts, check.note);
  }
  if (!ctx.llm) {
    const cause = classifyEnvFailure(facts, attempts, instance.language);
    return unworkableEnvOutcome(attempts, {
      reason: cause?.reason ?? 'EnvSetupFailed',
      message: `${cause ? `${cause.message}; ` : ''}no deterministic recipe worked (${summarize(attempts)}) and no LLM is configured`,
    });
  }
  await resetHard(ws);
  const finish: Tool<Recipe> = {
    name: 'finish',
    description:
      'Submit the environment recipe. It is replayed from a pristine checkout and must make the test command report per-test results.',
    parameters: {
      type: 'object',
      properties: {
        setup_script: { type: 'string', description: 'bash script run at the repository root' },
        test_command: { type: 'string', description: 'runs the whole test suite' },
        result_format: { type: 'string', enum: [...RESULT_FORMATS] },
      },
      required: ['setup_script', 'test_command', 'result_format'],
    },
    async run(args) {
      const format = String(args.result_format) as ResultFormat;
      if (!RESULT_FORMATS.includes(format))
        return `error: result_format must be one of ${RESULT_FORMATS.join(', ')}`;
      const recipe: Recipe = {
        setupScript: String(args.setup_script ?? ''),
        testCommand: String(args.test_command ?? ''),
        resultFormat: format,
        source: 'llm',
      };
      const check = await checkRecipe(ctx, ws, recipe);
      attempts.push({ recipe, ...check });
      if (check.ok) return { done: recipe };
      return `Replaying your recipe from a pristine checkout failed: ${check.note}\n${truncateMiddle(ctx.logTail, 6000)}\nFix it and call finish again.`;
    },
  };
  const tools = workspaceTools(ws.dir, { maxTimeoutSeconds: ctx.input.config.commandTimeoutSeconds });
  const outcome = await runToolLoop<Recipe>({
    llm: ctx.llm,
    agent: 'EnvAgent',
    system: ENV_SYSTEM,
    user: envBrief(ctx, facts, attempts),
    tools: [...tools.tools, finish],
    maxTurns: ctx.input.config.maxTurns,
  });
  if (outcome.status === 'done') return ready(outcome.value, attempts, 'recipe written by EnvAgent');
  return loopFailure(
    outcome,
    'EnvSetupFailed',
    `EnvAgent did not produce a working recipe (${summarize(attempts)})`,
  );
}

/**
 * An environment prepared for an earlier instance, offered in the input, adopted when the same
 * files produced it (agents/environment.ts says when that is sound) and the tests run in it at
 * this instance's base commit: no setup runs. Undefined: build one as usual.
 */
async function adoptSharedEnvironment(
  ctx: StageContext,
  facts: RepoFacts,
  sources: string,
): Promise<StageOutput | undefined> {
  const prepared = ctx.input.prepared;
  if (!prepared || !canAdoptAcrossCommits(prepared, sources)) return undefined;
  const ws = await adoptPrepared(ctx, prepared);
  if (!ws) return undefined;
  const check = await checkRecipe(ctx, ws, prepared.recipe, false);
  ctx.log.info(`env: shared environment ${check.ok ? 'works' : `failed: ${check.note}`}`);
  if (!check.ok) return undefined;
  const attempt: Attempt = { recipe: prepared.recipe, ...check };
  const note = `${check.note} in the environment shared with an earlier instance (${prepared.environment.key.slice(0, 12)})`;
  return {
    ...envReady(prepared.recipe, facts, [attempt], note, ctx.input.instance.language),
    environment: prepared.environment,
    preparedDir: ws.dir,
  };
}

function envReady(
  recipe: Recipe,
  facts: RepoFacts,
  attempts: Attempt[],
  note: string,
  hint: Language,
): StageOutput {
  const detected = detectLanguages(facts.files);
  const language = detected.includes(hint) ? hint : (detected[0] ?? hint);
  return {
    outcome: 'succeeded',
    reason: 'EnvReady',
    message: `${recipe.source ?? 'deterministic'} recipe after ${attempts.length} attempt(s): ${note}${toolchainNote(recipe)}`,
    recipe,
    language,
  };
}

function sameRecipe(a: Recipe, b: Recipe): boolean {
  return a.setupScript === b.setupScript && a.testCommand === b.testCommand;
}

/** Digest of the root manifests and lockfiles at the pristine base (see recipe-memory.ts). */
async function manifestsDigestOf(ws: Workspace, files: readonly string[]): Promise<string> {
  const contents: Record<string, string> = {};
  for (const f of memoryManifestFiles(files)) {
    contents[f] = await readFile(path.join(ws.dir, f), 'utf8').catch(() => '');
  }
  return manifestDigest(contents);
}

/** Passed or failed tests: evidence the suite really runs (errors alone mean it does not build). */
function ranCount(run: TestRun): number {
  return [...run.results.values()].filter((s) => s === 'passed' || s === 'failed').length;
}

/** The recipe whose setup a workspace holds now (what the prepared environment would be). */
const INSTALLED = new WeakMap<Workspace, Recipe>();

/**
 * Whether the run of the PR's test files leaves the environment to the whole suite: it did not
 * show a working one. They may run nothing (all skipped: nightly-only, platform-gated:
 * thiserror#191) or only tests that fail at base because of the bug the PR fixes
 * (filelock#345: its one test of the file fails before the fix). That is the tests stage's
 * verdict on the PR, not one on the environment. A run cut off is no evidence either way.
 */
export function wholeSuiteJudges(scopedRun: RunFacts, minRatio: number, atBase: boolean): boolean {
  return !scopedRun.timedOut && !baseRunAccepted(scopedRun, minRatio, atBase).ok;
}

/** Pristine checkout → setup script → test command; ok when most tests really ran (baseRunAccepted). */
async function checkRecipe(
  ctx: StageContext,
  ws: Workspace,
  recipe: Recipe,
  replaySetup = true,
): Promise<Omit<Attempt, 'recipe'>> {
  const setup = replaySetup ? await runSetup(ctx, ws, recipe) : undefined;
  if (setup?.code === 0) INSTALLED.set(ws, recipe);
  if (setup && setup.code !== 0)
    return {
      ok: false,
      note: setup.timedOut ? 'setup timed out' : `setup exited ${setup.code}`,
      phase: 'setup',
      output: setup.output,
      ran: 0,
      timedOut: setup.timedOut,
    };
  let run: TestRun = await runTests(ctx, ws, recipe, 'at base');
  let output = run.output;
  let atBase = true;
  if (ranCount(run) === 0 && !run.timedOut && ctx.input.instance.testPatch.trim()) {
    // A repository may have no tests at base; the PR's own tests must then be runnable.
    if ((await applyPatch(ws, ctx.input.instance.testPatch)) === undefined) {
      run = await runTests(ctx, ws, recipe, 'at base + test patch');
      output = `${output}\n${run.output}`;
      atBase = false;
    }
    await resetToSetup(ws);
  }
  const scoped = testCommandFor(ctx, ws, recipe);
  if (scoped !== recipe.testCommand && wholeSuiteJudges(run, ctx.input.config.minBaseTestsRunRatio, atBase)) {
    const suite = await runTests(ctx, ws, recipe, 'at base, whole suite', undefined, {
      command: recipe.testCommand,
    });
    output = `${output}\n${suite.output}`;
    run = suite;
    atBase = true;
  }
  if (run.timedOut)
    return {
      ok: false,
      note: 'test command timed out',
      phase: 'tests',
      output,
      ran: ranCount(run),
      timedOut: true,
    };
  const verdict = baseRunAccepted(run, ctx.input.config.minBaseTestsRunRatio, atBase);
  const note = verdict.ok ? verdict.note : `${verdict.note} (${countStatuses(run.results)})`;
  return { ok: verdict.ok, note, phase: 'tests', output, ran: verdict.ran };
}

function toolchainNote(recipe: Recipe): string {
  const entries = Object.entries(recipe.toolchain ?? {});
  return entries.length ? `; toolchain: ${entries.map(([k, v]) => `${k} ${v}`).join(', ')}` : '';
}

/** Seconds a probe (interpreter discovery, metadata reader) may take. */
const PROBE_TIMEOUT_MS = 120_000;

async function repoFacts(ctx: StageContext, ws: Workspace): Promise<RepoFacts> {
  const files = await listFiles(ws);
  const manifests: Record<string, string> = {};
  for (const m of envFilesToRead(files)) {
    manifests[m] = await readFile(path.join(ws.dir, m), 'utf8').catch(() => '');
  }
  // Probes run here, in the sandbox, at the pristine base: what the machine has, metadata only
  // the language's own parser reads. Their failures leave the fact empty (recipes fall back).
  const probes: Record<string, string> = {};
  for (const [name, command] of Object.entries(envProbes(files, ctx.input.instance.language))) {
    const r = await sh(`exec 2>/dev/null\n${command}`, {
      cwd: ws.dir,
      timeoutMs: PROBE_TIMEOUT_MS,
      env: RUN_ENV,
      maxChars: 200_000,
    });
    probes[name] = r.code === 0 ? r.output : '';
    if (r.code !== 0) ctx.remember(`probe ${name} (exit ${r.code})`, r.output);
  }
  const languages = [...new Set([ctx.input.instance.language, ...detectLanguages(files)])];
  return {
    files,
    manifests,
    probes,
    createdAt: ctx.input.instance.createdAt,
    repo: ctx.input.instance.repo,
    tools: await probeTools(languages),
    perTestTimeoutSeconds: ctx.input.config.perTestTimeoutSeconds,
  };
}

/**
 * What build tools this sandbox has, asked of the tools themselves. Run outside the checkout,
 * so a repository's pins (rust-toolchain, packageManager) do not change the answers.
 */
async function probeTools(languages: Language[]): Promise<Record<string, string>> {
  const tools: Record<string, string> = {};
  for (const [name, command] of Object.entries(languageProbes(languages))) {
    const r = await sh(command, { cwd: os.tmpdir(), timeoutMs: 30_000, env: RUN_ENV, maxChars: 4000 });
    if (r.code === 0 && !r.timedOut) tools[name] = r.output.trim();
  }
  return tools;
}

function summarize(attempts: Attempt[]): string {
  return (
    attempts.map((a) => `${a.recipe.source}/${a.recipe.resultFormat}: ${a.note}`).join('; ') || 'no candidate'
  );
}

const ENV_SYSTEM = `You set up software repositories so that their test suites run.
You work in a checkout of the repository at the commit under study. Use the tools to inspect
the repository and try commands. When the tests run, call finish with:
- setup_script: a bash script that, replayed from a pristine checkout at the repository root,
  installs everything needed (create virtualenvs/node_modules inside the repository);
- test_command: the command that runs the whole suite and reports per-test results;
- result_format: how to read them: pytest (use -rA), junit-xml, jest-json, vitest-json,
  go-test-json, cargo, tap.
Runners that write a report file should write it to "$SCALESWE_RESULTS" (an environment
variable set when the test command runs), e.g. --junitxml="$SCALESWE_RESULTS" or
--outputFile="$SCALESWE_RESULTS"; otherwise results are read from the command's output.
Do not change the repository's source or tests.`;

function envBrief(ctx: StageContext, facts: RepoFacts, attempts: Attempt[]): string {
  const i = ctx.input.instance;
  const files =
    facts.files.length > 300
      ? `${facts.files.slice(0, 300).join('\n')}\n… (${facts.files.length} files)`
      : facts.files.join('\n');
  const tried = attempts
    .map(
      (a) =>
        `--- setup script:\n${a.recipe.setupScript}\n--- test command: ${a.recipe.testCommand}\n--- result: ${a.note}`,
    )
    .join('\n');
  return `Repository ${i.repo} (language: ${i.language}) at commit ${i.baseCommit}.
Files:
${files}

Standard recipes were tried and failed:
${tried || '(none applicable)'}

Last command output:
${truncateMiddle(ctx.logTail, 6000)}`;
}
