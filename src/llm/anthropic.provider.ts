import Anthropic from '@anthropic-ai/sdk';
import type { CallOptions, ChatProvider, ChatRequest, ChatResult, PartialUsage, TokenCountingProvider, TokenCountRequest } from './types';
import { PURPOSE_HEADER } from './types';
import { strictOutputSchema } from './structured-output';

export interface ProviderClientOptions {
  apiKey: string | undefined;
  baseUrl: string | undefined;
  timeoutMs: number;
}

/** Anthropic Messages API through @anthropic-ai/sdk; the SDK's retries are off (Temporal retries). */
export class AnthropicChatProvider implements ChatProvider, TokenCountingProvider {
  readonly provider = 'anthropic' as const;
  private readonly client: Anthropic;

  constructor(opts: ProviderClientOptions) {
    this.client = new Anthropic({
      apiKey: opts.apiKey ?? null,
      baseURL: opts.baseUrl,
      timeout: opts.timeoutMs,
      maxRetries: 0,
    });
  }

  async chat(req: ChatRequest, opts: CallOptions): Promise<ChatResult> {
    const params = anthropicMessageParams(req);
    const requestOptions = { signal: opts.signal, headers: { [PURPOSE_HEADER]: opts.purpose } };
    return chatResultOfMessage(await sendMessage(this.client, params, requestOptions, opts));
  }

  /** Input tokens of a would-be request, counted by the API (`POST /v1/messages/count_tokens`). */
  async countTokens(req: TokenCountRequest, opts: CallOptions): Promise<number> {
    const counted = await this.client.messages.countTokens(
      { model: req.model, messages: req.messages, ...(req.system ? { system: req.system } : {}) },
      { signal: opts.signal, headers: { [PURPOSE_HEADER]: opts.purpose } },
    );
    return counted.input_tokens;
  }
}

/** The Messages API parameters of a request (also each item of a Message Batch). */
export function anthropicMessageParams(req: ChatRequest): Anthropic.MessageCreateParamsNonStreaming {
  return {
    model: req.model,
    max_tokens: req.maxTokens,
    messages: req.messages,
    ...(req.system ? { system: req.system } : {}),
    ...(req.temperature !== undefined ? { temperature: req.temperature } : {}),
    ...(req.jsonSchema ? { output_config: { format: { type: 'json_schema', schema: strictOutputSchema(req.jsonSchema.schema) } } } : {}),
  };
}

export function chatResultOfMessage(message: Anthropic.Message): ChatResult {
  const text = message.content
    .map((block) => (block.type === 'text' ? block.text : ''))
    .join('');
  return {
    text,
    usage: { inputTokens: message.usage.input_tokens, outputTokens: message.usage.output_tokens },
    model: message.model,
    stopReason: message.stop_reason ?? null,
  };
}

/** One Messages API request: streamed when `onToken` wants the text deltas (the SDK's MessageStream assembles the message, tool_use blocks included). */
export async function sendMessage(
  client: Anthropic,
  params: Anthropic.MessageCreateParamsNonStreaming,
  requestOptions: { signal?: AbortSignal; headers: Record<string, string> },
  { onToken, onStreamEvent }: Pick<CallOptions, 'onToken' | 'onStreamEvent'>,
): Promise<Anthropic.Message> {
  if (!onToken) return client.messages.create(params, requestOptions);
  const stream = client.messages.stream(params, requestOptions);
  if (onStreamEvent) stream.on('streamEvent', () => onStreamEvent());
  stream.on('text', (delta) => onToken(delta));
  try {
    return await stream.finalMessage();
  } catch (err) {
    // Cut short (a cancel, a timeout, a dropped stream): message_start said what the prompt cost.
    const inputTokens = stream.currentMessage?.usage.input_tokens;
    if (inputTokens !== undefined && err instanceof Error) Object.assign(err, { partialUsage: { inputTokens } satisfies PartialUsage });
    throw err;
  }
}
