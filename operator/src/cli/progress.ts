import cliProgress from 'cli-progress';
import { STAGES, type Stage } from '../api/index.ts';
import type { RunEvent } from '../local/run.ts';

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
        case 'suspended':
          write('run is suspended (spec.suspend: true): nothing is mined or started');
          break;
        case 'instance-done':
          write(`${event.instanceId}: ${event.phase}${event.reason ? ` (${event.reason})` : ''}`);
          break;
      }
    },
    stop() {},
  };
}

/** One bar per stage plus a line of counts by phase and rejects by reason. */
export function ttyProgress(): ProgressView {
  const multibar = new cliProgress.MultiBar(
    { clearOnComplete: false, hideCursor: true, format: ' {label} [{bar}] {value}/{total} {info}' },
    cliProgress.Presets.shades_classic,
  );
  const bars = new Map<Stage, cliProgress.SingleBar>();
  for (const stage of STAGES) bars.set(stage, multibar.create(0, 0, { label: stage.padEnd(7), info: '' }));
  const summary = multibar.create(0, 0, { label: 'phases ', info: '' }, { format: ' {label} {info}' });
  const running = new Map<Stage, number>();
  const done = new Map<Stage, number>();
  const phases: Record<string, number> = {};
  const reasons: Record<string, number> = {};
  let total = 0;
  const refresh = () => {
    for (const stage of STAGES) bars.get(stage)?.setTotal(total);
    const byPhase = Object.entries(phases)
      .map(([p, n]) => `${p}=${n}`)
      .join(' ');
    const byReason = Object.entries(reasons)
      .map(([r, n]) => `${r}=${n}`)
      .join(' ');
    summary.update(0, { info: `${byPhase}${byReason ? ` | rejected: ${byReason}` : ''}` });
  };
  return {
    onEvent(event) {
      if (event.type === 'mined') {
        total = event.instances;
      } else if (event.type === 'stage-start') {
        running.set(event.stage, (running.get(event.stage) ?? 0) + 1);
        bars.get(event.stage)?.update({ info: `${running.get(event.stage)} running` });
      } else if (event.type === 'stage-end') {
        const now = (running.get(event.stage) ?? 1) - 1;
        running.set(event.stage, now);
        if (event.ok) done.set(event.stage, (done.get(event.stage) ?? 0) + 1);
        bars.get(event.stage)?.update(done.get(event.stage) ?? 0, { info: now > 0 ? `${now} running` : '' });
      } else if (event.type === 'instance-done') {
        phases[event.phase] = (phases[event.phase] ?? 0) + 1;
        if (event.reason && event.phase !== 'Verified')
          reasons[event.reason] = (reasons[event.reason] ?? 0) + 1;
      }
      refresh();
    },
    stop() {
      multibar.stop();
    },
  };
}
