import { mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { sh, truncateMiddle } from './exec.ts';
import type { Tool } from './tool-loop.ts';

const TOOL_OUTPUT_CHARS = 12_000;

export interface WorkspaceTools {
  tools: Tool[];
  /** Workspace-relative paths written through write_file, in order. */
  written: string[];
}

/** Resolves a model-supplied path inside the workspace; refuses escapes. */
export function insideWorkspace(root: string, p: string): string {
  const abs = path.resolve(root, p);
  if (abs !== root && !abs.startsWith(`${root}${path.sep}`))
    throw new Error(`path ${p} is outside the workspace`);
  if (abs === path.join(root, '.git') || abs.startsWith(path.join(root, '.git') + path.sep)) {
    throw new Error('the .git directory is off limits');
  }
  return abs;
}

/** run_command, read_file, write_file, list_dir — all confined to the workspace. */
/** Writes a file inside the workspace (parents created); returns its path relative to it. */
export async function writeWorkspaceFile(root: string, p: string, content: string): Promise<string> {
  const abs = insideWorkspace(root, p);
  await mkdir(path.dirname(abs), { recursive: true });
  await writeFile(abs, content);
  return path.relative(root, abs);
}

export function workspaceTools(
  root: string,
  opts: { maxTimeoutSeconds: number; env?: Record<string, string> },
): WorkspaceTools {
  const written: string[] = [];
  const tools: Tool[] = [
    {
      name: 'run_command',
      description: 'Run a bash command in the repository root. Output (stdout+stderr) is truncated.',
      parameters: {
        type: 'object',
        properties: {
          cmd: { type: 'string' },
          timeout: { type: 'integer', description: 'seconds', minimum: 1 },
        },
        required: ['cmd'],
      },
      async run(args) {
        const cmd = String(args.cmd ?? '');
        const timeout = Math.min(Number(args.timeout) || opts.maxTimeoutSeconds, opts.maxTimeoutSeconds);
        const r = await sh(cmd, { cwd: root, timeoutMs: timeout * 1000, env: opts.env ?? {} });
        const status = r.timedOut ? `timed out after ${timeout}s` : `exit code ${r.code}`;
        return `${status}\n${truncateMiddle(r.output, TOOL_OUTPUT_CHARS)}`;
      },
    },
    {
      name: 'read_file',
      description: 'Read a text file of the repository.',
      parameters: { type: 'object', properties: { path: { type: 'string' } }, required: ['path'] },
      async run(args) {
        return truncateMiddle(
          await readFile(insideWorkspace(root, String(args.path)), 'utf8'),
          TOOL_OUTPUT_CHARS,
        );
      },
    },
    {
      name: 'write_file',
      description: 'Create or overwrite a file of the repository with the given content.',
      parameters: {
        type: 'object',
        properties: { path: { type: 'string' }, content: { type: 'string' } },
        required: ['path', 'content'],
      },
      async run(args) {
        const rel = await writeWorkspaceFile(root, String(args.path), String(args.content ?? ''));
        if (!written.includes(rel)) written.push(rel);
        return `wrote ${rel}`;
      },
    },
    {
      name: 'list_dir',
      description: 'List a directory of the repository (directories end with /).',
      parameters: { type: 'object', properties: { path: { type: 'string' } } },
      async run(args) {
        const abs = insideWorkspace(root, String(args.path ?? '.'));
        const entries = await readdir(abs, { withFileTypes: true });
        return entries
          .filter((e) => e.name !== '.git')
          .map((e) => (e.isDirectory() ? `${e.name}/` : e.name))
          .sort()
          .join('\n');
      },
    },
  ];
  return { tools, written };
}
