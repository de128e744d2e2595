#!/usr/bin/env node

// `scaleswe`: the ScaleSWE pipeline on one machine (run, export) and a view of cluster runs (status).
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { rmdir } from 'node:fs/promises';
import { basename, join, resolve } from 'node:path';
import { Command, CommanderError, InvalidArgumentError, Option } from 'commander';
import { parse as parseYaml } from 'yaml';
import {
  type CurationRun,
  maxParallelOf,
  objectNameErrors,
  runCost,
  runCostLine,
  ScaleSweError,
  validateCurationRun,
} from '../api/index.ts';
import { DATASET_FORMATS, type DatasetFormat, type ExportOptions } from '../export/export-run.ts';
import type { Kube } from '../kube/index.ts';
import { DiskFullError, ensureWritableDirectory, NotWritableError } from '../local/atomic.ts';
import { bwrapAvailable, type IsolationMode } from '../local/executor.ts';
import { type LocalLlmEndpoint, startLocalLlmGateway } from '../local/llm-gateway.ts';
import { runLocal } from '../local/run.ts';
import { slirpAvailable } from '../local/setup-network.ts';
import { type LocalRunState, StateDir } from '../local/state.ts';
import { lockStateDir, type StateLock, StateLockedError } from '../local/state-lock.ts';
import { retryFailed } from '../pipeline/pipeline.ts';
import { MissingStoreError } from '../store/dataset-store.ts';
import { S3Store } from '../store/s3-store.ts';
import {
  connect,
  describeClusterError,
  exportCampaign,
  exportCluster,
  instanceLogs,
  listRuns,
  renderRunList,
  resolveNamespace,
  retryClusterInstances,
  statusCommand,
} from './cluster.ts';
import { type EvalFlags, evalCommand } from './eval.ts';
import { writeClusterEvalReport } from './eval-cluster.ts';
import { type ExportSummary, exportLocal } from './export.ts';
import { failedInstancesMessage } from './outcome.ts';
import { plainProgress, ttyProgress } from './progress.ts';
import { createSampleRepo, SAMPLE_REPO } from './sample.ts';
import { createSource } from './source.ts';
import { UserError } from './user-error.ts';
import { SCALESWE_VERSION } from './version.ts';

function positiveInt(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) throw new InvalidArgumentError('must be a positive integer');
  return n;
}

interface RunFlags {
  file?: string;
  git?: string;
  github?: string;
  githubApiUrl?: string;
  sample?: boolean;
  name?: string;
  stateDir?: string;
  parallel?: number;
  maxPrs?: number;
  isolation: 'auto' | 'bwrap' | 'none';
  iAcceptUnsandboxed?: boolean;
  keepWork?: boolean;
  recipeMemory?: string;
}

/** Builds the CurationRun from a manifest or from flags, validated by the same schema as the CRD. */
function manifestFrom(flags: RunFlags, sampleRepoPath: string | undefined): CurationRun {
  const sources = [flags.file, flags.git, flags.github, flags.sample].filter(Boolean).length;
  if (sources !== 1) throw new UserError('give exactly one of -f/--file, --git, --github or --sample');
  if (flags.githubApiUrl !== undefined && !flags.github)
    throw new UserError('--github-api-url goes with --github');
  let raw: unknown;
  if (flags.file) {
    if (!existsSync(flags.file)) throw new UserError(`${flags.file}: no such file`);
    try {
      raw = parseYaml(readFileSync(flags.file, 'utf8'));
    } catch (error) {
      throw new UserError(`${flags.file}: not valid YAML: ${(error as Error).message}`);
    }
  } else {
    const source = flags.github
      ? { github: { repo: flags.github, ...(flags.githubApiUrl && { baseURL: flags.githubApiUrl }) } }
      : {
          git: {
            url: sampleRepoPath ?? resolveGitUrl(flags.git!),
            ...(sampleRepoPath && { repo: SAMPLE_REPO }),
          },
        };
    raw = {
      apiVersion: 'scaleswe.dev/v1alpha1',
      kind: 'CurationRun',
      metadata: { name: flags.name ?? (flags.sample ? 'sample' : defaultName(flags)) },
      spec: { source },
    };
  }
  const object = raw as { spec?: { limits?: Record<string, unknown> } };
  if (flags.maxPrs !== undefined && object?.spec) {
    const limits: Record<string, unknown> = { ...object.spec.limits, maxPRs: flags.maxPrs };
    if (typeof limits.maxParallel === 'number' && limits.maxParallel > flags.maxPrs)
      limits.maxParallel = flags.maxPrs;
    object.spec.limits = limits;
  }
  const result = validateCurationRun(raw);
  if (!result.ok) {
    throw new UserError(
      `invalid CurationRun${flags.file ? ` in ${flags.file}` : ''}:\n  ${result.errors.join('\n  ')}`,
    );
  }
  return result.value;
}

function resolveGitUrl(value: string): string {
  if (/^[a-z+]+:\/\//.test(value) || /^[^/]+@[^:]+:/.test(value)) return value;
  const path = resolve(value);
  if (!existsSync(path)) throw new UserError(`--git ${value}: no such directory`);
  // Checked before a state directory is made: a wrong path is a usage error that leaves nothing.
  const repo = spawnSync('git', ['-C', path, 'rev-parse', '--absolute-git-dir'], { encoding: 'utf8' });
  if (repo.error) throw new UserError(`--git ${value}: cannot run git: ${repo.error.message}`, 1);
  if (repo.status !== 0) throw new UserError(`--git ${value}: not a git repository`);
  return path;
}

function defaultName(flags: RunFlags): string {
  const from = flags.github ?? flags.git ?? 'run';
  return (
    basename(from.replace(/\.git$/, ''))
      .toLowerCase()
      .replace(/[^a-z0-9-]+/g, '-')
      .replace(/^-+|-+$/g, '') || 'run'
  );
}

/** The flag that lets stages run unsandboxed: untrusted repository code then runs as the user. */
export const UNSANDBOXED_FLAG = '--i-accept-unsandboxed';

function chooseIsolation(wanted: RunFlags['isolation'], acceptUnsandboxed: boolean): IsolationMode {
  if (wanted === 'none') {
    if (!acceptUnsandboxed)
      throw new UserError(
        `--isolation none runs the mined repositories' code (setup scripts, tests) as you, with your files and credentials; add ${UNSANDBOXED_FLAG} to do that anyway`,
      );
    process.stderr.write('scaleswe: stages run unsandboxed (--isolation none)\n');
    return 'none';
  }
  const missing = [
    ...(bwrapAvailable() ? [] : ['bubblewrap (bwrap) is not installed or cannot create namespaces here']),
    ...(slirpAvailable()
      ? []
      : ["slirp4netns (the sandbox's network to the package registries) is not installed"]),
  ];
  if (missing.length === 0) return 'bwrap';
  throw new UserError(
    `${wanted === 'bwrap' ? '--isolation bwrap: ' : ''}${missing.join('; ')}, and stages run untrusted code: install bubblewrap and slirp4netns, or pass --isolation none ${UNSANDBOXED_FLAG}`,
  );
}

async function runCommand(flags: RunFlags): Promise<void> {
  // Before anything is created: no sandbox, no run (unless the user accepts it explicitly).
  const isolation = chooseIsolation(flags.isolation, flags.iAcceptUnsandboxed ?? false);
  // The name becomes a path (.scaleswe/<name>): checked as the API server checks it, first.
  const nameErrors = flags.name === undefined ? [] : objectNameErrors(flags.name);
  if (nameErrors.length > 0) throw new UserError(`invalid --name:\n  ${nameErrors.join('\n  ')}`);
  let lock: StateLock | undefined;
  // A state directory this command made, and may remove again if the run never starts.
  let made: StateDir | undefined;
  let discarded = false;
  // One run per state directory: a second one would corrupt the first's attempt records.
  const take = async (root: string): Promise<StateLock> => {
    const fresh = !existsSync(root);
    const taken = await lockStateDir(root);
    if (fresh) made = new StateDir(root);
    return taken;
  };
  try {
    let samplePath: string | undefined;
    if (flags.sample) {
      const stateRoot = resolve(flags.stateDir ?? join('.scaleswe', flags.name ?? 'sample'));
      lock = await take(stateRoot);
      samplePath = join(stateRoot, 'sample-repo');
      if (!existsSync(samplePath)) createSampleRepo(samplePath);
    }
    const run = manifestFrom(flags, samplePath);
    const state = new StateDir(resolve(flags.stateDir ?? join('.scaleswe', run.metadata.name ?? 'run')));
    lock ??= await take(state.root);
    await runLocked(flags, isolation, run, state);
  } catch (error) {
    // A start that failed before the source answered (a wrong path, an unreachable URL) leaves
    // nothing behind: no run.json, no half-made directory, nothing a corrected retry runs into.
    const interrupted = error instanceof UserError && error.exitCode === 130;
    if (made && !interrupted) discarded = await made.removeUnstarted();
    throw error;
  } finally {
    lock?.release();
    if (discarded && made) await rmdir(made.root).catch(() => undefined);
  }
}

async function runLocked(
  flags: RunFlags,
  isolation: IsolationMode,
  run: CurationRun,
  state: StateDir,
): Promise<void> {
  const name = run.metadata.name ?? 'run';
  let previous = await state.loadRun();
  const otherSource = (p: LocalRunState) => JSON.stringify(p.spec.source) !== JSON.stringify(run.spec.source);
  if (previous && otherSource(previous) && !(await state.hasMined(previous))) {
    // A run that never got a page from its source (a failed start of an older version, or a
    // suspended one) holds nothing to resume: the corrected source starts over in its place.
    process.stderr.write(
      `scaleswe: ${state.root} held run '${previous.name}' of another source that never started; starting over\n`,
    );
    await state.removeRun();
    previous = undefined;
  }
  if (previous && otherSource(previous)) {
    throw new UserError(
      `${state.root} holds run '${previous.name}' of another source; use --state-dir or --name`,
    );
  }
  const controller = new AbortController();
  let interrupts = 0;
  const onSignal = () => {
    interrupts++;
    if (interrupts > 1) process.exit(130);
    process.stderr.write('\nscaleswe: interrupted; stopping running stages (state is kept)…\n');
    controller.abort();
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  const view = process.stdout.isTTY ? ttyProgress() : plainProgress((line) => console.log(line));
  let llm: LocalLlmEndpoint | undefined;
  console.log(`scaleswe: run '${name}' → state in ${state.root}${previous ? ' (resuming)' : ''}`);
  try {
    const source = createSource(run.spec, state.root, process.env.GITHUB_TOKEN);
    llm = run.spec.llm
      ? await startLocalLlmGateway(
          run.spec.llm,
          run.spec,
          process.env.SCALESWE_LLM_API_KEY ?? process.env.OPENAI_API_KEY,
        )
      : undefined;
    const { instances } = await runLocal({
      name,
      spec: run.spec,
      state,
      source,
      parallel: flags.parallel ?? maxParallelOf(run.spec.limits),
      isolation,
      signal: controller.signal,
      onEvent: (e) => view.onEvent(e),
      llm,
      keepWorkDirs: flags.keepWork ?? false,
      recipeMemoryDir: flags.recipeMemory === undefined ? undefined : resolve(flags.recipeMemory),
    });
    view.stop();
    if (controller.signal.aborted) {
      throw new UserError(
        `interrupted; state kept in ${state.root}. Run the same command again to resume.`,
        130,
      );
    }
    const summary = await exportLocal(state, state.exportDir);
    const phases: Record<string, number> = {};
    for (const i of instances)
      phases[i.status.phase ?? 'Pending'] = (phases[i.status.phase ?? 'Pending'] ?? 0) + 1;
    console.log(
      `scaleswe: ${instances.length} instances: ${Object.entries(phases)
        .map(([p, n]) => `${n} ${p}`)
        .join(', ')}`,
    );
    const price = run.spec.llm?.price;
    const cost = runCost(instances, await state.listSolveAttempts(), price);
    if (cost.curation.totalTokens + cost.solve.totalTokens > 0)
      console.log(`scaleswe: ${runCostLine(cost, price !== undefined)}`);
    printSummary(summary);
    const failed = failedInstancesMessage(instances);
    if (failed) throw new UserError(failed, 3);
  } finally {
    await llm?.close();
    view.stop();
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
}

interface ExportFlags {
  stateDir?: string;
  run?: string;
  campaign?: string;
  period?: string;
  namespace?: string;
  kubeconfig?: string;
  out?: string;
  format: DatasetFormat;
  lists?: boolean;
  parquet?: boolean;
  only?: 'verified';
  includeLeaked?: boolean;
  allSolves?: boolean;
  solveWeights?: boolean;
  storeBucket?: string;
  storeEndpoint?: string;
  storeRegion?: string;
  storePrefix?: string;
}

/** The dataset store the operator writes to, when the export names one (credentials: AWS_* env). */
function exportStore(flags: ExportFlags): S3Store | undefined {
  if (!flags.storeBucket) return undefined;
  return new S3Store({
    bucket: flags.storeBucket,
    endpoint: flags.storeEndpoint,
    region: flags.storeRegion,
    prefix: flags.storePrefix,
  });
}

/** Runs an export with the dataset store the flags name (if any), closed afterwards. */
async function withExportStore<T>(
  flags: ExportFlags,
  exportWith: (store: S3Store | undefined) => Promise<T>,
) {
  const store = exportStore(flags);
  try {
    return await exportWith(store);
  } catch (err) {
    if (err instanceof MissingStoreError)
      throw new UserError(
        `${err.message}: give --store-bucket (and --store-endpoint) as the operator's chart sets them`,
      );
    throw err;
  } finally {
    store?.destroy();
  }
}

function exportOptions(flags: ExportFlags): ExportOptions {
  return {
    format: flags.format,
    lists: flags.lists ?? false,
    parquet: flags.parquet ?? false,
    includeLeaked: flags.includeLeaked ?? false,
    allSolves: flags.allSolves ?? false,
    solveWeights: flags.solveWeights ?? false,
    ...(flags.only === 'verified' && { onlyPhase: 'Verified' as const }),
  };
}

function printSummary(summary: ExportSummary): void {
  console.log(`dataset:      ${summary.dataset} (${summary.verified} verified instances)`);
  if (summary.parquet) console.log(`parquet:      ${summary.parquet} (the same records, typed columns)`);
  console.log(`trajectories: ${summary.trajectories} (${summary.examples} examples)`);
  console.log(`labels:       ${summary.trajectoriesMeta} (one line per example, same order)`);
  if (summary.solves)
    console.log(
      `solves:       ${summary.solves} (${summary.solveExamples} examples; labels in ${summary.solvesMeta})`,
    );
  console.log(`report:       ${summary.report} (chart: ${summary.reportChart})`);
  if (summary.mutationChart)
    console.log(`mutation:     ${summary.mutationChart} (mutation score distribution)`);
}

async function exportCommand(flags: ExportFlags): Promise<void> {
  if ([flags.stateDir, flags.run, flags.campaign].filter((f) => f !== undefined).length !== 1) {
    throw new UserError(
      'give one of --state-dir (a local run), --run (a CurationRun in the cluster) or --campaign (a Campaign in the cluster)',
    );
  }
  if (flags.period !== undefined && flags.campaign === undefined)
    throw new UserError('--period selects the runs of one period of a --campaign');
  if (flags.campaign) {
    const { campaign, period } = flags;
    const out = resolve(
      flags.out ?? join('.scaleswe', period ? `${campaign}-${period}` : campaign, 'export'),
    );
    await ensureWritableDirectory(out, 'output directory');
    printSummary(
      await onCluster(flags, `Campaign "${campaign}"`, (kube, ns) =>
        withExportStore(flags, (store) =>
          exportCampaign(kube, ns, campaign, period, out, exportOptions(flags), store),
        ),
      ),
    );
    return;
  }
  if (flags.run) {
    const out = resolve(flags.out ?? join('.scaleswe', flags.run, 'export'));
    await ensureWritableDirectory(out, 'output directory');
    const run = flags.run;
    printSummary(
      await onCluster(flags, `CurationRun "${run}"`, (kube, ns) =>
        withExportStore(flags, (store) => exportCluster(kube, ns, run, out, exportOptions(flags), store)),
      ),
    );
    return;
  }
  const state = new StateDir(resolve(flags.stateDir!));
  if (!(await state.loadRun()))
    throw new UserError(`${state.root}: no local run state here (run.json missing)`);
  const out = resolve(flags.out ?? state.exportDir);
  // Before anything is rendered: an output directory that cannot be written is one clear line.
  await ensureWritableDirectory(out, 'output directory');
  printSummary(await exportLocal(state, out, exportOptions(flags)));
}

async function evalAction(flags: EvalFlags & Pick<RunFlags, 'isolation' | 'iAcceptUnsandboxed'>) {
  const isolation = chooseIsolation(flags.isolation, flags.iAcceptUnsandboxed ?? false);
  const controller = new AbortController();
  const onSignal = () => {
    process.stderr.write('\nscaleswe: interrupted; stopping running gradings…\n');
    controller.abort();
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  try {
    await evalCommand(flags, isolation, controller.signal);
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
}

interface ClusterFlags {
  namespace?: string;
  kubeconfig?: string;
}

/** Runs a cluster command in the resolved namespace; API failures become one clear line (exit 1). */
async function onCluster<T>(
  flags: ClusterFlags,
  what: string,
  fn: (kube: Kube, namespace: string) => Promise<T>,
): Promise<T> {
  const kube = connect(flags.kubeconfig);
  const namespace = resolveNamespace(flags.namespace, kube);
  try {
    return await fn(kube, namespace);
  } catch (err) {
    if (err instanceof ScaleSweError) throw err;
    throw new UserError(describeClusterError(err, what, namespace, kube.server), 1);
  }
}

async function statusAction(
  run: string,
  flags: ClusterFlags & { watch?: boolean; interval: number },
): Promise<void> {
  const controller = new AbortController();
  const stop = () => controller.abort();
  process.on('SIGINT', stop);
  try {
    await onCluster(flags, `CurationRun "${run}"`, (kube, namespace) =>
      statusCommand(kube, namespace, run, {
        watch: flags.watch ?? false,
        intervalMs: flags.interval * 1000,
        signal: controller.signal,
        write: (text) => process.stdout.write(text),
        tty: Boolean(process.stdout.isTTY),
      }),
    );
  } finally {
    process.off('SIGINT', stop);
  }
}

async function retryAction(
  ids: string[],
  flags: ClusterFlags & { run?: string; stateDir?: string },
): Promise<void> {
  if ((flags.stateDir === undefined) === (flags.run === undefined))
    throw new UserError('give either --state-dir (a local run) or --run (a CurationRun in the cluster)');
  let retried: string[];
  if (flags.run) {
    const run = flags.run;
    retried = await onCluster(flags, `CurationRun "${run}"`, (kube, namespace) =>
      retryClusterInstances(kube, namespace, run, ids, new Date()),
    );
  } else {
    const state = new StateDir(resolve(flags.stateDir!));
    if (!(await state.loadRun()))
      throw new UserError(`${state.root}: no local run state here (run.json missing)`);
    retried = [];
    // A run on this state directory writes the same files: one writer at a time.
    const lock = await lockStateDir(state.root);
    try {
      for (const instance of await state.listInstances()) {
        if (ids.length && !ids.includes(instance.spec.instanceId)) continue;
        const status = retryFailed(instance.status, new Date());
        if (status === instance.status) continue;
        await state.saveInstance({ ...instance, status });
        retried.push(instance.spec.instanceId);
      }
    } finally {
      lock.release();
    }
  }
  const unknown = ids.filter((id) => !retried.includes(id));
  if (unknown.length) process.stderr.write(`not retried (not Failed, or unknown): ${unknown.join(', ')}\n`);
  console.log(
    retried.length
      ? `retrying ${retried.length} failed instance(s): ${retried.join(', ')}${flags.stateDir ? '\nresume with: scaleswe run --state-dir ' + flags.stateDir + ' -f <manifest> (or the same flags as before)' : ''}`
      : 'no Failed instances to retry',
  );
}

async function listAction(flags: ClusterFlags): Promise<void> {
  const rows = await onCluster(flags, 'CurationRuns', (kube, namespace) => listRuns(kube, namespace));
  console.log(renderRunList(rows));
}

async function logsAction(run: string, instanceId: string, flags: ClusterFlags): Promise<void> {
  const text = await onCluster(flags, `SWEInstance ${instanceId} of run "${run}"`, (kube, namespace) =>
    instanceLogs(kube, namespace, run, instanceId),
  );
  console.log(text);
}

async function evalReportAction(name: string, flags: ClusterFlags & { out?: string }): Promise<void> {
  const out = resolve(flags.out ?? join('.scaleswe', 'eval', name));
  const { report, pending, phase } = await onCluster(flags, `Evaluation ${name}`, (kube, namespace) =>
    writeClusterEvalReport(kube, namespace, name, out),
  );
  console.log(
    `Evaluation ${name} (${phase}): ${report.resolved_instances} resolved, ${report.unresolved_instances} unresolved, ${report.empty_patch_instances} empty patch, ${report.error_instances} error${pending ? `, ${pending} not graded yet (partial report)` : ''} (of ${report.total_instances} instances in the dataset)`,
  );
  console.log(`report: ${join(out, 'report.json')} (per prediction: ${join(out, 'results.json')})`);
}

export function buildProgram(): Command {
  const program = new Command('scaleswe')
    .description('Curate verified SWE-bench-style task instances from merged pull requests')
    .version(SCALESWE_VERSION)
    .showHelpAfterError()
    // Usage errors surface as CommanderError (exit 2 in main), not process.exit(1).
    .exitOverride();
  program
    .command('run')
    .description('run the whole pipeline on this machine (no cluster needed); resumes an interrupted run')
    .option('-f, --file <curationrun.yaml>', 'CurationRun manifest')
    .option('--git <path|url>', 'mine a git repository (merge and squash commits)')
    .option(
      '--github <owner/name>',
      'mine a GitHub repository (token from GITHUB_TOKEN; several, comma-separated, share the rate budget)',
    )
    .option(
      '--github-api-url <url>',
      'with --github: REST API base URL of GitHub Enterprise, e.g. https://ghe.example.com/api/v3',
    )
    .option('--sample', 'curate the bundled sample repository')
    .option('--name <name>', 'run name (default: from the source)')
    .option('--state-dir <dir>', 'state directory (default: .scaleswe/<name>)')
    .option('--parallel <n>', 'instances processed at once (default: spec.limits.maxParallel)', positiveInt)
    .option('--max-prs <n>', 'override spec.limits.maxPRs', positiveInt)
    .addOption(
      new Option('--isolation <mode>', 'sandbox for stage processes')
        .choices(['auto', 'bwrap', 'none'])
        .default('auto'),
    )
    .option(UNSANDBOXED_FLAG, 'with --isolation none: run untrusted repository code without a sandbox')
    .option('--keep-work', 'keep stage work directories')
    .option(
      '--recipe-memory <dir>',
      "share env recipes with later runs of the same repository (one file per repository); default: this run's instances only",
    )
    .action(runCommand);
  program
    .command('export')
    .description('write dataset.jsonl (SWE-bench), trajectories.jsonl (OpenAI chat) and report.md')
    .option('--state-dir <dir>', 'a local run state directory')
    .option('--run <name>', 'a CurationRun in the cluster (reads its SWEInstances)')
    .option('--campaign <name>', "a Campaign in the cluster: all its runs' instances in one export")
    .option(
      '--period <yyyymmddthhmm>',
      "with --campaign: only that period's runs (label scaleswe.dev/period)",
    )
    .option('-n, --namespace <ns>', NAMESPACE_HELP)
    .option('--kubeconfig <file>', KUBECONFIG_HELP)
    .option('--out <dir>', 'output directory (default: <state-dir>/export or .scaleswe/<run>/export)')
    .addOption(
      new Option('--format <format>', 'dataset schema: SWE-bench 5.x, or the released Scale-SWE data')
        .choices(DATASET_FORMATS)
        .default('swebench'),
    )
    .option(
      '--lists',
      'FAIL_TO_PASS/PASS_TO_PASS as JSON arrays (default: JSON-encoded strings, as SWE-bench)',
    )
    .option('--parquet', 'also write the dataset as dataset.parquet (the format dataset hubs serve)')
    .addOption(
      new Option('--only <phase>', 'trajectories of instances in this phase only').choices(['verified']),
    )
    .option('--include-leaked', 'keep trajectories whose statement was rejected as leaking the fix')
    .option(
      '--store-bucket <name>',
      "--run, --campaign: the operator's dataset store bucket, where instances' test-id lists, patches and statements are (credentials: AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY)",
      process.env.SCALESWE_STORE_BUCKET,
    )
    .option(
      '--store-endpoint <url>',
      'its S3-compatible endpoint (unset: AWS S3)',
      process.env.SCALESWE_STORE_ENDPOINT,
    )
    .option('--store-region <region>', 'its region', process.env.SCALESWE_STORE_REGION)
    .option('--store-prefix <prefix>', 'its key prefix', process.env.SCALESWE_STORE_PREFIX)
    .option(
      '--all-solves',
      'solves.jsonl with unresolved solve attempts too (labelled in solves.meta.jsonl), for rejection sampling and RL; default resolved only',
    )
    .option(
      '--solve-weights',
      "solves.jsonl: per-message fine-tuning weight on assistant messages (1 in resolved attempts, 0 in unresolved ones, so --all-solves' failures stay context only)",
    )
    .action(exportCommand);
  program
    .command('eval')
    .description(
      "grade a model's patches (SWE-bench predictions) against a dataset of ours, in the stage sandbox",
    )
    .requiredOption('--dataset <file>', 'dataset.jsonl written by `scaleswe export` (SWE-bench format)')
    .requiredOption(
      '--predictions <file>',
      'predictions: JSON Lines or a JSON list of {instance_id, model_patch, model_name_or_path}',
    )
    .option(
      '--state-dir <dir>',
      'the local run that produced the dataset: its environments are reused and its clone URLs used',
    )
    .option(
      '--repo <path|url>',
      "clone URL of the repository (default: the run's, else https://github.com/<repo>)",
    )
    .option('--out <dir>', 'report directory (default: .scaleswe/eval/<predictions file name>)')
    .option('--parallel <n>', 'predictions graded at once', positiveInt, 1)
    .addOption(
      new Option('--isolation <mode>', 'sandbox for grading processes')
        .choices(['auto', 'bwrap', 'none'])
        .default('auto'),
    )
    .option(UNSANDBOXED_FLAG, 'with --isolation none: run the patched code without a sandbox')
    .option('--keep-work', 'keep the grading work directories')
    .action(evalAction);
  program
    .command('eval-report')
    .description(
      "write the SWE-bench-style report.json of an Evaluation in the cluster (scaleswe eval's report, from its status)",
    )
    .argument('<evaluation>', 'Evaluation name')
    .option('-n, --namespace <ns>', NAMESPACE_HELP)
    .option('--kubeconfig <file>', KUBECONFIG_HELP)
    .option('--out <dir>', 'report directory (default: .scaleswe/eval/<evaluation>)')
    .action(evalReportAction);
  program
    .command('status')
    .description('show a CurationRun in the cluster: phase, counts, rejects by reason, instances')
    .argument('<run>', 'CurationRun name')
    .option('-n, --namespace <ns>', NAMESPACE_HELP)
    .option('--kubeconfig <file>', KUBECONFIG_HELP)
    .option('-w, --watch', 'keep redrawing until the run ends')
    .option('--interval <seconds>', 'redraw interval with --watch', positiveInt, 2)
    .action(statusAction);
  program
    .command('list')
    .description('list the CurationRuns of a namespace: phase, progress, verified, failed, reason')
    .option('-n, --namespace <ns>', NAMESPACE_HELP)
    .option('--kubeconfig <file>', KUBECONFIG_HELP)
    .action(listAction);
  program
    .command('retry')
    .description(
      'give Failed instances (all, or those named) their failed stage back with a fresh attempt budget',
    )
    .argument('[instances...]', 'instance ids (default: every Failed instance of the run)')
    .option('--run <name>', 'a CurationRun in the cluster')
    .option('--state-dir <dir>', 'a local run state directory')
    .option('-n, --namespace <ns>', NAMESPACE_HELP)
    .option('--kubeconfig <file>', KUBECONFIG_HELP)
    .action(retryAction);
  program
    .command('logs')
    .description("an instance's stage record (conditions, attempts, errors) and its running pods' logs")
    .argument('<run>', 'CurationRun name')
    .argument('<instance>', 'instance id, e.g. owner__repo-123')
    .option('-n, --namespace <ns>', NAMESPACE_HELP)
    .option('--kubeconfig <file>', KUBECONFIG_HELP)
    .action(logsAction);
  return program;
}

const USAGE_EXIT = 2;
const NAMESPACE_HELP = "namespace (default: the kubeconfig context's, else default)";
const KUBECONFIG_HELP = 'kubeconfig (default: KUBECONFIG, ~/.kube/config, in-cluster)';

export async function main(argv: string[]): Promise<number> {
  try {
    await buildProgram().parseAsync(argv);
    return 0;
  } catch (error) {
    // Help and --version end with code 0; every other usage error is a usage error: 2.
    if (error instanceof CommanderError) return error.exitCode === 0 ? 0 : USAGE_EXIT;
    if (error instanceof UserError) {
      process.stderr.write(`scaleswe: ${error.message}\n`);
      return error.exitCode;
    }
    if (
      error instanceof DiskFullError ||
      error instanceof StateLockedError ||
      error instanceof NotWritableError
    ) {
      process.stderr.write(`scaleswe: ${error.message}\n`);
      return 1;
    }
    process.stderr.write(`scaleswe: ${(error as Error).message ?? String(error)}\n`);
    return 1;
  }
}

if (import.meta.main) process.exitCode = await main(process.argv);
