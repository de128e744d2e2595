import {
  findCondition,
  type InstanceRecord,
  STAGE_CONDITION,
  type Stage,
  type Trajectory,
} from '../api/index.ts';

/**
 * One fine-tuning example in OpenAI chat format: only the keys fine-tuning endpoints accept
 * (`messages`, `tools`); its labels go to the side file, line for line.
 */
export interface ChatExample {
  messages: unknown[];
  tools?: unknown[];
}

/** How an agent's tool loop ended, read from its last exchange. */
export type LoopStatus = 'finished' | 'unfinished' | 'error';

/** Where an example came from and how it ended: one line of trajectories.meta.jsonl. */
export interface ExampleLabels {
  instance_id: string;
  stage: string;
  agent: string;
  steps: number;
  total_tokens: number;
  /** The instance's phase at export time (Verified, Rejected, Failed, or still running). */
  instance_phase: string;
  /** The stage's outcome: succeeded, rejected, failed, or pending (not decided yet). */
  stage_outcome: 'succeeded' | 'rejected' | 'failed' | 'pending';
  loop_status: LoopStatus;
  /** The stage's condition reason, or the instance's last error reason for that stage. */
  reason: string;
}

export interface LabelledExample {
  example: ChatExample;
  labels: ExampleLabels;
}

interface ChatMessage {
  role?: string;
  content?: unknown;
  tool_calls?: { function?: { name?: string } }[];
  [key: string]: unknown;
}
interface ChatCompletionLike {
  choices?: { message?: ChatMessage; finish_reason?: string }[];
}

/**
 * Each step's request already carries the whole conversation so far, so one trajectory
 * becomes one example: the last request's messages plus the last response's message, with
 * null-valued keys fine-tuning validators reject (`refusal: null`, …) dropped.
 */
export function toChatExample(trajectory: Trajectory): ChatExample | undefined {
  const last = trajectory.steps.at(-1);
  if (!last) return undefined;
  const reply = (last.response as ChatCompletionLike).choices?.[0]?.message;
  const tools = (last.request as { tools?: unknown[] }).tools;
  const messages = reply === undefined ? [...last.request.messages] : [...last.request.messages, reply];
  return { messages: messages.map(withoutNulls), ...(tools && { tools }) };
}

function withoutNulls(message: unknown): unknown {
  if (message === null || typeof message !== 'object' || Array.isArray(message)) return message;
  return Object.fromEntries(Object.entries(message).filter(([, v]) => v !== null && v !== undefined));
}

/**
 * The loop ended `finished` when its last reply called the agent's `finish` tool (or, for
 * single-shot agents, answered without asking for a tool); `unfinished` when the last reply
 * still asked for tools (turn limit, budget, deadline cut it); `error` when no reply came back.
 */
export function loopStatus(trajectory: Trajectory): LoopStatus {
  const choice = (trajectory.steps.at(-1)?.response as ChatCompletionLike | undefined)?.choices?.[0];
  if (!choice?.message) return 'error';
  const calls = choice.message.tool_calls ?? [];
  if (calls.length === 0) return choice.finish_reason === 'length' ? 'unfinished' : 'finished';
  return calls.some((c) => c.function?.name === 'finish') ? 'finished' : 'unfinished';
}

/** The stage's outcome and reason as the instance's status records them (pure). */
export function stageOutcome(
  instance: InstanceRecord | undefined,
  stage: Stage,
): { outcome: ExampleLabels['stage_outcome']; reason: string } {
  const status = instance?.status;
  const condition = findCondition(status?.conditions, STAGE_CONDITION[stage]);
  if (condition?.status === 'True') return { outcome: 'succeeded', reason: condition.reason };
  if (status?.lastError?.stage === stage && (status.phase === 'Rejected' || status.phase === 'Failed'))
    return { outcome: status.phase === 'Rejected' ? 'rejected' : 'failed', reason: status.lastError.reason };
  return { outcome: 'pending', reason: condition?.reason ?? status?.lastError?.reason ?? '' };
}

/** Statements the prompt stage rejected as leaking the fix: not training data by default. */
const LEAK_REASONS: ReadonlySet<string> = new Set(['StatementLeaksSolution']);

export interface TrajectoryFilter {
  /** Only examples of instances in this phase (`--only verified`). */
  onlyPhase?: 'Verified';
  /** Keep examples whose statement was rejected as leaking (excluded by default). */
  includeLeaked?: boolean;
}

/** Every trajectory as a labelled example, filtered; order kept, so the two files align. */
export function labelledExamples(
  trajectories: readonly Trajectory[],
  instances: readonly InstanceRecord[],
  filter: TrajectoryFilter = {},
): LabelledExample[] {
  const label = exampleLabeller(instances, filter);
  return trajectories.flatMap((t) => label(t) ?? []);
}

/**
 * One trajectory at a time as its labelled example (undefined when it makes none or the filter
 * drops it): the streaming export labels trajectories as it reads them.
 */
export function exampleLabeller(
  instances: readonly InstanceRecord[],
  filter: TrajectoryFilter = {},
): (trajectory: Trajectory) => LabelledExample | undefined {
  const byId = new Map(instances.map((i) => [i.spec.instanceId, i]));
  return (trajectory) => {
    const example = toChatExample(trajectory);
    if (!example) return undefined;
    const instance = byId.get(trajectory.instanceId);
    const phase = instance?.status?.phase ?? 'Pending';
    const { outcome, reason } = stageOutcome(instance, trajectory.stage);
    if (filter.onlyPhase && phase !== filter.onlyPhase) return undefined;
    if (!filter.includeLeaked && trajectory.stage === 'prompt' && LEAK_REASONS.has(reason)) return undefined;
    return {
      example,
      labels: {
        instance_id: trajectory.instanceId,
        stage: trajectory.stage,
        agent: trajectory.agent,
        steps: trajectory.steps.length,
        total_tokens: trajectory.steps.reduce((sum, s) => sum + (s.usage?.total_tokens ?? 0), 0),
        instance_phase: phase,
        stage_outcome: outcome,
        loop_status: loopStatus(trajectory),
        reason,
      },
    };
  };
}
