import { type Logger, pino } from 'pino';

export type { Logger };

/** JSON logs on stdout; reconcilers add `controller` and `key` through child loggers. */
export function createLogger(opts: { level?: string; name?: string } = {}): Logger {
  return pino({
    name: opts.name ?? 'scaleswe-operator',
    level: opts.level ?? process.env.LOG_LEVEL ?? 'info',
    base: { pid: process.pid },
    timestamp: pino.stdTimeFunctions.isoTime,
  });
}
