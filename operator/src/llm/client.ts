import OpenAI from 'openai';
import type { Trajectory } from '../api/index.ts';
import { ScaleSweError } from '../api/index.ts';
import type { TrajectoryRecorder } from './trajectory.ts';

export type ChatMessage = OpenAI.Chat.Completions.ChatCompletionMessageParam;
export type ChatTool = OpenAI.Chat.Completions.ChatCompletionFunctionTool;
export type ChatCompletion = OpenAI.Chat.Completions.ChatCompletion;
export type ChatRequest = Omit<OpenAI.Chat.Completions.ChatCompletionCreateParamsNonStreaming, 'model'>;

export interface LlmConfig {
  baseURL: string;
  model: string;
  apiKey?: string | undefined;
  /** Total tokens (prompt + completion) this instance may spend in this stage. */
  tokenBudget: number;
  /** Per request. */
  timeoutMs?: number;
  /** Retries on connection errors, 408, 409, 429 and 5xx, with the client's backoff. */
  maxRetries?: number;
}

/** Raised before a request that the budget no longer allows; agents stop with this reason. */
export class TokenBudgetExhausted extends ScaleSweError {
  readonly used: number;
  readonly budget: number;
  constructor(used: number, budget: number) {
    super('TokenBudgetExhausted', `token budget exhausted: used ${used} of ${budget} tokens`);
    this.used = used;
    this.budget = budget;
  }
}

/**
 * The only place that knows the OpenAI client. Any OpenAI-compatible base URL works (the
 * operator's gateway in a sandbox, vLLM, a provider). Every exchange is recorded on the
 * trajectory passed in, and charged to the per-instance token budget.
 */
export class Llm {
  readonly model: string;
  readonly budget: number;
  #used = 0;
  #input = 0;
  #output = 0;
  readonly #client: OpenAI;
  readonly #recorder: TrajectoryRecorder;

  constructor(cfg: LlmConfig, recorder: TrajectoryRecorder) {
    this.model = cfg.model;
    this.budget = cfg.tokenBudget;
    this.#recorder = recorder;
    this.#client = new OpenAI({
      baseURL: cfg.baseURL,
      // A local run hands the key over by environment (never in the stage input on disk);
      // gateways and local servers often need no key, but the client insists on a string.
      apiKey: cfg.apiKey || process.env.SCALESWE_LLM_API_KEY || 'unused',
      timeout: cfg.timeoutMs ?? 300_000,
      maxRetries: cfg.maxRetries ?? 4,
    });
  }

  get tokensUsed(): number {
    return this.#used;
  }

  /** Input (prompt) tokens the provider reported; estimated charges are in tokensUsed only. */
  get inputTokens(): number {
    return this.#input;
  }

  /** Output (completion) tokens the provider reported. */
  get outputTokens(): number {
    return this.#output;
  }

  get tokensLeft(): number {
    return Math.max(0, this.budget - this.#used);
  }

  recorder(): TrajectoryRecorder {
    return this.#recorder;
  }

  async chat(trajectory: Trajectory, req: ChatRequest): Promise<ChatCompletion> {
    if (this.#used >= this.budget) throw new TokenBudgetExhausted(this.#used, this.budget);
    const request = { ...req, model: this.model, stream: false as const };
    const startedAt = new Date();
    const response = await this.#client.chat.completions.create(request);
    const usage = response.usage
      ? {
          prompt_tokens: response.usage.prompt_tokens,
          completion_tokens: response.usage.completion_tokens,
          total_tokens: response.usage.total_tokens,
        }
      : undefined;
    // Servers that omit usage are charged an estimate (4 chars a token) so budgets still bind.
    this.#input += usage?.prompt_tokens ?? 0;
    this.#output += usage?.completion_tokens ?? 0;
    this.#used +=
      usage?.total_tokens ??
      Math.ceil((JSON.stringify(request).length + JSON.stringify(response).length) / 4);
    this.#recorder.add(trajectory, {
      request: structuredClone(request) as unknown as { model: string; messages: unknown[] },
      response: structuredClone(response) as unknown as Record<string, unknown>,
      ...(usage ? { usage } : {}),
      startedAt: startedAt.toISOString(),
      durationMs: Date.now() - startedAt.getTime(),
    });
    return response;
  }
}
