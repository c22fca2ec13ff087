import type { AppConfig } from '../../config';
import type { Provider } from '../../shared/llm-routing';
import { AnthropicBatchClient } from './anthropic.batch';
import { OpenAIBatchClient } from './openai.batch';
import type { BatchClient } from './types';

/** Batch clients by provider; tests register fakes the same way. */
export class BatchClientRegistry {
  private readonly clients = new Map<Provider, BatchClient>();

  register(client: BatchClient): this {
    this.clients.set(client.provider, client);
    return this;
  }

  get(provider: Provider): BatchClient {
    const found = this.clients.get(provider);
    if (!found) throw new Error(`No batch client registered for "${provider}" (batches exist for Anthropic and OpenAI only)`);
    return found;
  }
}

/** The real batch clients, configured like the synchronous adapters (keys, base URLs). */
export function createBatchClients(config: AppConfig['llm']): BatchClientRegistry {
  const opts = (p: Provider) => ({
    apiKey: config.providers[p].apiKey,
    baseUrl: config.providers[p].baseUrl,
    timeoutMs: config.requestTimeoutMs + 5_000,
  });
  return new BatchClientRegistry().register(new AnthropicBatchClient(opts('anthropic'))).register(new OpenAIBatchClient(opts('openai')));
}
