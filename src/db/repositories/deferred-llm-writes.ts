/**
 * The `llm_calls` rows and response-cache entries an activity collected instead of writing them
 * (see CallContext.collect in llm-service.ts): carried in the activity's result, durable in the
 * workflow's history from its completion, and written by the repository write that stores what
 * the calls produced — in the same statement or transaction, so they cost no commit of their own.
 */
import type { EntityManager } from 'typeorm';
import { LlmCacheEntryEntity } from '../entities/llm-cache-entry.entity';
import { LlmCallEntity, type LlmCall } from '../entities/llm-call.entity';
import type { LlmCallRecord } from '../../llm/call-log';
import type { CacheEntry } from '../../llm/response-cache';
import { buildUpsert, ROWS_PER_STATEMENT, type BuiltStatement } from './multi-row';

export interface DeferredLlmWrites {
  calls?: LlmCallRecord[];
  cacheEntries?: { key: string; entry: CacheEntry }[];
}

/**
 * The deferred writes of `rows` as statements (call rows, then cache entries), for
 * `writeInOneStatement` or a transaction. Idempotent: a call row is written once (its call key
 * is unique: ON CONFLICT DO NOTHING), a cache entry is overwritten with the same answer.
 */
export function deferredLlmStatements(manager: EntityManager, rows: DeferredLlmWrites[]): BuiltStatement[] {
  const calls = rows.flatMap((r) => r.calls ?? []).map((c) => ({ ...c, callKey: c.callKey ?? null, createdAt: c.createdAt ? new Date(c.createdAt) : new Date() }) as LlmCall);
  // One row per key: Postgres refuses to update the same row twice in one statement.
  const entries = new Map(rows.flatMap((r) => r.cacheEntries ?? []).map(({ key, entry }) => [key, entry]));
  const cache = [...entries].map(([key, e]) => ({ key, provider: e.provider, model: e.model, promptVersion: e.promptVersion, purpose: e.purpose, response: e.response as object }));
  // In chunks of ROWS_PER_STATEMENT rows, each well under Postgres's bind-parameter limit
  // (writeInOneStatement packs them back into as few statements as the limit allows).
  return [
    ...chunks(calls).map((rows) => buildUpsert(manager, LlmCallEntity, rows, { ignore: true })),
    ...chunks(cache).map((rows) => buildUpsert(manager, LlmCacheEntryEntity, rows, { conflict: ['key'], overwrite: ['provider', 'model', 'prompt_version', 'purpose', 'response', 'created_at'] })),
  ].filter((st) => st.sql);
}

function chunks<T>(rows: T[]): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < rows.length; i += ROWS_PER_STATEMENT) out.push(rows.slice(i, i + ROWS_PER_STATEMENT));
  return out;
}
