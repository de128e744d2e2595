import { gunzipSync, gzipSync } from 'node:zlib';
import { type Stage, type Trajectory, TrajectoryStep } from '../api/index.ts';

/**
 * The gateway's trajectories live in the cluster: one ConfigMap per (instance, stage,
 * attempt) whose `steps` key holds every exchange, gzip + base64. A ConfigMap is limited to
 * 1 MiB, so payloads stay under MAX_PAYLOAD_BYTES by dropping the oldest steps (each request
 * carries the whole conversation so far, so the newest steps lose the least); what was
 * dropped is counted in the payload and an annotation.
 */
export const MAX_PAYLOAD_BYTES = 900 * 1024;
export const TRAJECTORY_KEY = 'steps.json.gz.b64';
export const LABEL_TRAJECTORY = 'scaleswe.dev/trajectory';
export const ANNOTATION_DROPPED = 'scaleswe.dev/dropped-steps';

export interface TrajectoryPayload {
  instanceId: string;
  stage: Stage;
  attempt: number;
  droppedSteps: number;
  steps: TrajectoryStep[];
}

function pack(payload: TrajectoryPayload): string {
  return gzipSync(JSON.stringify(payload)).toString('base64');
}

/** Pure: the encoded payload, oldest steps dropped until it fits in `maxBytes`. */
export function encodeTrajectory(
  payload: TrajectoryPayload,
  maxBytes = MAX_PAYLOAD_BYTES,
): { data: string; payload: TrajectoryPayload } {
  let current = payload;
  let data = pack(current);
  while (data.length > maxBytes && current.steps.length > 0) {
    // Drop about the share that is too much (at least one step) per round.
    const excess = Math.max(1, Math.ceil((current.steps.length * (data.length - maxBytes)) / data.length));
    const drop = Math.min(current.steps.length, excess);
    current = {
      ...current,
      droppedSteps: current.droppedSteps + drop,
      steps: current.steps.slice(drop),
    };
    data = pack(current);
  }
  return { data, payload: current };
}

/** The payload of a trajectory ConfigMap's data; undefined for anything corrupt. */
export function decodeTrajectory(data: string | undefined): TrajectoryPayload | undefined {
  return data ? decodeTrajectoryBytes(Buffer.from(data, 'base64')) : undefined;
}

/** With a dataset store: the payload as an object of its own (gzip JSON; no 1 MiB limit, nothing dropped). */
export function encodeTrajectoryBytes(payload: TrajectoryPayload): Buffer {
  return gzipSync(JSON.stringify(payload));
}

/** The payload of a stored trajectory object; undefined for anything corrupt. */
export function decodeTrajectoryBytes(gzipped: Uint8Array): TrajectoryPayload | undefined {
  try {
    const raw = JSON.parse(gunzipSync(gzipped).toString('utf8')) as TrajectoryPayload;
    if (!Array.isArray(raw.steps)) return undefined;
    const steps = raw.steps.flatMap((s) => {
      const parsed = TrajectoryStep.safeParse(s);
      return parsed.success ? [parsed.data] : [];
    });
    return { ...raw, droppedSteps: raw.droppedSteps ?? 0, steps };
  } catch {
    return undefined;
  }
}

const STAGE_AGENT: Record<string, string> = {
  env: 'EnvAgent',
  tests: 'TestAgent',
  prompt: 'PromptAgent',
  verify: 'VerifyAgent',
};

/**
 * Pure: one stage's exchanges as trajectories. A stage may run several agents (PromptAgent,
 * then the leak judge); each conversation starts with its own first message, so steps are
 * grouped by it, in order of first appearance.
 */
export function trajectoriesOf(payload: TrajectoryPayload): Trajectory[] {
  const groups = new Map<string, TrajectoryStep[]>();
  for (const step of payload.steps) {
    const head = JSON.stringify(step.request.messages[0] ?? null);
    const group = groups.get(head) ?? [];
    group.push(step);
    groups.set(head, group);
  }
  const base = STAGE_AGENT[payload.stage] ?? payload.stage;
  return [...groups.values()].map((steps, i) => ({
    instanceId: payload.instanceId,
    stage: payload.stage,
    agent: i === 0 ? base : `${base}#${i + 1}`,
    steps,
  }));
}
