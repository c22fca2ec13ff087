/**
 * Provider batches in Postgres: the caller prepares a batch (its items' requests) under an
 * attempt-independent key, the batch activities record the provider's id, state and each
 * item's outcome there, and the caller reads the answers back. Every write is idempotent.
 */
import type { DataSource, EntityManager } from 'typeorm';
import { LlmBatchEntity, LlmBatchItemEntity, type LlmBatch, type LlmBatchItem, type LlmBatchStatus } from '../entities/llm-batch.entity';
import type { ChatRequest, ChatResult } from '../../llm/types';
import { deferredLlmStatements, type DeferredLlmWrites } from './deferred-llm-writes';
import { upsertInChunks, writeInOneStatement } from './multi-row';

export type PreparedBatch = Pick<LlmBatch, 'key' | 'provider' | 'model' | 'purpose' | 'promptVersion' | 'useCache' | 'workflowId'> & {
  items: { customId: string; request: Omit<ChatRequest, 'model'> }[];
};

export interface ItemOutcomeRow {
  customId: string;
  outcome: 'ok' | 'cached' | 'failed';
  response?: ChatResult | null;
  errorType?: string | null;
  errorMessage?: string | null;
  retryable?: boolean | null;
}

export class ProviderBatchRepository {
  constructor(private readonly db: DataSource) {}

  /**
   * Stores a batch and its items in one transaction. Idempotent: preparing the same key again
   * changes nothing once the batch was submitted (its items stay those the provider got);
   * before that, it replaces the items.
   */
  async prepare(batch: PreparedBatch): Promise<void> {
    await this.db.transaction(async (m) => {
      const existing = await m.getRepository(LlmBatchEntity).findOne({ where: { key: batch.key } });
      if (existing && existing.status !== 'prepared') return;
      await upsertInChunks(
        m,
        LlmBatchEntity,
        [{ key: batch.key, provider: batch.provider, model: batch.model, purpose: batch.purpose, promptVersion: batch.promptVersion, useCache: batch.useCache, workflowId: batch.workflowId, status: 'prepared', itemCount: batch.items.length }],
        { conflict: ['key'], overwrite: ['provider', 'model', 'purpose', 'prompt_version', 'use_cache', 'workflow_id', 'item_count'] },
      );
      if (existing) await m.getRepository(LlmBatchItemEntity).delete({ batchKey: batch.key });
      await upsertInChunks(
        m,
        LlmBatchItemEntity,
        batch.items.map((i) => ({ batchKey: batch.key, customId: i.customId, request: i.request as object })),
        { conflict: ['batch_key', 'custom_id'], overwrite: ['request'] },
      );
    });
  }

  async find(key: string): Promise<LlmBatch | undefined> {
    return (await this.db.getRepository(LlmBatchEntity).findOne({ where: { key } })) ?? undefined;
  }

  /** Which of these provider batch ids a batch row has recorded (any run's). */
  async recordedProviderBatchIds(ids: string[]): Promise<Set<string>> {
    if (!ids.length) return new Set();
    const rows: { id: string }[] = await this.db.query('SELECT provider_batch_id AS id FROM llm_batches WHERE provider_batch_id = ANY($1)', [ids]);
    return new Set(rows.map((r) => r.id));
  }

  async items(key: string): Promise<LlmBatchItem[]> {
    return this.db.getRepository(LlmBatchItemEntity).find({ where: { batchKey: key }, order: { customId: 'ASC' } });
  }

  async update(key: string, patch: Partial<Pick<LlmBatch, 'providerBatchId' | 'status' | 'failure' | 'submittedAt' | 'endedAt'>> & { status?: LlmBatchStatus }): Promise<void> {
    await this.db.getRepository(LlmBatchEntity).update({ key }, patch);
  }

  /**
   * Each item's outcome and the batch's final state, with the items' `llm_calls` rows and cache
   * entries (`llm`, collected while settling them), in one transaction. Idempotent: an item's
   * call row has an attempt-independent key and is written once.
   */
  async settle(key: string, rows: ItemOutcomeRow[], patch: Parameters<ProviderBatchRepository['update']>[1], llm: DeferredLlmWrites = {}): Promise<void> {
    await this.db.transaction(async (m) => {
      await writeInOneStatement(m, deferredLlmStatements(m, [llm]));
      await this.saveOutcomes(key, rows, m);
      await m.getRepository(LlmBatchEntity).update({ key }, patch);
    });
  }

  /** Each item's outcome, in one statement (idempotent: a repeat writes the same values), after the items' call rows when given. */
  async saveOutcomes(key: string, rows: ItemOutcomeRow[], manager: EntityManager = this.db.manager, llm: DeferredLlmWrites = {}): Promise<void> {
    if (!rows.length) return;
    const deferred = deferredLlmStatements(manager, [llm]);
    if (deferred.length) {
      await manager.transaction(async (m) => {
        await writeInOneStatement(m, deferred);
        await this.saveOutcomes(key, rows, m);
      });
      return;
    }
    const values = rows.map((r) => ({
      custom_id: r.customId,
      outcome: r.outcome,
      response: r.response ?? null,
      error_type: r.errorType ?? null,
      error_message: r.errorMessage ?? null,
      retryable: r.retryable ?? null,
    }));
    await manager.query(
      `UPDATE llm_batch_items AS i
          SET outcome = v.outcome, response = v.response, error_type = v.error_type, error_message = v.error_message, retryable = v.retryable
         FROM jsonb_to_recordset($2::jsonb) AS v(custom_id text, outcome text, response jsonb, error_type text, error_message text, retryable boolean)
        WHERE i.batch_key = $1 AND i.custom_id = v.custom_id`,
      [key, JSON.stringify(values)],
    );
  }

  /** The answers of a batch's ok and cached items, by custom id (what the caller writes from). */
  async answers(key: string): Promise<Map<string, ChatResult>> {
    const rows = await this.db.getRepository(LlmBatchItemEntity).find({ where: { batchKey: key }, select: { customId: true, outcome: true, response: true } });
    return new Map(rows.filter((r) => r.response && (r.outcome === 'ok' || r.outcome === 'cached')).map((r) => [r.customId, r.response as unknown as ChatResult]));
  }
}
