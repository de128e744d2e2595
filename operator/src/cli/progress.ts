import cliProgress from 'cli-progress';
import { STAGES, type Stage } from '../api/index.ts';
import type { RunEvent } from '../local/run.ts';
import {
  applyProgressEvent,
  initialProgress,
  progressSnapshot,
  stageLine,
  summaryLine,
} from './progress-model.ts';

export interface ProgressView {
  onEvent(event: RunEvent): void;
  stop(): void;
}

/** Plain log lines: for pipes, CI and files. */
export function plainProgress(write: (line: string) => void): ProgressView {
  return {
    onEvent(event) {
      switch (event.type) {
        case 'mined':
          write(
            `mined: ${event.discovered} PRs discovered, ${event.instances} instances, ${event.rejected} rejected${event.exhausted ? ' (done)' : ''}`,
          );
          break;
        case 'stage-start':
          write(`${event.instanceId}: ${event.stage} started (attempt ${event.attempt})`);
          break;
        case 'stage-end':
          write(
            `${event.instanceId}: ${event.stage} ${event.ok ? 'finished' : 'failed'}: ${event.reason} (${(event.durationMs / 1000).toFixed(1)}s)`,
          );
          break;
        case 'retry':
          write(
            `${event.instanceId}: ${event.stage} failed (${event.reason}); retrying after ${event.retryAfter}`,
          );
          break;
        case 'solve-attempt':
          write(
            `${event.instanceId}: solve attempt ${event.attempt}/${event.of} ${event.resolved === undefined ? `failed (${event.reason})` : `${event.resolved ? 'resolved' : 'unresolved'} (${event.reason})`}`,
          );
          break;
        case 'suspended':
          write('run is suspended (spec.suspend: true): nothing is mined or started');
          break;
        case 'instance-done':
          write(
            `${event.instanceId}: ${event.phase}${event.reason ? ` (${event.reason}${event.stage ? ` at ${event.stage}` : ''})` : ''}${event.resumed ? ' [earlier run]' : ''}`,
          );
          break;
      }
    },
    stop() {},
  };
}

/** One bar per stage (settled / still needed, who runs) and a summary line, redrawn each second. */
export function ttyProgress(now: () => number = Date.now): ProgressView {
  const multibar = new cliProgress.MultiBar(
    { clearOnComplete: false, hideCursor: true, format: ' {label} [{bar}] {counts} {info}' },
    cliProgress.Presets.shades_classic,
  );
  const state = initialProgress(now());
  const bars = new Map<Stage, cliProgress.SingleBar>();
  for (const stage of STAGES)
    bars.set(stage, multibar.create(1, 0, { label: stage.padEnd(7), counts: '-/-', info: '' }));
  const summary = multibar.create(0, 0, { summary: '' }, { format: ' {summary}' });
  const refresh = () => {
    const snap = progressSnapshot(state, now());
    for (const p of snap.stages) {
      const { counts, info } = stageLine(p, snap.mined);
      // An empty bar until there is something to do (a 0/0 bar draws full).
      const bar = bars.get(p.stage);
      bar?.setTotal(Math.max(p.need, 1));
      bar?.update(p.need === 0 ? 0 : p.done, { counts, info });
    }
    summary.update(0, { summary: summaryLine(snap) });
  };
  const timer = setInterval(refresh, 1000);
  timer.unref();
  refresh();
  return {
    onEvent(event) {
      applyProgressEvent(state, event);
      refresh();
    },
    stop() {
      clearInterval(timer);
      refresh();
      multibar.stop();
    },
  };
}
