import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import type { StageInput } from '../api/index.ts';
import { Llm } from '../llm/client.ts';
import { TrajectoryRecorder } from '../llm/trajectory.ts';
import { lastLines } from './exec.ts';

/** Structural subset of a pino logger, so callers can pass theirs (or nothing). */
export interface AgentLog {
  info(msg: string): void;
  warn(msg: string): void;
}

const silent: AgentLog = { info() {}, warn() {} };

/** Everything one stage run needs; built by runStage, shared by the agents. */
export class StageContext {
  readonly input: StageInput;
  readonly workDir: string;
  readonly log: AgentLog;
  readonly recorder: TrajectoryRecorder;
  readonly llm: Llm | undefined;
  /** Output of the last commands, newest last, for StageResult.logTail. */
  #tail = '';
  #runs = 0;

  constructor(input: StageInput, workDir: string, log?: AgentLog) {
    this.input = input;
    this.workDir = workDir;
    this.log = log ?? silent;
    this.recorder = new TrajectoryRecorder(input.instance.instanceId, input.stage);
    const llm = input.config.llm;
    this.llm = llm
      ? new Llm(
          { baseURL: llm.baseURL, model: llm.model, apiKey: llm.apiKey, tokenBudget: llm.tokenBudget },
          this.recorder,
        )
      : undefined;
  }

  get commandTimeoutMs(): number {
    return this.input.config.commandTimeoutSeconds * 1000;
  }

  get testTimeoutMs(): number {
    return this.input.config.testTimeoutSeconds * 1000;
  }

  /** A fresh directory under workDir for a workspace or scratch files. */
  async dir(name: string): Promise<string> {
    const d = path.join(this.workDir, `${name}-${++this.#runs}`);
    await mkdir(path.dirname(d), { recursive: true });
    return d;
  }

  remember(label: string, output: string): void {
    this.#tail = lastLines(`${this.#tail}\n==> ${label}\n${lastLines(output, 60)}`, 120, 8000);
  }

  get logTail(): string {
    return this.#tail.trim();
  }
}
