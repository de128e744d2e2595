import type { Stage, Trajectory, TrajectoryStep } from '../api/index.ts';

/**
 * Collects every LLM exchange of one stage run, one Trajectory per agent run, in OpenAI
 * chat format (request as sent, response as received, usage) for fine-tuning exports.
 */
export class TrajectoryRecorder {
  readonly instanceId: string;
  readonly stage: Stage;
  readonly #trajectories: Trajectory[] = [];

  constructor(instanceId: string, stage: Stage) {
    this.instanceId = instanceId;
    this.stage = stage;
  }

  /** Starts the trajectory of one agent run; steps are appended as they happen. */
  start(agent: string): Trajectory {
    const t: Trajectory = { instanceId: this.instanceId, stage: this.stage, agent, steps: [] };
    this.#trajectories.push(t);
    return t;
  }

  add(t: Trajectory, step: TrajectoryStep): void {
    t.steps.push(step);
  }

  /** Trajectories with at least one exchange. */
  all(): Trajectory[] {
    return this.#trajectories.filter((t) => t.steps.length > 0);
  }
}
