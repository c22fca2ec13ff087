/** Provider batches (Anthropic Message Batches, OpenAI Batch) and their items, keyed so a retried submit finds its batch. */
import { EntitySchema } from 'typeorm';
import { timestampDefaultNow } from './columns';

/** prepared → in_progress (submitted) → ended | cancelled (the fetch or the cancel records the end). */
export type LlmBatchStatus = 'prepared' | 'in_progress' | 'canceling' | 'ended' | 'cancelled';

export interface LlmBatch {
  /** The caller's attempt-independent key, e.g. `<workflow id>/synthesis`. */
  key: string;
  provider: string;
  model: string;
  purpose: string;
  promptVersion: string;
  useCache: boolean;
  workflowId: string | null;
  /** The provider's id, recorded as soon as the provider answered the submit. */
  providerBatchId: string | null;
  status: LlmBatchStatus;
  itemCount: number;
  /** Why the whole batch failed at the provider (a refused input file), when it did. */
  failure: string | null;
  createdAt: Date;
  submittedAt: Date | null;
  endedAt: Date | null;
}

export const LlmBatchEntity = new EntitySchema<LlmBatch>({
  name: 'LlmBatch',
  tableName: 'llm_batches',
  columns: {
    key: { type: 'text', primary: true },
    provider: { type: 'text' },
    model: { type: 'text' },
    purpose: { type: 'text' },
    promptVersion: { name: 'prompt_version', type: 'text' },
    useCache: { name: 'use_cache', type: 'boolean' },
    workflowId: { name: 'workflow_id', type: 'text', nullable: true },
    providerBatchId: { name: 'provider_batch_id', type: 'text', nullable: true },
    status: { type: 'text' },
    itemCount: { name: 'item_count', type: 'integer' },
    failure: { type: 'text', nullable: true },
    createdAt: timestampDefaultNow('created_at'),
    submittedAt: { name: 'submitted_at', type: 'timestamptz', nullable: true },
    endedAt: { name: 'ended_at', type: 'timestamptz', nullable: true },
  },
});

/** ok | cached (answered from the response cache, never sent) | failed */
export type LlmBatchItemOutcome = 'ok' | 'cached' | 'failed';

export interface LlmBatchItem {
  batchKey: string;
  customId: string;
  /** The ChatRequest without its model (the batch's model applies). */
  request: object;
  outcome: LlmBatchItemOutcome | null;
  /** The ChatResult of an ok or cached item. */
  response: object | null;
  errorType: string | null;
  errorMessage: string | null;
  /** Whether a failed item may succeed as a normal call. */
  retryable: boolean | null;
}

export const LlmBatchItemEntity = new EntitySchema<LlmBatchItem>({
  name: 'LlmBatchItem',
  tableName: 'llm_batch_items',
  columns: {
    batchKey: { name: 'batch_key', type: 'text', primary: true },
    customId: { name: 'custom_id', type: 'text', primary: true },
    request: { type: 'jsonb' },
    outcome: { type: 'text', nullable: true },
    response: { type: 'jsonb', nullable: true },
    errorType: { name: 'error_type', type: 'text', nullable: true },
    errorMessage: { name: 'error_message', type: 'text', nullable: true },
    retryable: { type: 'boolean', nullable: true },
  },
  foreignKeys: [
    { name: 'llm_batch_items_batch_key_fkey', target: 'LlmBatch', columnNames: ['batchKey'], referencedColumnNames: ['key'], onDelete: 'CASCADE' },
  ],
});
