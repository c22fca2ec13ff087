import type { AppConfig } from '../config';
import type { Provider } from '../shared/llm-routing';
import { AnthropicChatProvider } from './anthropic.provider';
import { OllamaProvider } from './ollama.provider';
import { OpenAIProvider } from './openai.provider';
import { AnthropicToolChatProvider } from './tools/anthropic-tools.provider';
import { OllamaToolChatProvider } from './tools/ollama-tools.provider';
import { OpenAIToolChatProvider } from './tools/openai-tools.provider';
import type { ChatProvider, EmbeddingProvider, TokenCountingProvider, ToolChatProvider } from './types';

/** Adapters by provider name; tests register fakes the same way as real providers. */
export class ProviderRegistry {
  private readonly chatProviders = new Map<Provider, ChatProvider>();
  private readonly embeddingProviders = new Map<Provider, EmbeddingProvider>();
  private readonly toolChatProviders = new Map<Provider, ToolChatProvider>();
  private readonly tokenCounters = new Map<Provider, TokenCountingProvider>();

  registerChat(provider: ChatProvider): this {
    this.chatProviders.set(provider.provider, provider);
    return this;
  }

  registerEmbedding(provider: EmbeddingProvider): this {
    this.embeddingProviders.set(provider.provider, provider);
    return this;
  }

  registerToolChat(provider: ToolChatProvider): this {
    this.toolChatProviders.set(provider.provider, provider);
    return this;
  }

  toolChat(provider: Provider): ToolChatProvider {
    const found = this.toolChatProviders.get(provider);
    if (!found) throw new Error(`No tool-calling chat provider registered for "${provider}"`);
    return found;
  }

  registerTokenCounting(provider: TokenCountingProvider): this {
    this.tokenCounters.set(provider.provider, provider);
    return this;
  }

  /** The provider's own token counting, when it has an endpoint for it (else undefined: count locally). */
  tokenCounting(provider: Provider): TokenCountingProvider | undefined {
    return this.tokenCounters.get(provider);
  }

  chat(provider: Provider): ChatProvider {
    const found = this.chatProviders.get(provider);
    if (!found) throw new Error(`No chat provider registered for "${provider}"`);
    return found;
  }

  embedding(provider: Provider): EmbeddingProvider {
    const found = this.embeddingProviders.get(provider);
    if (!found) throw new Error(`No embedding provider registered for "${provider}" (Anthropic has no embeddings API)`);
    return found;
  }
}

/** The real adapters, configured from the environment's keys and base URLs. */
export function createProviderRegistry(config: AppConfig['llm']): ProviderRegistry {
  const opts = (p: Provider) => ({
    apiKey: config.providers[p].apiKey,
    baseUrl: config.providers[p].baseUrl,
    // A backstop: LlmService enforces the request timeout itself.
    timeoutMs: config.requestTimeoutMs + 5_000,
  });
  const openai = new OpenAIProvider(opts('openai'));
  const ollama = new OllamaProvider(opts('ollama'));
  const anthropic = new AnthropicChatProvider(opts('anthropic'));
  return new ProviderRegistry()
    .registerChat(anthropic)
    .registerTokenCounting(anthropic)
    .registerChat(openai)
    .registerEmbedding(openai)
    .registerChat(ollama)
    .registerEmbedding(ollama)
    .registerToolChat(new AnthropicToolChatProvider(opts('anthropic')))
    .registerToolChat(new OpenAIToolChatProvider(opts('openai')))
    .registerToolChat(new OllamaToolChatProvider(opts('ollama')));
}
