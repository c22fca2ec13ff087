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
 * Ollama chat and embed through the `ollama` SDK. The SDK takes no per-request signal, so each
 * call gets a client whose fetch carries the activity's signal and the request timeout.
 */
export class OllamaProvider implements ChatProvider, EmbeddingProvider {
  readonly provider = 'ollama' as const;

  constructor(private readonly opts: ProviderClientOptions) {}

  private client(opts: CallOptions): Ollama {
    const timeout = AbortSignal.timeout(this.opts.timeoutMs);
    const signal = opts.signal ? AbortSignal.any([opts.signal, timeout]) : timeout;
    return new Ollama({
      host: this.opts.baseUrl ?? 'http://127.0.0.1:11434',
      headers: { [PURPOSE_HEADER]: opts.purpose },
      fetch: (input, init) => fetch(input, { ...init, signal }),
    });
  }

  async chat(req: ChatRequest, opts: CallOptions): Promise<ChatResult> {
    const client = this.client(opts);
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
    const response = await this.client(opts).embed({
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
