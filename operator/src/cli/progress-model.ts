import { STAGES, type Stage } from '../api/index.ts';
import type { RunEvent } from '../local/run.ts';

/**
 * What the progress view shows, folded from run events: per stage, how many instances it has
 * settled out of those that still need it (an instance rejected at `tests` no longer needs
 * `prompt` or `verify`), who is running, rejects by reason, elapsed time and an ETA.
 */
export interface ProgressState {
  startedAt: number;
  mined: boolean;
  instances: number;
  miningRejected: number;
  /** Per instance: stages settled (succeeded, or ended the instance there). */
  settled: Map<string, Set<Stage>>;
  /** Per instance: the stage it stopped at, once finished (null: Verified). */
  ended: Map<string, Stage | null>;
  /** Per instance: the stage it is running now. */
  running: Map<string, Stage>;
  phases: Record<string, number>;
  rejects: Record<string, number>;
  /** Instances finished by this run (for the ETA; resumed ones cost nothing now). */
  finishedHere: number;
}

export function initialProgress(now: number): ProgressState {
  return {
    startedAt: now,
    mined: false,
    instances: 0,
    miningRejected: 0,
    settled: new Map(),
    ended: new Map(),
    running: new Map(),
    phases: {},
    rejects: {},
    finishedHere: 0,
  };
}

const inc = (counts: Record<string, number>, key: string) => {
  counts[key] = (counts[key] ?? 0) + 1;
};

/** Folds one event into the state (mutates it: the view keeps one). */
export function applyProgressEvent(state: ProgressState, event: RunEvent): void {
  switch (event.type) {
    case 'mined':
      state.mined = true;
      state.instances = event.instances;
      state.miningRejected = event.rejected;
      break;
    case 'stage-start':
      state.running.set(event.instanceId, event.stage);
      break;
    case 'stage-end': {
      state.running.delete(event.instanceId);
      if (!event.ok) break;
      const settled = state.settled.get(event.instanceId) ?? new Set<Stage>();
      settled.add(event.stage);
      state.settled.set(event.instanceId, settled);
      break;
    }
    case 'instance-done': {
      state.running.delete(event.instanceId);
      if (state.ended.has(event.instanceId)) break;
      state.ended.set(event.instanceId, event.stage ?? null);
      inc(state.phases, event.phase);
      if (event.phase !== 'Verified' && event.reason) inc(state.rejects, event.reason);
      if (!event.resumed) state.finishedHere++;
      break;
    }
  }
}

export interface StageProgress {
  stage: Stage;
  /** Instances this stage has settled. */
  done: number;
  /** Instances that need this stage: all, less those that ended at an earlier stage. */
  need: number;
  running: string[];
}

export interface ProgressSnapshot {
  mined: boolean;
  stages: StageProgress[];
  instances: number;
  finished: number;
  miningRejected: number;
  phases: Record<string, number>;
  rejects: Record<string, number>;
  elapsedMs: number;
  /** Unknown until this run finished an instance. */
  etaMs: number | undefined;
}

export function progressSnapshot(state: ProgressState, now: number): ProgressSnapshot {
  const order = (s: Stage) => STAGES.indexOf(s);
  const stages = STAGES.map((stage) => {
    let done = 0;
    let need = state.instances;
    for (const endedAt of state.ended.values()) {
      // Ended before this stage: never needs it. Otherwise the stage is settled for it.
      if (endedAt !== null && order(endedAt) < order(stage)) need--;
      else done++;
    }
    for (const [id, settled] of state.settled) if (settled.has(stage) && !state.ended.has(id)) done++;
    const running = [...state.running].filter(([, s]) => s === stage).map(([id]) => id);
    return { stage, done: Math.min(done, need), need, running };
  });
  const finished = state.ended.size;
  const elapsedMs = now - state.startedAt;
  const left = state.instances - finished;
  const etaMs =
    state.finishedHere > 0 && state.mined ? Math.round((elapsedMs / state.finishedHere) * left) : undefined;
  return {
    mined: state.mined,
    stages,
    instances: state.instances,
    finished,
    miningRejected: state.miningRejected,
    phases: { ...state.phases },
    rejects: { ...state.rejects },
    elapsedMs,
    etaMs,
  };
}

/** 75 s → "1m15s"; 3,725 s → "1h02m". */
export function formatDuration(ms: number): string {
  const s = Math.round(ms / 1000);
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s`;
  return `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, '0')}m`;
}

/** One bar's text fields: the counts, and who runs (at most two names, then "+N"). */
export function stageLine(p: StageProgress, mined: boolean): { counts: string; info: string } {
  const counts = mined ? `${p.done}/${p.need}` : '-/-';
  const names = p.running.slice(0, 2).join(', ');
  const more = p.running.length > 2 ? ` +${p.running.length - 2}` : '';
  return { counts, info: p.running.length ? `running: ${names}${more}` : '' };
}

/** The line under the bars: time, phases, rejects at mining and in the pipeline. */
export function summaryLine(s: ProgressSnapshot): string {
  const time = `elapsed ${formatDuration(s.elapsedMs)}${s.etaMs !== undefined && s.finished < s.instances ? `, ETA ${formatDuration(s.etaMs)}` : ''}`;
  if (!s.mined) return `${time} | mining…`;
  const phases = Object.entries(s.phases)
    .map(([p, n]) => `${p}=${n}`)
    .join(' ');
  const rejects = Object.entries(s.rejects)
    .map(([r, n]) => `${r}=${n}`)
    .join(' ');
  return [
    time,
    `${s.finished}/${s.instances} finished${phases ? ` (${phases})` : ''}`,
    `mining rejected ${s.miningRejected} PRs`,
    ...(rejects ? [`rejected: ${rejects}`] : []),
  ].join(' | ');
}
