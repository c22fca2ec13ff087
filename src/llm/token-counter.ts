/**
 * Token counts per provider: Anthropic's count-tokens endpoint for prompts, OpenAI's encodings
 * through js-tiktoken (o200k_base for current chat models, cl100k_base for embeddings and GPT-4 /
 * 3.5), and the documented estimate (src/domain/tokens.ts) for the rest (Ollama) or when the
 * endpoint cannot be reached. Encodings load on first use (a second or more: megabytes of ranks).
 */
import type { Tiktoken, TiktokenModel } from 'js-tiktoken/lite';
import { estimateTokens, type CountTokens } from '../domain/tokens';
import type { Provider } from '../shared/llm-routing';
import type { ProviderRegistry } from './registry';
import type { CallOptions, TokenCountRequest } from './types';

export type CountMethod = 'provider' | 'tiktoken' | 'estimate';

type EncodingName = 'o200k_base' | 'cl100k_base';
const encodings = new Map<EncodingName, Promise<Tiktoken>>();

async function loadEncoding(name: EncodingName): Promise<Tiktoken> {
  const { Tiktoken } = await import('js-tiktoken/lite');
  const ranks = name === 'o200k_base' ? await import('js-tiktoken/ranks/o200k_base') : await import('js-tiktoken/ranks/cl100k_base');
  return new Tiktoken(ranks.default);
}

/** The encoding of an OpenAI model: tiktoken's own table, else o200k_base (every current chat model). */
async function encodingFor(model: string): Promise<Tiktoken> {
  const { getEncodingNameForModel } = await import('js-tiktoken/lite');
  let name: EncodingName = 'o200k_base';
  try {
    name = getEncodingNameForModel(model as TiktokenModel) === 'cl100k_base' ? 'cl100k_base' : 'o200k_base';
  } catch {
    // An unlisted model: o200k_base.
  }
  let encoding = encodings.get(name);
  if (!encoding) {
    encoding = loadEncoding(name);
    encodings.set(name, encoding);
    // A failed load is forgotten: the next use loads again.
    encoding.catch(() => encodings.delete(name));
  }
  return encoding;
}

/** A synchronous counter for one model: its tokenizer when it runs here (OpenAI), else the estimate. */
export async function localCounter(provider: Provider, model: string): Promise<{ count: CountTokens; method: CountMethod }> {
  if (provider !== 'openai') return { count: estimateTokens, method: 'estimate' };
  const encoding = await encodingFor(model);
  return { count: (text) => encoding.encode(text, 'all').length, method: 'tiktoken' };
}

/**
 * Loads the encodings of the OpenAI models that size batches (the embeddings' and the
 * outline's), so a worker pays the load (a second or more of one CPU) at start rather than in
 * its first ingestion's phase 2, where it stalls every activity sharing the event loop.
 */
export async function preloadEncodings(models: readonly { provider: Provider; model: string }[]): Promise<void> {
  await Promise.all(models.filter((m) => m.provider === 'openai').map((m) => encodingFor(m.model)));
}

/** Tokens a chat message list adds beyond its text (role markers), as OpenAI documents them. */
const OPENAI_TOKENS_PER_MESSAGE = 3;

export class TokenCounter {
  constructor(private readonly registry: ProviderRegistry) {}

  /**
   * Input tokens of a prompt: the provider's count when it has an endpoint (Anthropic), its
   * encoding (OpenAI), else the estimate. A failed count falls back to the estimate (a count
   * only sizes a prompt; it must not fail a run).
   */
  async countPrompt(provider: Provider, request: TokenCountRequest, opts: CallOptions): Promise<{ tokens: number; method: CountMethod }> {
    const remote = this.registry.tokenCounting(provider);
    const texts = [request.system ?? '', ...request.messages.map((m) => m.content)];
    if (remote) {
      try {
        return { tokens: await remote.countTokens(request, opts), method: 'provider' };
      } catch (err) {
        if (opts.signal?.aborted) throw err;
      }
      return { tokens: texts.reduce((n, t) => n + estimateTokens(t), 0), method: 'estimate' };
    }
    const local = await localCounter(provider, request.model);
    const overhead = local.method === 'tiktoken' ? OPENAI_TOKENS_PER_MESSAGE * texts.filter(Boolean).length + 3 : 0;
    return { tokens: texts.reduce((n, t) => n + local.count(t), 0) + overhead, method: local.method };
  }
}
