import { afterEach, describe, expect, it } from 'vitest';
import { type OpenAIServer, startOpenAIServer } from '../../../test/support/openai-server.ts';
import { runToolLoop } from '../agents/tool-loop.ts';
import { Llm, TokenBudgetExhausted } from './client.ts';
import { TrajectoryRecorder } from './trajectory.ts';

let server: OpenAIServer | undefined;
afterEach(async () => {
  await server?.close();
  server = undefined;
});

function llmFor(s: OpenAIServer, tokenBudget = 100_000) {
  const recorder = new TrajectoryRecorder('acme__widgets-7', 'env');
  return {
    recorder,
    llm: new Llm(
      { baseURL: s.baseURL, model: 'test-model', apiKey: 'k', tokenBudget, maxRetries: 2 },
      recorder,
    ),
  };
}

describe('Llm', () => {
  it('retries 429 and 5xx, then records the exchange in OpenAI chat format with usage', async () => {
    server = await startOpenAIServer([
      { status: 429 },
      { status: 503 },
      { content: 'hello', usage: { prompt_tokens: 11, completion_tokens: 3 } },
    ]);
    const { llm, recorder } = llmFor(server);
    const t = recorder.start('PromptAgent');
    const reply = await llm.chat(t, { messages: [{ role: 'user', content: 'hi' }] });
    expect(reply.choices[0]?.message.content).toBe('hello');
    expect(server.requests).toHaveLength(3);
    expect(llm.tokensUsed).toBe(14);
    expect([llm.inputTokens, llm.outputTokens]).toEqual([11, 3]);
    const [traj] = recorder.all();
    expect(traj).toMatchObject({ instanceId: 'acme__widgets-7', stage: 'env', agent: 'PromptAgent' });
    expect(traj!.steps).toHaveLength(1);
    expect(traj!.steps[0]!.request).toMatchObject({
      model: 'test-model',
      messages: [{ role: 'user', content: 'hi' }],
    });
    expect(traj!.steps[0]!.usage).toEqual({ prompt_tokens: 11, completion_tokens: 3, total_tokens: 14 });
  });

  it('gives up after maxRetries with the server error', async () => {
    server = await startOpenAIServer([
      { status: 500 },
      { status: 500 },
      { status: 500 },
      { content: 'late' },
    ]);
    const { llm, recorder } = llmFor(server);
    await expect(
      llm.chat(recorder.start('X'), { messages: [{ role: 'user', content: 'hi' }] }),
    ).rejects.toThrow(/500/);
    expect(server.requests).toHaveLength(3);
  });

  it('stops at the token budget, charging an estimate when the server omits usage', async () => {
    server = await startOpenAIServer([{ content: 'a'.repeat(400), noUsage: true }, { content: 'never' }]);
    const { llm, recorder } = llmFor(server, 50);
    const t = recorder.start('X');
    await llm.chat(t, { messages: [{ role: 'user', content: 'hi' }] });
    expect(llm.tokensUsed).toBeGreaterThan(50);
    // An estimate has no input/output split: nothing is priced that the provider did not report.
    expect([llm.inputTokens, llm.outputTokens]).toEqual([0, 0]);
    await expect(llm.chat(t, { messages: [{ role: 'user', content: 'again' }] })).rejects.toBeInstanceOf(
      TokenBudgetExhausted,
    );
    expect(server.requests).toHaveLength(1);
  });
});

describe('runToolLoop', () => {
  it('feeds tool results back as tool messages and ends on a finishing tool', async () => {
    server = await startOpenAIServer([
      { content: 'let me look', toolCalls: [{ name: 'echo', arguments: { text: 'ping' } }] },
      { content: 'no tools this time' },
      {
        toolCalls: [
          { name: 'nope', arguments: {} },
          { name: 'finish', arguments: { answer: 42 } },
        ],
      },
    ]);
    const { llm, recorder } = llmFor(server);
    const out = await runToolLoop<number>({
      llm,
      agent: 'EnvAgent',
      system: 'sys',
      user: 'task',
      maxTurns: 5,
      tools: [
        {
          name: 'echo',
          description: 'echo',
          parameters: { type: 'object' },
          run: async (a) => `echo:${String(a.text)}`,
        },
        {
          name: 'finish',
          description: 'end',
          parameters: { type: 'object' },
          run: async (a) => ({ done: Number(a.answer) }),
        },
      ],
    });
    expect(out).toEqual({ status: 'done', value: 42, turns: 3 });
    const second = server.requests[1]!;
    expect(second.tools?.map((t) => t.function.name)).toEqual(['echo', 'finish']);
    expect(second.messages.at(-1)).toEqual({ role: 'tool', tool_call_id: 'call_1_0', content: 'echo:ping' });
    const third = server.requests[2]!;
    expect(third.messages.at(-1)).toMatchObject({ role: 'user' });
    expect(recorder.all()[0]!.steps).toHaveLength(3);
  });

  it('reports maxTurns and budget exhaustion', async () => {
    server = await startOpenAIServer([
      { toolCalls: [{ name: 'echo', arguments: {} }], usage: { prompt_tokens: 10, completion_tokens: 10 } },
      { toolCalls: [{ name: 'echo', arguments: {} }], usage: { prompt_tokens: 10, completion_tokens: 10 } },
    ]);
    const tools = [{ name: 'echo', description: '', parameters: { type: 'object' }, run: async () => 'ok' }];
    const a = llmFor(server);
    expect(
      await runToolLoop({ llm: a.llm, agent: 'A', system: 's', user: 'u', tools, maxTurns: 1 }),
    ).toMatchObject({
      status: 'maxTurns',
    });
    const b = llmFor(server, 15);
    expect(
      await runToolLoop({ llm: b.llm, agent: 'A', system: 's', user: 'u', tools, maxTurns: 5 }),
    ).toMatchObject({
      status: 'budget',
      turns: 1,
    });
  });
});
