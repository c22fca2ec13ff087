import { Ollama } from 'ollama';
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

/**
 * An Ollama client for one call (the SDK takes no per-request signal): its fetch carries the
 * call's signal, and the client timeout, a backstop to LlmService's own, bounds the wait for the
 * response's headers only, as the Anthropic and OpenAI SDKs' timeouts do, so it never cuts a
 * stream that is flowing.
 */
export function ollamaClient(client: ProviderClientOptions, call: CallOptions): Ollama {
  return new Ollama({
    host: client.baseUrl ?? 'http://127.0.0.1:11434',
    headers: { [PURPOSE_HEADER]: call.purpose },
    fetch: async (input, init) => {
      const headersDue = new AbortController();
      const timer = setTimeout(() => headersDue.abort(new DOMException('The operation timed out.', 'TimeoutError')), client.timeoutMs);
      const signal = call.signal ? AbortSignal.any([call.signal, headersDue.signal]) : headersDue.signal;
      try {
        return await fetch(input, { ...init, signal });
      } finally {
        clearTimeout(timer);
      }
    },
  });
}

/** Ollama chat and embed through the `ollama` SDK. */
export class OllamaProvider implements ChatProvider, EmbeddingProvider {
  readonly provider = 'ollama' as const;

  constructor(private readonly opts: ProviderClientOptions) {}

  async chat(req: ChatRequest, opts: CallOptions): Promise<ChatResult> {
    const client = ollamaClient(this.opts, opts);
    const request = {
      model: req.model,
      messages: [...(req.system ? [{ role: 'system', content: req.system }] : []), ...req.messages],
      options: { num_predict: req.maxTokens, ...(req.temperature !== undefined ? { temperature: req.temperature } : {}) },
      ...(req.jsonSchema ? { format: req.jsonSchema.schema } : {}),
    };
    if (opts.onToken) {
      const stream = await client.chat({ ...request, stream: true });
      let text = '';
      let last: { model: string; prompt_eval_count: number; eval_count: number; done_reason: string } | undefined;
      for await (const part of stream) {
        opts.onStreamEvent?.();
        if (part.message?.content) {
          text += part.message.content;
          opts.onToken(part.message.content);
        }
        if (part.done) last = part;
      }
      return {
        text,
        usage: { inputTokens: last?.prompt_eval_count ?? 0, outputTokens: last?.eval_count ?? 0 },
        model: last?.model ?? req.model,
        stopReason: last?.done_reason ?? null,
      };
    }
    const response = await client.chat({ ...request, stream: false });
    return {
      text: response.message.content,
      usage: { inputTokens: response.prompt_eval_count ?? 0, outputTokens: response.eval_count ?? 0 },
      model: response.model,
      stopReason: response.done_reason ?? null,
    };
  }

  async embed(req: EmbedRequest, opts: CallOptions): Promise<EmbedResult> {
    const response = await ollamaClient(this.opts, opts).embed({
      model: req.model,
      input: req.texts,
      ...(req.dimensions ? { dimensions: req.dimensions } : {}),
    });
    return {
      vectors: response.embeddings,
      usage: { inputTokens: response.prompt_eval_count ?? 0, outputTokens: 0 },
      model: response.model,
    };
  }
}
