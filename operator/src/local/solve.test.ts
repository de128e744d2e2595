/**
 * The solve stage in local mode on a real Python repository: the instance is curated in this
 * process (env → tests → prompt → verify), its environment kept as a snapshot; then two solve
 * attempts run as sandboxed stage processes against a scripted OpenAI-compatible server behind
 * the run's real LLM gateway — the gold edit (resolved), a wrong edit (F2P still fails), the fix
 * plus a broken PASS_TO_PASS test, and a context-length error (ends cleanly, empty patch) —
 * and each patch is graded in a fresh restore of the environment.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildPythonRepo, type FixtureRepo } from '../../../test/fixtures/repos.ts';
import { runPipeline } from '../../../test/support/in-process-pipeline.ts';
import {
  type ChatRequestBody,
  type OpenAIServer,
  startOpenAIServer,
} from '../../../test/support/openai-server.ts';
import { CurationRunSpec, SWEInstanceSpec } from '../api/index.ts';
import { renderExport } from '../export/export-run.ts';
import { EnvironmentStore, keepEnvironment } from './environments.ts';
import { bwrapAvailable } from './executor.ts';
import { type LocalLlmEndpoint, startLocalLlmGateway } from './llm-gateway.ts';
import { solveLocal } from './solve.ts';
import { type LocalInstance, StateDir } from './state.ts';

let root: string;
let fixture: FixtureRepo;
let verified: LocalInstance;
let server: OpenAIServer | undefined;
let gateway: LocalLlmEndpoint | undefined;

const FILE = 'textutils/__init__.py';
const BUGGY = '    if value < low:\n        return low\n    return value\n';
const edit = (replacement: string) => ({
  toolCalls: [{ name: 'str_replace', arguments: { path: FILE, old_str: BUGGY, new_str: replacement } }],
});
const submit = { toolCalls: [{ name: 'submit', arguments: {} }] };
const PROBE =
  'git rev-parse HEAD; echo refs=$(git for-each-ref | wc -l); echo commits=$(git log --all --format=%H | wc -l); ' +
  'echo added_tests=$(grep -c "def test_clamp_above" tests/test_textutils.py); ' +
  'echo source=$(ls -A "$SOURCE" 2>/dev/null | wc -l); ' +
  'echo caches=$(find . -path ./.venv -prune -o -name .pytest_cache -print | wc -l); ' +
  `(python3 -c "import socket; socket.create_connection(('1.1.1.1', 80), timeout=3)" 2>/dev/null && echo NET-OPEN) || echo NET-BLOCKED`;

/** The content of the tool message answering the assistant's last tool call in a request. */
const lastToolOutput = (request: ChatRequestBody) => String(request.messages.at(-1)?.content ?? '');

beforeAll(async () => {
  root = await mkdtemp(path.join(os.tmpdir(), 'scaleswe-solve-'));
  fixture = await buildPythonRepo(root);
  const workDir = path.join(root, 'curate');
  const { results, status } = await runPipeline(fixture.spec, { verification: { reruns: 1 } }, { workDir });
  expect(status.phase, results.at(-1)?.logTail).toBe('Verified');
  const state = new StateDir(path.join(root, 'state'));
  const spec = SWEInstanceSpec.parse(fixture.spec);
  const kept = await keepEnvironment(
    new EnvironmentStore(state.root),
    { spec, status },
    { workDir: path.join(workDir, 'env') },
    results[0]!,
  );
  expect(kept.environment?.snapshot).toBeDefined();
  verified = { spec, status: { ...status, environment: kept.environment } };
}, 400_000);

afterAll(async () => {
  await gateway?.close();
  await server?.close();
  await rm(root, { recursive: true, force: true });
});

describe('solve stage, local mode', () => {
  it('grades a gold edit resolved and a wrong edit unresolved; status.solve and solves.jsonl follow', async () => {
    server = await startOpenAIServer([
      // Attempt 1: probe the sandbox, view, make the gold edit, submit.
      { toolCalls: [{ name: 'run_command', arguments: { cmd: `SOURCE=${fixture.dir}; ${PROBE}` } }] },
      { toolCalls: [{ name: 'view_file', arguments: { path: FILE, start_line: 1, end_line: 12 } }] },
      edit(
        '    if value < low:\n        return low\n    if value > high:\n        return high\n    return value\n',
      ),
      submit,
      // Attempt 2: a wrong fix (clamps to the wrong bound), submitted.
      edit(
        '    if value < low:\n        return low\n    if value > high:\n        return low\n    return value\n',
      ),
      submit,
      // Attempt 3: the fix, but slugify broken on the way (a PASS_TO_PASS test fails).
      edit(
        '    if value < low:\n        return low\n    if value > high:\n        return high\n    return value\n',
      ),
      {
        toolCalls: [
          {
            name: 'str_replace',
            arguments: { path: FILE, old_str: '"-".join', new_str: '"_".join' },
          },
        ],
      },
      submit,
      // Attempt 4: the conversation outgrows the model's window (the provider's 400).
      { toolCalls: [{ name: 'search', arguments: { pattern: 'def clamp' } }] },
      {
        status: 400,
        type: 'invalid_request_error',
        code: 'context_length_exceeded',
        message:
          "This model's maximum context length is 8192 tokens. However, your messages resulted in 9000 tokens.",
      },
    ]);
    const spec = CurationRunSpec.parse({
      source: { git: { url: fixture.dir } },
      llm: { baseURL: server.baseURL, model: 'solver-1' },
      solve: { attempts: 4, maxTurns: 6, maxTokens: 20_000 },
    });
    gateway = await startLocalLlmGateway(spec.llm!, spec, undefined);
    const state = new StateDir(path.join(root, 'state'));
    await state.saveInstance(verified);
    const solved = await solveLocal(
      {
        spec,
        solve: spec.solve!,
        state,
        store: new EnvironmentStore(state.root),
        llm: gateway,
        isolation: bwrapAvailable() ? 'bwrap' : 'none',
        signal: new AbortController().signal,
      },
      verified,
    );
    expect(server.remaining()).toBe(0);

    // The agent saw the statement, never the test patch; the sandbox has no history past base
    // and no network.
    const first = server.requests[0]!;
    expect(JSON.stringify(first.messages)).toContain(fixture.spec.title!);
    expect(first.tools?.map((t) => t.function.name).sort()).toEqual(
      ['create_file', 'run_command', 'search', 'str_replace', 'submit', 'view_file'].sort(),
    );
    const probe = lastToolOutput(server.requests[1]!);
    expect(probe).toContain(fixture.baseCommit);
    expect(probe).not.toContain(fixture.mergeCommit);
    expect(probe).toMatch(/refs=0\b/);
    expect(probe).toMatch(/commits=1\b/);
    expect(probe).toMatch(/added_tests=0\b/);
    expect(probe).toMatch(/caches=0\b/);
    expect(probe).toMatch(/source=0\b/); // the local source repository (history past base) is hidden
    expect(probe).toContain('NET-BLOCKED');
    expect(lastToolOutput(server.requests[2]!)).toContain('def clamp(value, low, high):');
    expect(lastToolOutput(server.requests[3]!)).toBe(`edited ${FILE}`);

    const attempts = await state.loadSolveAttempts(fixture.spec.instanceId);
    expect(attempts.map((a) => [a.attempt, a.ending, a.grade, a.error])).toEqual([
      [
        1,
        'Submitted',
        { resolved: true, failToPassPassed: 1, failToPassTotal: 1, passToPassBroken: 0, reason: 'Graded' },
        undefined,
      ],
      [
        2,
        'Submitted',
        { resolved: false, failToPassPassed: 0, failToPassTotal: 1, passToPassBroken: 0, reason: 'Graded' },
        undefined,
      ],
      [
        3,
        'Submitted',
        { resolved: false, failToPassPassed: 1, failToPassTotal: 1, passToPassBroken: 1, reason: 'Graded' },
        undefined,
      ],
      // Ended cleanly, not retried: nothing edited, so an empty patch (unresolved, no test run).
      [
        4,
        'ContextExceeded',
        {
          resolved: false,
          failToPassPassed: 0,
          failToPassTotal: 1,
          passToPassBroken: 0,
          reason: 'EmptyPatch',
        },
        undefined,
      ],
    ]);
    expect(lastToolOutput(server.requests.at(-1)!)).toContain(`${FILE}:4:def clamp(value, low, high):`);
    expect(attempts[0]!.patch).toContain('+    if value > high:\n+        return high');
    expect(attempts[0]!.tokensUsed).toBeGreaterThan(0);
    // Input and output apart, as the server reported them through the gateway: what llm.price prices.
    expect(attempts[0]!.inputTokens).toBeGreaterThan(0);
    expect(attempts[0]!.outputTokens).toBeGreaterThan(0);
    expect(attempts[0]!.inputTokens! + attempts[0]!.outputTokens!).toBe(attempts[0]!.tokensUsed);
    expect(attempts[0]!.trajectory?.agent).toBe('SolveAgent');
    expect(solved.status.phase).toBe('Verified');
    expect(solved.status.solve).toEqual({
      attempts: 4,
      resolved: 1,
      solveRate: 0.25,
      k: 4,
      passAtK: 1,
      failedAttempts: 0,
      tokensUsed: attempts.reduce((n, a) => n + a.tokensUsed, 0),
      inputTokens: attempts.reduce((n, a) => n + (a.inputTokens ?? 0), 0),
      outputTokens: attempts.reduce((n, a) => n + (a.outputTokens ?? 0), 0),
    });
    expect((await state.loadInstance(fixture.spec.instanceId))?.status.solve).toEqual(solved.status.solve);

    const run = {
      runName: 'solve',
      source: spec.source,
      discovered: 1,
      rejectedByReason: {},
      instances: [solved],
      trajectories: [],
      solves: attempts,
    };
    const provenance = { exportedAt: new Date(0), version: 'test' };
    const out = await renderExport(run, provenance);
    const lines = out.files.solves
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    expect(lines).toHaveLength(1);
    expect(Object.keys(lines[0]).sort()).toEqual(['messages', 'tools']);
    const calls = lines[0].messages.flatMap(
      (m: { tool_calls?: { function: { name: string } }[] }) =>
        m.tool_calls?.map((c) => c.function.name) ?? [],
    );
    expect(calls).toEqual(['run_command', 'view_file', 'str_replace', 'submit']);
    expect(JSON.parse(out.files.solvesMeta.trim())).toMatchObject({
      instance_id: fixture.spec.instanceId,
      attempt: 1,
      resolved: true,
    });
    expect(JSON.parse(out.files.dataset.trim())).toMatchObject({
      difficulty: 0.25,
      pass_at_k: 1,
      solve_k: 4,
    });
    const all = await renderExport(run, provenance, { allSolves: true });
    expect(
      all.files.solvesMeta
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l))
        .map((m) => [m.attempt, m.resolved, m.ending, m.pass_to_pass_broken]),
    ).toEqual([
      [1, true, 'Submitted', 0],
      [2, false, 'Submitted', 0],
      [3, false, 'Submitted', 1],
      [4, false, 'ContextExceeded', 0],
    ]);
  }, 400_000);
});
