import Anthropic from '@anthropic-ai/sdk';
import { anthropicMessageParams, chatResultOfMessage, type ProviderClientOptions } from '../anthropic.provider';
import { statusOfErrorType } from '../errors';
import { PURPOSE_HEADER } from '../types';
import { BATCH_CLOCK_SKEW_MS, type BatchCallOptions, type BatchClient, type BatchItemRequest, type BatchItemResult, type BatchStatus } from './types';

function statusOf(batch: Anthropic.Messages.MessageBatch): BatchStatus {
  const c = batch.request_counts;
  return {
    id: batch.id,
    state: batch.processing_status,
    providerStatus: batch.processing_status,
    total: c.processing + c.succeeded + c.errored + c.canceled + c.expired,
    succeeded: c.succeeded,
    failed: c.errored + c.canceled + c.expired,
    createdAt: batch.created_at,
    endedAt: batch.ended_at,
  };
}

/**
 * Anthropic Message Batches through @anthropic-ai/sdk (retries off). Anthropic keeps no
 * metadata on a batch, so `findByKey` cannot find one: the caller records the batch id as
 * soon as `submit` returns, and a retry whose earlier submit lost its answer looks for the batch
 * by creation time and size (`findUnkeyed`).
 */
export class AnthropicBatchClient implements BatchClient {
  readonly provider = 'anthropic' as const;
  private readonly client: Anthropic;

  constructor(opts: ProviderClientOptions) {
    this.client = new Anthropic({ apiKey: opts.apiKey ?? null, baseURL: opts.baseUrl, timeout: opts.timeoutMs, maxRetries: 0 });
  }

  private options(opts: BatchCallOptions) {
    return { signal: opts.signal, headers: { [PURPOSE_HEADER]: opts.purpose } };
  }

  async submit(items: BatchItemRequest[], _key: string, opts: BatchCallOptions): Promise<BatchStatus> {
    const batch = await this.client.messages.batches.create(
      { requests: items.map((item) => ({ custom_id: item.customId, params: anthropicMessageParams(item.request) })) },
      this.options(opts),
    );
    return statusOf(batch);
  }

  /** Always undefined (no metadata to match): so never a cancelled or expired batch either. */
  async findByKey(): Promise<BatchStatus | undefined> {
    return undefined;
  }

  async findUnkeyed(itemCount: number, since: number, opts: BatchCallOptions): Promise<BatchStatus[]> {
    const found: BatchStatus[] = [];
    // Newest first: stop at the first batch created before the submit was.
    for await (const batch of this.client.messages.batches.list({ limit: 100 }, this.options(opts))) {
      if (Date.parse(batch.created_at) < since - BATCH_CLOCK_SKEW_MS) break;
      const status = statusOf(batch);
      if (!batch.cancel_initiated_at && status.total === itemCount) found.push(status);
    }
    return found;
  }

  async status(batchId: string, opts: BatchCallOptions): Promise<BatchStatus> {
    return statusOf(await this.client.messages.batches.retrieve(batchId, {}, this.options(opts)));
  }

  async results(batchId: string, opts: BatchCallOptions): Promise<BatchItemResult[]> {
    const out: BatchItemResult[] = [];
    for await (const line of await this.client.messages.batches.results(batchId, {}, this.options(opts))) {
      const r = line.result;
      if (r.type === 'succeeded') {
        out.push({ customId: line.custom_id, ok: true, result: chatResultOfMessage(r.message) });
      } else if (r.type === 'errored') {
        const e = r.error.error;
        out.push({ customId: line.custom_id, ok: false, reason: 'errored', status: statusOfErrorType(e.type) ?? 500, message: `${e.type}: ${e.message}` });
      } else {
        out.push({ customId: line.custom_id, ok: false, reason: r.type, message: `the item was ${r.type} before it ran` });
      }
    }
    return out;
  }

  async cancel(batchId: string, opts: BatchCallOptions): Promise<BatchStatus> {
    return statusOf(await this.client.messages.batches.cancel(batchId, {}, this.options(opts)));
  }
}
