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
