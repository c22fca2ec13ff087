import OpenAI, { toFile } from 'openai';
import type { ProviderClientOptions } from '../anthropic.provider';
import { chatResultOfCompletion, openaiChatParams } from '../openai.provider';
import { PURPOSE_HEADER } from '../types';
import { BATCH_CLOCK_SKEW_MS, type BatchCallOptions, type BatchClient, type BatchItemRequest, type BatchItemResult, type BatchState, type BatchStatus } from './types';

/** The metadata key under which a batch carries the caller's key (found again by findByKey). */
export const OPENAI_BATCH_KEY_METADATA = 'storyloom_key';

const STATE: Record<OpenAI.Batches.Batch['status'], BatchState> = {
  validating: 'in_progress',
  in_progress: 'in_progress',
  finalizing: 'in_progress',
  cancelling: 'canceling',
  completed: 'ended',
  failed: 'ended',
  expired: 'ended',
  cancelled: 'ended',
};

/**
 * Batches findByKey never answers: stopped (a cancel — e.g. submitProviderBatch's own, after the
 * batch id failed to reach Postgres) or dead (expired, failed validation). Adopting one would end
 * every item in a fallback call at full price; a retry submits a new batch instead.
 */
const NOT_ADOPTABLE: ReadonlySet<OpenAI.Batches.Batch['status']> = new Set(['cancelling', 'cancelled', 'expired', 'failed']);

const iso = (seconds: number | undefined | null) => (seconds ? new Date(seconds * 1000).toISOString() : null);

function statusOf(batch: OpenAI.Batches.Batch): BatchStatus {
  const counts = batch.request_counts ?? { total: 0, completed: 0, failed: 0 };
  const endedAt = batch.completed_at ?? batch.cancelled_at ?? batch.failed_at ?? batch.expired_at;
  const failure =
    batch.status === 'failed'
      ? `the batch failed validation: ${(batch.errors?.data ?? []).map((e) => `${e.line ? `line ${e.line}: ` : ''}${e.message ?? e.code}`).join('; ') || 'no reason given'}`
      : undefined;
  return {
    id: batch.id,
    state: STATE[batch.status],
    providerStatus: batch.status,
    total: counts.total,
    succeeded: counts.completed,
    failed: counts.failed,
    createdAt: iso(batch.created_at) ?? new Date(0).toISOString(),
    endedAt: iso(endedAt),
    ...(failure ? { failure } : {}),
  };
}

interface OutputLine {
  custom_id: string;
  response: { status_code: number; body: unknown } | null;
  error: { code?: string; message?: string } | null;
}

/**
 * OpenAI Batch through the `openai` SDK (retries off): the requests go up as a JSONL file
 * (purpose `batch`), the batch runs /v1/chat/completions over it, and the results come back as
 * an output file (answers) and an error file (items that failed, were cancelled or expired).
 */
export class OpenAIBatchClient implements BatchClient {
  readonly provider = 'openai' as const;
  private readonly client: OpenAI;

  constructor(opts: ProviderClientOptions) {
    this.client = new OpenAI({ apiKey: opts.apiKey ?? 'missing-key', baseURL: opts.baseUrl, timeout: opts.timeoutMs, maxRetries: 0 });
  }

  private options(opts: BatchCallOptions) {
    return { signal: opts.signal, headers: { [PURPOSE_HEADER]: opts.purpose } };
  }

  async submit(items: BatchItemRequest[], key: string, opts: BatchCallOptions): Promise<BatchStatus> {
    const jsonl = items
      .map((item) => JSON.stringify({ custom_id: item.customId, method: 'POST', url: '/v1/chat/completions', body: openaiChatParams(item.request) }))
      .join('\n');
    const file = await this.client.files.create(
      { file: await toFile(Buffer.from(`${jsonl}\n`), `${key.replace(/[^a-zA-Z0-9_-]+/g, '_')}.jsonl`), purpose: 'batch' },
      this.options(opts),
    );
    const batch = await this.client.batches.create(
      { input_file_id: file.id, endpoint: '/v1/chat/completions', completion_window: '24h', metadata: { [OPENAI_BATCH_KEY_METADATA]: key.slice(0, 512) } },
      this.options(opts),
    );
    return statusOf(batch);
  }

  async findByKey(key: string, opts: BatchCallOptions, since?: number): Promise<BatchStatus | undefined> {
    // Newest first: with `since`, stop at the first batch created before the submit was.
    for await (const batch of this.client.batches.list({ limit: 100 }, this.options(opts))) {
      if (since !== undefined && batch.created_at * 1000 < since - BATCH_CLOCK_SKEW_MS) break;
      if (batch.metadata?.[OPENAI_BATCH_KEY_METADATA] === key.slice(0, 512) && !NOT_ADOPTABLE.has(batch.status)) return statusOf(batch);
    }
    return undefined;
  }

  async status(batchId: string, opts: BatchCallOptions): Promise<BatchStatus> {
    return statusOf(await this.client.batches.retrieve(batchId, this.options(opts)));
  }

  private async lines(fileId: string | undefined | null, opts: BatchCallOptions): Promise<OutputLine[]> {
    if (!fileId) return [];
    const text = await (await this.client.files.content(fileId, this.options(opts))).text();
    return text
      .split('\n')
      .filter((l) => l.trim())
      .map((l) => JSON.parse(l) as OutputLine);
  }

  async results(batchId: string, opts: BatchCallOptions): Promise<BatchItemResult[]> {
    const batch = await this.client.batches.retrieve(batchId, this.options(opts));
    const lines = [...(await this.lines(batch.output_file_id, opts)), ...(await this.lines(batch.error_file_id, opts))];
    return lines.map((line): BatchItemResult => {
      const status = line.response?.status_code;
      if (status !== undefined && status >= 200 && status < 300) {
        return { customId: line.custom_id, ok: true, result: chatResultOfCompletion(line.response!.body as OpenAI.ChatCompletion) };
      }
      if (line.response) {
        const message = (line.response.body as { error?: { message?: string } })?.error?.message ?? `status ${status}`;
        return { customId: line.custom_id, ok: false, reason: 'errored', status, message };
      }
      const code = line.error?.code ?? 'unknown';
      const reason = code === 'batch_expired' ? 'expired' : code === 'batch_cancelled' ? 'canceled' : 'errored';
      return { customId: line.custom_id, ok: false, reason, message: `${code}: ${line.error?.message ?? ''}`.trim() };
    });
  }

  async cancel(batchId: string, opts: BatchCallOptions): Promise<BatchStatus> {
    return statusOf(await this.client.batches.cancel(batchId, this.options(opts)));
  }
}
