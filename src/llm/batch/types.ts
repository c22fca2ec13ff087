/**
 * The batch interface each provider's batch client implements (Anthropic Message Batches,
 * OpenAI Batch): submit requests under custom ids, read the batch's state, fetch its results,
 * cancel it. Clients make one HTTP request per call and never retry (Temporal retries); their
 * errors are mapped by the caller with toLlmFailure, as for synchronous calls.
 */
import type { Provider } from '../../shared/llm-routing';
import type { ChatRequest, ChatResult } from '../types';

export interface BatchItemRequest {
  /** Unique within the batch: letters, digits, '_' and '-', at most 64 characters (Anthropic's rule). */
  customId: string;
  request: ChatRequest;
}

/** in_progress → (canceling →) ended, whatever the provider calls its states. */
export type BatchState = 'in_progress' | 'canceling' | 'ended';

export interface BatchStatus {
  /** The provider's batch id. */
  id: string;
  state: BatchState;
  /** The provider's own status word (e.g. OpenAI's `finalizing`), for logs and progress. */
  providerStatus: string;
  total: number;
  /** Items known done (0 until the batch ends on Anthropic). */
  succeeded: number;
  failed: number;
  /** ISO times from the provider. */
  createdAt: string;
  endedAt: string | null;
  /** Why the whole batch failed (OpenAI: its input file was refused); absent otherwise. An expired batch has none: its finished items are collected, the rest end `expired`. */
  failure?: string;
}

export type BatchItemResult =
  | { customId: string; ok: true; result: ChatResult }
  | {
      customId: string;
      ok: false;
      /** errored: the provider answered the item with an error; canceled/expired: it was never run. */
      reason: 'errored' | 'canceled' | 'expired';
      /** The item's HTTP status when it errored (Anthropic's error types are mapped to theirs). */
      status?: number;
      message: string;
    };

export interface BatchCallOptions {
  /** Sent as the purpose header, like synchronous calls. */
  purpose: string;
  signal?: AbortSignal;
}

export interface BatchClient {
  readonly provider: Provider;
  /** Creates the batch; `key` is stored with it where the provider keeps metadata (OpenAI). */
  submit(items: BatchItemRequest[], key: string, opts: BatchCallOptions): Promise<BatchStatus>;
  /**
   * The batch an earlier submit created under `key`, when the provider can tell (OpenAI's
   * metadata); undefined when there is none or the provider cannot say (Anthropic). A batch
   * that is cancelling, cancelled, expired or failed is never answered: a retried submit must
   * not adopt the batch it cancelled itself (submitProviderBatch cancels a batch whose id it
   * could not record), so it submits a new one instead. `since` (epoch ms, when the first submit
   * was scheduled): older batches are not looked at, so the search does not page through the
   * account's whole history.
   */
  findByKey(key: string, opts: BatchCallOptions, since?: number): Promise<BatchStatus | undefined>;
  /**
   * For a provider that keeps no key with a batch (Anthropic): the batches that could be the one
   * an earlier submit created, its answer lost: created since `since` (epoch ms, less a margin
   * for clock skew), of `itemCount` requests, no cancel asked. The caller adopts one only when
   * exactly one of them is recorded by no run.
   */
  findUnkeyed?(itemCount: number, since: number, opts: BatchCallOptions): Promise<BatchStatus[]>;
  status(batchId: string, opts: BatchCallOptions): Promise<BatchStatus>;
  /** Every item's result, in any order; call once the batch has ended. */
  results(batchId: string, opts: BatchCallOptions): Promise<BatchItemResult[]>;
  cancel(batchId: string, opts: BatchCallOptions): Promise<BatchStatus>;
}

/** How far a batch's creation time (the provider's clock) may be before ours and still be looked at. */
export const BATCH_CLOCK_SKEW_MS = 2 * 60 * 1000;

/** Providers with a batch API. */
export const BATCH_PROVIDERS: readonly Provider[] = ['anthropic', 'openai'];
