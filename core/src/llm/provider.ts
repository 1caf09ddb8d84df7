import { AtriumError } from '../kernel/errors.ts';

/** A JSON schema, as Ollama's `format` and tool `parameters` take it. */
export type JsonSchema = Record<string, unknown>;

export interface LlmToolCall {
  name: string;
  arguments: Record<string, unknown>;
}

export interface LlmMessage {
  role: 'system' | 'user' | 'assistant' | 'tool';
  content: string;
  /** On an assistant message: the tools the model asked for. */
  toolCalls?: LlmToolCall[];
  /** On a tool message: which tool's result this is. */
  toolName?: string;
}

/** A tool the model may ask for; calling it is the caller's decision, never the model's. */
export interface LlmTool {
  name: string;
  description: string;
  parameters: JsonSchema;
}

export interface ChatRequest {
  messages: LlmMessage[];
  /** Defaults to the provider's chat model (OLLAMA_MODEL). */
  model?: string;
  /** `'json'` for any JSON object, or a JSON schema the answer must follow (structured output). */
  format?: 'json' | JsonSchema;
  tools?: LlmTool[];
  temperature?: number;
  /** Most tokens to generate. */
  maxTokens?: number;
  seed?: number;
  /** Cancels the call; the provider also aborts it after LLM_TIMEOUT_MS. */
  signal?: AbortSignal;
}

/** One piece of a streamed answer: new text, and on the last piece the totals. */
export interface ChatChunk {
  content: string;
  done: boolean;
  toolCalls: LlmToolCall[];
}

export interface ChatResult {
  content: string;
  toolCalls: LlmToolCall[];
  model: string;
  promptTokens: number;
  completionTokens: number;
  durationMs: number;
}

export interface EmbedRequest {
  input: string[];
  /** Defaults to the provider's embedding model (OLLAMA_EMBED_MODEL). */
  model?: string;
  signal?: AbortSignal;
}

/**
 * The port every LLM use goes through (the assistant, agent assist). One adapter today: Ollama.
 * Failures are `LlmError`s with a code, never a bare network error.
 */
export interface LlmProvider {
  readonly kind: string;
  /** The chat model answers come from. */
  readonly model: string;
  /** The embedding model, or null when none is configured (then retrieval is full-text only). */
  readonly embedModel: string | null;
  chat(request: ChatRequest): Promise<ChatResult>;
  /** Streams the answer as it is generated; the last chunk has `done: true`. */
  chatStream(request: ChatRequest): AsyncIterable<ChatChunk>;
  /** One vector per input, in order. Throws `LLM_NOT_CONFIGURED` without an embedding model. */
  embed(request: EmbedRequest): Promise<number[][]>;
  /** Throws unless the server answers and every configured model is on it: for /readyz. */
  health(): Promise<void>;
}

export type LlmErrorCode =
  | 'LLM_UNAVAILABLE'
  | 'LLM_MODEL_MISSING'
  | 'LLM_TIMEOUT'
  | 'LLM_CANCELLED'
  | 'LLM_NOT_CONFIGURED'
  | 'LLM_ERROR';

export class LlmError extends AtriumError {
  declare readonly code: LlmErrorCode;
  constructor(code: LlmErrorCode, message: string, options?: ErrorOptions) {
    super(code, message, options);
  }
}
