import { stripVTControlCharacters } from 'node:util';

/**
 * The one failure vocabulary. A stage attempt ends `failed` (retried with backoff, then the
 * instance is Failed — never Rejected) for one of these infrastructure reasons, whichever
 * mode ran it: sandbox/classify.ts maps pod facts to them, local/executor.ts process facts,
 * the agent runner its own crashes. Data verdicts (NoFailToPass, EnvSetupFailed, …) are
 * `rejected` outcomes and are not listed here.
 */
export const INFRA_FAILURES = {
  DeadlineExceeded: 'the stage ran past its deadline (pod activeDeadlineSeconds, process timer)',
  OOMKilled: 'the stage ran out of memory',
  Evicted: 'the node evicted the stage pod',
  ImagePullFailed: 'the sandbox image could not be pulled',
  PendingTimeout: 'the stage pod never started',
  AgentCrashed: 'the agent runner exited abnormally (non-zero exit, signal, unexpected exception)',
  ResultMissing: 'the stage ended without reporting a result',
  ResultCorrupt: 'the stage result could not be read',
  InvalidInput: 'the stage input did not parse',
  LlmUnavailable: 'the LLM endpoint failed or refused requests',
  CheckoutFailed: 'the repository could not be checked out at the base commit',
  ResetFailed: 'the workspace could not be reset',
  MissingRecipe: 'a later stage ran before the env stage recorded a recipe',
  SetupReplayFailed: "replaying the env stage's recorded setup failed (registry, disk, network)",
  EnvironmentCaptureFailed: 'the prepared environment could not be saved (disk full, I/O error)',
  EnvironmentRestoreFailed: 'the prepared environment could not be restored for the stage',
  TestsTimedOut: 'a test run hit the command time limit: its results are not evidence either way',
  DiskFull: 'a disk the stage writes to is full (ENOSPC, quota)',
  ReadOnlyFilesystem: 'a path the stage writes to is on a read-only file system (EROFS)',
  ProcessKilled: 'a process of the stage was killed (SIGKILL: out of memory or an outside kill)',
  RegistryUnreachable: 'a package registry could not be reached while installing',
  SandboxNetworkFailed: "the local stage sandbox's network (slirp4netns) could not be set up",
  TestRunCrashed:
    'a test run ended abnormally (the runner exited non-zero without a failing test): its results are incomplete, not evidence',

  // The environment image (cluster): the registry's or the build's trouble, never the PR's.
  RegistryUnavailable: 'the image registry could not be reached or answered with a server error',
  RegistryUnauthorized: 'the image registry refused the push/pull credentials',
  RegistryRejected:
    'the image registry refused a request (base image missing, bad reference, unsupported manifest)',
  EnvImageBuildFailed: 'the environment image build failed (setup replay, packing the layer)',
  EnvImageOutOfDisk: 'the environment image build ran out of disk',
} as const;
export type InfraFailureReason = keyof typeof INFRA_FAILURES;
export const INFRA_FAILURE_REASONS = Object.keys(INFRA_FAILURES) as InfraFailureReason[];

export function isInfraFailure(reason: string): reason is InfraFailureReason {
  return Object.hasOwn(INFRA_FAILURES, reason);
}

/** An infrastructure failure as a value (what a planner folds into status). */
export interface InfraFailure {
  reason: InfraFailureReason;
  message: string;
}

/**
 * Symptoms in a stage's own output that make a negative outcome no evidence about the PR: the
 * machine broke, not the repository. Checked in order; `setupOnly` symptoms count only where
 * the stage installs (a test that wants the network is a data verdict: TestsNeedNetwork).
 */
const INFRA_SYMPTOMS: readonly { reason: InfraFailureReason; pattern: RegExp; setupOnly?: boolean }[] = [
  {
    reason: 'DiskFull',
    pattern: /No space left on device|\bENOSPC\b|\[Errno 28\]|os error 28|Disk quota exceeded|\bEDQUOT\b/,
  },
  { reason: 'ReadOnlyFilesystem', pattern: /Read-only file system|\bEROFS\b|\[Errno 30\]|os error 30/ },
  {
    reason: 'OOMKilled',
    pattern:
      /\bCannot allocate memory\b|\bENOMEM\b|java\.lang\.OutOfMemoryError|runtime: out of memory|memory allocation of \d+ bytes failed|\bMemoryError\b/,
  },
  // bash reports a SIGKILLed child as "Killed" on a line of its own or after the command.
  { reason: 'ProcessKilled', pattern: /\d+\s+Killed\s|^\s*Killed\s*$|signal: killed|\(signal: 9, SIGKILL/ },
  {
    reason: 'RegistryUnreachable',
    setupOnly: true,
    pattern:
      /Temporary failure in name resolution|Name or service not known|Could not resolve host|getaddrinfo (ENOTFOUND|EAI_AGAIN)|\bEAI_AGAIN\b|Network is unreachable|No route to host|Failed to establish a new connection|Could not fetch URL|error sending request for url|dns error|Could not transfer artifact|failed to download from|dial tcp: lookup|ERR_SOCKET_CLOSED_BEFORE_CONNECTION|\bE(CONNRESET|TIMEDOUT|CONNREFUSED)\b/,
  },
];

/** Data verdicts that a stage draws from setup (install) output, where registry symptoms count. */
const SETUP_VERDICTS = new Set([
  'EnvSetupFailed',
  'DependencyResolutionFailed',
  'TestCollectionFailed',
  'InterpreterUnsupported',
]);

/**
 * The infrastructure failure hidden in a negative stage outcome, if any (pure): a stage that
 * would reject an instance because the disk filled, a file system was read-only, memory ran
 * out, a process was killed or the registry was unreachable reports that instead, so the
 * attempt is retried and never becomes a verdict. `text` is the outcome's message and log tail.
 */
export function infraFaultIn(outcome: { reason: string; text: string }): InfraFailure | undefined {
  const lines = outcome.text.split('\n');
  for (const symptom of INFRA_SYMPTOMS) {
    if (symptom.setupOnly && !SETUP_VERDICTS.has(outcome.reason)) continue;
    const line = lines.find((l) => symptom.pattern.test(l));
    if (line !== undefined)
      return {
        reason: symptom.reason,
        message: `${INFRA_FAILURES[symptom.reason]}, so ${outcome.reason} is no verdict: ${stripVTControlCharacters(line).trim().slice(0, 300)}`,
      };
  }
  return undefined;
}
