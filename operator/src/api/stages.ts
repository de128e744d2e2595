import { z } from 'zod';

/**
 * The stage table: the one place a pipeline stage is described. Everything else — the Stage
 * enum, instance phases, conditions, attempts and durations in status, the per-stage timeout
 * in CurationRun.spec.agents.timeouts, what a stage's input carries from earlier stages, the
 * pod deadline, the CLI progress bars and the report — derives from these rows.
 *
 * Adding a stage: one row here, one agent module in agents/ (registered in run-stage.ts, which
 * the type checker forces), and `npm run gen` for the CRDs.
 */

/** Status fields a stage establishes for later stages and the export (SWEInstance.status). */
export const CARRIED_FIELDS = [
  'recipe',
  'environment',
  'testsSource',
  'generatedTestPatch',
  'fullTestPatch',
  'FAIL_TO_PASS',
  'PASS_TO_PASS',
  'problemStatement',
  'problemStatementSource',
  'hintsText',
  'statementVerdict',
  'mutation',
] as const;
export type CarriedField = (typeof CARRIED_FIELDS)[number];

interface StageRow {
  readonly name: string;
  /** Condition set True when the stage succeeds. */
  readonly condition: string;
  /** SWEInstance phase while the stage runs. */
  readonly phase: string;
  /** Default wall-clock limit (spec.agents.timeouts.<name>Seconds). */
  readonly timeoutSeconds: number;
  /** Carried fields the stage's agent reads from earlier stages (its StageInput.previous). */
  readonly needs: readonly CarriedField[];
  /** Carried fields the stage's result may set. */
  readonly yields: readonly CarriedField[];
  /** Of those, the ones kept when the stage rejects the instance: the evidence for the verdict. */
  readonly yieldsOnReject?: readonly CarriedField[];
  /** Builds and tests the repository (its pod gets the sandbox image's cache seeds). */
  readonly runsTests: boolean;
}

export const STAGE_TABLE = [
  {
    name: 'env',
    runsTests: true,
    condition: 'EnvReady',
    phase: 'Env',
    timeoutSeconds: 1800,
    needs: [],
    yields: ['recipe', 'environment'],
  },
  {
    name: 'tests',
    runsTests: true,
    condition: 'TestsReady',
    phase: 'Tests',
    timeoutSeconds: 1800,
    needs: ['recipe', 'environment'],
    yields: ['testsSource', 'generatedTestPatch', 'fullTestPatch', 'FAIL_TO_PASS', 'PASS_TO_PASS'],
  },
  {
    name: 'prompt',
    runsTests: false,
    condition: 'PromptReady',
    phase: 'Prompt',
    timeoutSeconds: 600,
    needs: ['fullTestPatch'],
    yields: ['problemStatement', 'problemStatementSource', 'hintsText', 'statementVerdict'],
  },
  {
    name: 'verify',
    runsTests: true,
    condition: 'Verified',
    phase: 'Verify',
    timeoutSeconds: 1800,
    needs: ['recipe', 'environment', 'testsSource', 'fullTestPatch', 'FAIL_TO_PASS', 'PASS_TO_PASS'],
    // generatedTestPatch / fullTestPatch: tests TestAgent adds against surviving mutants.
    yields: [
      'testsSource',
      'generatedTestPatch',
      'fullTestPatch',
      'FAIL_TO_PASS',
      'PASS_TO_PASS',
      'mutation',
    ],
    yieldsOnReject: ['mutation'],
  },
] as const satisfies readonly StageRow[];

type Row = (typeof STAGE_TABLE)[number];
export type Stage = Row['name'];
export const STAGES = STAGE_TABLE.map((row) => row.name) as [Stage, ...Stage[]];
export const Stage = z.enum(STAGES);

export function stageRow<S extends Stage>(stage: S): Extract<Row, { name: S }> {
  return STAGE_TABLE.find((row) => row.name === stage) as Extract<Row, { name: S }>;
}

/** The carried fields a stage's rejection still records (its row's `yieldsOnReject`). */
export function yieldsOnReject(stage: Stage): readonly CarriedField[] {
  const row: StageRow = stageRow(stage);
  return row.yieldsOnReject ?? [];
}

/** The condition each stage sets True when it succeeds, in pipeline order. */
export const STAGE_CONDITION = Object.fromEntries(STAGE_TABLE.map((r) => [r.name, r.condition])) as {
  [R in Row as R['name']]: R['condition'];
};

type StagePhase = Row['phase'];
export const STAGE_PHASE = Object.fromEntries(STAGE_TABLE.map((r) => [r.name, r.phase])) as Record<
  Stage,
  StagePhase
>;

export const INSTANCE_PHASES = [
  'Pending',
  ...STAGE_TABLE.map((r) => r.phase),
  'Verified',
  'Rejected',
  'Failed',
] as ['Pending', ...StagePhase[], 'Verified', 'Rejected', 'Failed'];
export const InstancePhase = z.enum(INSTANCE_PHASES);
export type InstancePhase = z.infer<typeof InstancePhase>;
export const TERMINAL_PHASES: ReadonlySet<InstancePhase> = new Set(['Verified', 'Rejected', 'Failed']);

/** A zod object with one key per stage, in pipeline order. */
export function perStage<T extends z.ZodType>(field: (stage: Stage) => T): z.ZodObject<Record<Stage, T>> {
  return z.object(Object.fromEntries(STAGES.map((s) => [s, field(s)])) as Record<Stage, T>).strict();
}

export type TimeoutKey = `${Stage}Seconds`;
export function timeoutKey(stage: Stage): TimeoutKey {
  return `${stage}Seconds`;
}

/** spec.agents.timeouts: `<stage>Seconds` per stage, defaults from the table. */
export const StageTimeouts = z
  .object(
    Object.fromEntries(
      STAGE_TABLE.map((r) => [
        timeoutKey(r.name),
        z
          .number()
          .int()
          .min(30)
          .max(86400)
          .default(r.timeoutSeconds)
          .describe(`Seconds one attempt of the ${r.name} stage may run before it fails as DeadlineExceeded`),
      ]),
    ) as Record<TimeoutKey, z.ZodDefault<z.ZodNumber>>,
  )
  .strict();
export type StageTimeouts = z.infer<typeof StageTimeouts>;

export function stageTimeoutSeconds(timeouts: StageTimeouts, stage: Stage): number {
  return timeouts[timeoutKey(stage)];
}
