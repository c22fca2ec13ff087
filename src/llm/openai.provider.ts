import OpenAI from 'openai';
import type { ProviderClientOptions } from './anthropic.provider';
import type {
  CallOptions,
  ChatProvider,
  ChatRequest,
  ChatResult,
  EmbeddingProvider,
  EmbedRequest,
  EmbedResult,
} from './types';
import { PURPOSE_HEADER } from './types';
import { strictOutputSchema } from './structured-output';

/** OpenAI chat completions and embeddings through the `openai` SDK; its retries are off. */
export class OpenAIProvider implements ChatProvider, EmbeddingProvider {
  readonly provider = 'openai' as const;
  private readonly client: OpenAI;

  constructor(opts: ProviderClientOptions) {
    this.client = new OpenAI({
      // The SDK refuses to start without a key; a missing key surfaces as the provider's 401.
      apiKey: opts.apiKey ?? 'missing-key',
      baseURL: opts.baseUrl,
      timeout: opts.timeoutMs,
      maxRetries: 0,
    });
  }

  async chat(req: ChatRequest, opts: CallOptions): Promise<ChatResult> {
    const base = openaiChatParams(req);
    const requestOptions = { signal: opts.signal, headers: { [PURPOSE_HEADER]: opts.purpose } };
    if (opts.onToken) {
      const { toolCalls: _toolCalls, ...streamed } = await streamChatCompletion(this.client, base, requestOptions, { onToken: opts.onToken, onStreamEvent: opts.onStreamEvent });
      return streamed;
    }
    const completion = await this.client.chat.completions.create(base, requestOptions);
    return chatResultOfCompletion(completion);
  }

  async embed(req: EmbedRequest, opts: CallOptions): Promise<EmbedResult> {
    const response = await this.client.embeddings.create(
      { model: req.model, input: req.texts, ...(req.dimensions ? { dimensions: req.dimensions } : {}) },
      { signal: opts.signal, headers: { [PURPOSE_HEADER]: opts.purpose } },
    );
    const vectors = [...response.data].sort((a, b) => a.index - b.index).map((d) => d.embedding);
    return {
      vectors,
      usage: { inputTokens: response.usage?.prompt_tokens ?? 0, outputTokens: 0 },
      model: response.model,
    };
  }
}

/** The chat completions body of a request (also each line of a Batch input file). */
export function openaiChatParams(req: ChatRequest): OpenAI.ChatCompletionCreateParamsNonStreaming {
  const messages: OpenAI.ChatCompletionMessageParam[] = [
    ...(req.system ? [{ role: 'system' as const, content: req.system }] : []),
    ...req.messages,
  ];
  return {
    model: req.model,
    messages,
    max_completion_tokens: req.maxTokens,
    ...(req.temperature !== undefined ? { temperature: req.temperature } : {}),
    ...(req.jsonSchema
      ? {
          response_format: {
            type: 'json_schema' as const,
            json_schema: { name: req.jsonSchema.name, schema: strictOutputSchema(req.jsonSchema.schema), strict: true },
          },
        }
      : {}),
  };
}

export function chatResultOfCompletion(completion: OpenAI.ChatCompletion): ChatResult {
  const choice = completion.choices[0];
  return {
    text: choice?.message?.content ?? '',
    usage: {
      inputTokens: completion.usage?.prompt_tokens ?? 0,
      outputTokens: completion.usage?.completion_tokens ?? 0,
    },
    model: completion.model,
    stopReason: choice?.finish_reason ?? null,
  };
}

/**
 * One chat completion, streamed: content deltas go to `onToken`; tool calls, which arrive in
 * pieces per index, are joined (their arguments as the JSON text the model wrote).
 */
export async function streamChatCompletion(
  client: OpenAI,
  params: OpenAI.ChatCompletionCreateParamsNonStreaming,
  requestOptions: { signal?: AbortSignal; headers: Record<string, string> },
  { onToken, onStreamEvent }: Required<Pick<CallOptions, 'onToken'>> & Pick<CallOptions, 'onStreamEvent'>,
): Promise<{ text: string; usage: { inputTokens: number; outputTokens: number }; model: string; stopReason: string | null; toolCalls: { id: string; name: string; arguments: string }[] }> {
  const stream = await client.chat.completions.create({ ...params, stream: true, stream_options: { include_usage: true } }, requestOptions);
  let text = '';
  let model = params.model;
  let stopReason: string | null = null;
  let usage = { inputTokens: 0, outputTokens: 0 };
  const calls: { id: string; name: string; arguments: string }[] = [];
  for await (const chunk of stream) {
    onStreamEvent?.();
    model = chunk.model || model;
    const choice = chunk.choices[0];
    const delta = choice?.delta?.content;
    if (delta) {
      text += delta;
      onToken(delta);
    }
    for (const piece of choice?.delta?.tool_calls ?? []) {
      const call = (calls[piece.index] ??= { id: '', name: '', arguments: '' });
      if (piece.id) call.id = piece.id;
      if (piece.function?.name) call.name += piece.function.name;
      if (piece.function?.arguments) call.arguments += piece.function.arguments;
    }
    if (choice?.finish_reason) stopReason = choice.finish_reason;
    if (chunk.usage) usage = { inputTokens: chunk.usage.prompt_tokens, outputTokens: chunk.usage.completion_tokens };
  }
  // Every complete answer ends with a finish_reason; a stream that closed without one was cut off,
  // a malformed response (SyntaxError: toLlmFailure makes it a retryable Transient failure).
  if (stopReason === null) throw new SyntaxError(`the stream ended before the answer was complete (no finish_reason after ${text.length} characters)`);
  return { text, usage, model, stopReason, toolCalls: calls.filter(Boolean) };
}
