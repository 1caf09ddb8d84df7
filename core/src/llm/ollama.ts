import {
  type ChatResponse,
  type Message,
  Ollama,
  type ChatRequest as OllamaChatRequest,
  type Options,
} from 'ollama';
import {
  type ChatChunk,
  type ChatRequest,
  type ChatResult,
  type EmbedRequest,
  LlmError,
  type LlmMessage,
  type LlmProvider,
  type LlmToolCall,
} from './provider.ts';

export interface OllamaProviderOptions {
  url: string;
  model: string;
  embedModel?: string | null;
  timeoutMs: number;
}

/**
 * The LLM port on Ollama through its official client. Every call gets its own client whose
 * fetch carries the call's signal (caller's cancel + LLM_TIMEOUT_MS), because the client can
 * only abort streamed requests by itself.
 */
export class OllamaProvider implements LlmProvider {
  readonly kind = 'ollama';
  readonly model: string;
  readonly embedModel: string | null;
  readonly url: string;
  private readonly timeoutMs: number;

  constructor(options: OllamaProviderOptions) {
    this.url = options.url.replace(/\/+$/, '');
    this.model = options.model;
    this.embedModel = options.embedModel ?? null;
    this.timeoutMs = options.timeoutMs;
  }

  async chat(request: ChatRequest): Promise<ChatResult> {
    const call = this.call(request.signal);
    const started = performance.now();
    try {
      const response = await call.client.chat({ ...this.chatRequest(request), stream: false });
      return resultOf(response, performance.now() - started);
    } catch (error) {
      throw this.failure(error, call, request.model ?? this.model);
    } finally {
      call.done();
    }
  }

  async *chatStream(request: ChatRequest): AsyncGenerator<ChatChunk> {
    const call = this.call(request.signal);
    const model = request.model ?? this.model;
    let stream: AsyncIterable<ChatResponse>;
    try {
      stream = await call.client.chat({ ...this.chatRequest(request), stream: true });
    } catch (error) {
      call.done();
      throw this.failure(error, call, model);
    }
    try {
      for await (const part of stream) {
        yield { content: part.message?.content ?? '', done: part.done, toolCalls: toolCallsOf(part.message) };
      }
    } catch (error) {
      throw this.failure(error, call, model);
    } finally {
      // Also when the consumer stops early: the server stops generating when the request closes.
      call.abort();
      call.done();
    }
  }

  async embed(request: EmbedRequest): Promise<number[][]> {
    const model = request.model ?? this.embedModel;
    if (!model)
      throw new LlmError('LLM_NOT_CONFIGURED', 'no embedding model is configured (OLLAMA_EMBED_MODEL)');
    if (request.input.length === 0) return [];
    const call = this.call(request.signal);
    try {
      const response = await call.client.embed({ model, input: request.input });
      return response.embeddings;
    } catch (error) {
      throw this.failure(error, call, model);
    } finally {
      call.done();
    }
  }

  async health(): Promise<void> {
    const call = this.call(undefined, Math.min(this.timeoutMs, 2500));
    let names: Set<string>;
    try {
      const listed = await call.client.list();
      names = new Set(listed.models.flatMap((m) => [m.name, m.model]));
    } catch (error) {
      throw this.failure(error, call, this.model);
    } finally {
      call.done();
    }
    for (const model of [this.model, this.embedModel]) {
      if (model && !names.has(model) && !names.has(`${model}:latest`)) throw missing(model, this.url);
    }
  }

  private chatRequest(request: ChatRequest): OllamaChatRequest {
    const options: Partial<Options> = {};
    if (request.temperature !== undefined) options.temperature = request.temperature;
    if (request.maxTokens !== undefined) options.num_predict = request.maxTokens;
    if (request.seed !== undefined) options.seed = request.seed;
    return {
      model: request.model ?? this.model,
      messages: request.messages.map(messageOf),
      ...(request.format ? { format: request.format } : {}),
      ...(request.tools?.length
        ? {
            tools: request.tools.map((t) => ({
              type: 'function',
              function: { name: t.name, description: t.description, parameters: t.parameters },
            })),
          }
        : {}),
      options,
      // Keep the model loaded between answers: loading it is most of a cold answer's time.
      keep_alive: '30m',
    };
  }

  private call(signal: AbortSignal | undefined, timeoutMs = this.timeoutMs) {
    const controller = new AbortController();
    const timer = setTimeout(() => controller.abort(new LlmError('LLM_TIMEOUT', 'timed out')), timeoutMs);
    const onCancel = () => controller.abort(new LlmError('LLM_CANCELLED', 'cancelled'));
    if (signal?.aborted) onCancel();
    signal?.addEventListener('abort', onCancel, { once: true });
    const combined = controller.signal;
    const client = new Ollama({
      host: this.url,
      fetch: (input, init) =>
        fetch(input, { ...init, signal: init?.signal ? AbortSignal.any([init.signal, combined]) : combined }),
    });
    return {
      client,
      signal: combined,
      timeoutMs,
      abort: () => controller.abort(new LlmError('LLM_CANCELLED', 'stopped by the caller')),
      done: () => {
        clearTimeout(timer);
        signal?.removeEventListener('abort', onCancel);
      },
    };
  }

  private failure(error: unknown, call: { signal: AbortSignal; timeoutMs: number }, model: string): LlmError {
    // The fetch rejects with the abort reason itself: say which limit stopped the call.
    const reason: unknown = call.signal.reason;
    if (call.signal.aborted && reason instanceof LlmError) {
      if (reason.code === 'LLM_TIMEOUT')
        return new LlmError('LLM_TIMEOUT', `Ollama did not answer within ${call.timeoutMs} ms`, {
          cause: error,
        });
      return new LlmError('LLM_CANCELLED', 'the LLM call was cancelled', { cause: error });
    }
    if (error instanceof LlmError) return error;
    const status = (error as { status_code?: number }).status_code;
    const message = error instanceof Error ? error.message : String(error);
    if (status === 404 || /model .*not found|not found, try pulling/i.test(message))
      return missing(model, this.url, error);
    if (status === undefined && error instanceof TypeError)
      return new LlmError('LLM_UNAVAILABLE', `Ollama at ${this.url} is not reachable (${causeOf(error)})`, {
        cause: error,
      });
    return new LlmError('LLM_ERROR', `Ollama failed: ${message}`, { cause: error });
  }
}

function missing(model: string, url: string, cause?: unknown): LlmError {
  return new LlmError(
    'LLM_MODEL_MISSING',
    `model "${model}" is not on the Ollama server at ${url}: run "ollama pull ${model}" there (or create it)`,
    { cause },
  );
}

function causeOf(error: TypeError): string {
  const cause = error.cause as { code?: string; message?: string } | undefined;
  return cause?.code ?? cause?.message ?? error.message;
}

function messageOf(m: LlmMessage): Message {
  const message: Message = { role: m.role, content: m.content };
  if (m.toolCalls?.length)
    message.tool_calls = m.toolCalls.map((c) => ({ function: { name: c.name, arguments: c.arguments } }));
  if (m.toolName) message.tool_name = m.toolName;
  return message;
}

function toolCallsOf(message: Message | undefined): LlmToolCall[] {
  return (message?.tool_calls ?? []).map((c) => ({
    name: c.function.name,
    arguments: (c.function.arguments ?? {}) as Record<string, unknown>,
  }));
}

function resultOf(response: ChatResponse, durationMs: number): ChatResult {
  return {
    content: response.message?.content ?? '',
    toolCalls: toolCallsOf(response.message),
    model: response.model,
    promptTokens: response.prompt_eval_count ?? 0,
    completionTokens: response.eval_count ?? 0,
    durationMs,
  };
}
