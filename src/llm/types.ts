/**
 * The small interfaces every provider adapter implements. Requests carry no secrets; keys and
 * base URLs are given to adapters at construction, from configuration.
 */
import type { Provider } from '../shared/llm-routing';

export interface ChatMessage {
  role: 'user' | 'assistant';
  content: string;
}

export interface JsonSchemaSpec {
  /** A short identifier (OpenAI requires one). */
  name: string;
  schema: Record<string, unknown>;
}

export interface ChatRequest {
  model: string;
  system?: string;
  messages: ChatMessage[];
  maxTokens: number;
  temperature?: number;
  /** When set, the reply is JSON that satisfies this schema (the provider's structured output). */
  jsonSchema?: JsonSchemaSpec;
}

export interface CallOptions {
  /** Sent to the provider as a header so logs and the simulator can tell calls apart. */
  purpose: string;
  /** Aborts the HTTP request in flight (the activity's cancellation signal). */
  signal?: AbortSignal;
  /** When set, the call streams and this receives each text delta. */
  onToken?: (delta: string) => void;
  /**
   * Told of every event of a streamed answer (a text delta, a piece of a tool call, the usage):
   * a stream's sign of life, which restarts the service's request timer.
   */
  onStreamEvent?: () => void;
}

export interface TokenUsage {
  inputTokens: number;
  outputTokens: number;
}

export interface ChatResult {
  text: string;
  usage: TokenUsage;
  /** The model that actually answered, as the provider reports it. */
  model: string;
  stopReason: string | null;
}

export interface EmbedRequest {
  model: string;
  texts: string[];
  dimensions?: number;
}

export interface EmbedResult {
  vectors: number[][];
  usage: TokenUsage;
  model: string;
}

export interface ChatProvider {
  readonly provider: Provider;
  chat(request: ChatRequest, options: CallOptions): Promise<ChatResult>;
}

export interface EmbeddingProvider {
  readonly provider: Provider;
  embed(request: EmbedRequest, options: CallOptions): Promise<EmbedResult>;
}

/** A would-be chat request whose input tokens a provider counts. */
export interface TokenCountRequest {
  model: string;
  system?: string;
  messages: ChatMessage[];
}

/** A provider with its own token-counting endpoint (Anthropic's `messages/count_tokens`). */
export interface TokenCountingProvider {
  readonly provider: Provider;
  countTokens(request: TokenCountRequest, options: CallOptions): Promise<number>;
}

export const PURPOSE_HEADER = 'x-storyloom-purpose';

/** A tool the model may call (native tool calling): its arguments are described by a JSON schema. */
export interface ToolSpec {
  name: string;
  description: string;
  inputSchema: Record<string, unknown>;
}

/**
 * One tool call the model asked for. `arguments` is the provider's parsed JSON (a string when the
 * provider sent text that does not parse, so the caller's schema check reports it).
 */
export interface ToolCall {
  id: string;
  name: string;
  arguments: unknown;
}

/** A conversation with tool use: the assistant's tool calls and the tool results fed back. */
export type ToolChatMessage =
  | { role: 'user'; content: string }
  | { role: 'assistant'; content: string; toolCalls?: ToolCall[] }
  | { role: 'tool'; toolCallId: string; name: string; content: string; isError?: boolean };

export interface ToolChatRequest {
  model: string;
  system?: string;
  messages: ToolChatMessage[];
  tools: ToolSpec[];
  maxTokens: number;
  temperature?: number;
}

export interface ToolChatResult extends ChatResult {
  /** Empty when the model answered with text only (its final reply). */
  toolCalls: ToolCall[];
}

/** Chat with the provider's native tool calling (Anthropic tools, OpenAI tools, Ollama tools). */
export interface ToolChatProvider {
  readonly provider: Provider;
  chatWithTools(request: ToolChatRequest, options: CallOptions): Promise<ToolChatResult>;
}

/**
 * What a request that failed part-way had used, as far as the provider said before it failed
 * (Anthropic's message_start gives the prompt's tokens): attached to the error as `partialUsage`.
 */
export interface PartialUsage {
  inputTokens?: number;
}
