import { spawn } from 'node:child_process';

export interface ExecResult {
  code: number;
  /** stdout and stderr interleaved as they arrived (truncated in the middle when huge). */
  output: string;
  timedOut: boolean;
  durationMs: number;
}

export interface ExecOptions {
  cwd: string;
  timeoutMs: number;
  env?: Record<string, string | undefined>;
  input?: string;
  /** Keep at most this many characters (head + tail). Test parsers need the tail. */
  maxChars?: number;
}

const DEFAULT_MAX = 8 * 1024 * 1024;

/**
 * Runs `bash -c cmd` in its own process group so a timeout kills the whole tree
 * (pip, npm and test runners spawn children that would otherwise outlive us).
 */
export function sh(cmd: string, opts: ExecOptions): Promise<ExecResult> {
  const started = Date.now();
  const max = opts.maxChars ?? DEFAULT_MAX;
  return new Promise((resolve) => {
    const child = spawn('bash', ['-c', cmd], {
      cwd: opts.cwd,
      env: { ...process.env, ...opts.env } as NodeJS.ProcessEnv,
      detached: true,
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let head = '';
    let tail = '';
    let dropped = 0;
    const headMax = Math.floor(max / 4);
    const tailMax = max - headMax;
    const onData = (chunk: Buffer) => {
      let s = chunk.toString('utf8');
      if (head.length < headMax) {
        const take = headMax - head.length;
        head += s.slice(0, take);
        s = s.slice(take);
        if (!s) return;
      }
      tail += s;
      // Trim lazily (at twice the limit) to keep appends cheap.
      if (tail.length > tailMax * 2) {
        dropped += tail.length - tailMax;
        tail = tail.slice(tail.length - tailMax);
      }
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', onData);
    let timedOut = false;
    let done = false;
    // A killed tree, or a command that left a background process holding our pipes, may never
    // emit 'close': give it a grace period, then stop reading and return anyway.
    const abandon = (code: number) => {
      setTimeout(() => {
        if (done) return;
        killGroup(child.pid);
        child.stdout.destroy();
        child.stderr.destroy();
        finish(code);
      }, 3000).unref();
    };
    const timer = setTimeout(() => {
      timedOut = true;
      killGroup(child.pid);
      abandon(137);
    }, opts.timeoutMs);
    child.on('exit', (code, signal) => abandon(code ?? (signal ? 137 : 1)));
    child.stdin.on('error', () => {});
    child.stdin.end(opts.input ?? '');
    const finish = (code: number) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      if (tail.length > tailMax) {
        dropped += tail.length - tailMax;
        tail = tail.slice(tail.length - tailMax);
      }
      const output = dropped > 0 ? `${head}\n…[${dropped} chars truncated]…\n${tail}` : head + tail;
      resolve({ code, output, timedOut, durationMs: Date.now() - started });
    };
    child.on('error', (err) => {
      onData(Buffer.from(String(err)));
      finish(127);
    });
    child.on('close', (code, signal) => finish(code ?? (signal ? 137 : 1)));
  });
}

function killGroup(pid: number | undefined): void {
  if (pid === undefined) return;
  try {
    process.kill(-pid, 'SIGKILL');
  } catch {
    // already gone
  }
}

/** Head and tail of a long text, for LLM tool results and log tails. */
export function truncateMiddle(text: string, maxChars: number): string {
  if (text.length <= maxChars) return text;
  const half = Math.floor(maxChars / 2);
  return `${text.slice(0, half)}\n…[${text.length - maxChars} chars truncated]…\n${text.slice(-half)}`;
}

/** Last `n` lines, for StageResult.logTail. */
export function lastLines(text: string, n: number, maxChars = 4000): string {
  const lines = text.trimEnd().split('\n');
  return truncateMiddle(lines.slice(-n).join('\n'), maxChars);
}

export function shellQuote(s: string): string {
  return `'${s.replace(/'/g, `'\\''`)}'`;
}
