/**
 * Provider batches, the parts workflows and callers share: which providers have a batch API,
 * their price factor, the batch key, the poll policy and what a batch returns per item. Pure.
 */
import type { LlmRoute, Provider } from './llm-routing';

/** What a batch call costs relative to a normal one (both Anthropic and OpenAI halve the price). */
export const BATCH_PRICE_FACTOR: Readonly<Record<Provider, number>> = { anthropic: 0.5, openai: 0.5, ollama: 1 };

export function supportsBatch(provider: Provider): boolean {
  return provider === 'anthropic' || provider === 'openai';
}

/** A batch's key: the same for every attempt of the run's batch step, so a retried submit finds its batch. */
export function providerBatchKey(workflowId: string, name: string): string {
  return `${workflowId}/${name}`;
}

/**
 * How the workflow polls: a durable timer after each poll, from `initialMs` growing by `factor`
 * up to `maxMs` (seconds to minutes).
 */
export interface BatchPollPolicy {
  initialMs: number;
  maxMs: number;
  factor: number;
}

export const DEFAULT_BATCH_POLL: BatchPollPolicy = { initialMs: 2_000, maxMs: 5 * 60_000, factor: 1.5 };

/** The delay before poll number `n` (0-based). */
export function batchPollDelay(policy: BatchPollPolicy, n: number): number {
  return Math.min(policy.maxMs, Math.round(policy.initialMs * policy.factor ** n));
}

export interface ProviderBatchRef {
  key: string;
  route: LlmRoute;
}

export interface ProviderBatchProgress {
  /** The provider's batch id; null until submitted (or when every item was cached). */
  batchId: string | null;
  state: 'prepared' | 'in_progress' | 'canceling' | 'ended';
  providerStatus: string;
  total: number;
  /** Items answered from the cache, never sent. */
  cached: number;
  succeeded: number;
  failed: number;
  polls: number;
}

export interface ProviderBatchItemOutcome {
  customId: string;
  /** ok: answered in the batch; cached: answered from the cache; failed: see errorType. */
  status: 'ok' | 'cached' | 'failed';
  errorType?: string;
  message?: string;
  /** A failed item that may succeed as a normal call (the caller retries those). */
  retryable?: boolean;
}

export interface ProviderBatchResult {
  key: string;
  batchId: string | null;
  items: ProviderBatchItemOutcome[];
  polls: number;
  /** From submit to results, as the workflow measured it. */
  elapsedMs: number;
}
