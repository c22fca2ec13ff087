import { createHash } from 'node:crypto';
import { canonicalJson } from './canonical-json';
import type { DataSource } from 'typeorm';
import { LlmCacheEntryEntity } from '../db/entities/llm-cache-entry.entity';
import { WriteBehind } from '../db/write-behind';

/** Cache key = hash of provider, model, prompt version and the full request. */
export function cacheKey(parts: { provider: string; model: string; promptVersion: string; kind: 'chat' | 'embed'; request: unknown }): string {
  return createHash('sha256').update(canonicalJson(parts)).digest('hex');
}

export interface CacheEntry {
  provider: string;
  model: string;
  promptVersion: string;
  purpose: string;
  response: unknown;
}

export interface CacheStore {
  get<T>(key: string): Promise<T | undefined>;
  /** Stores `entry` under `key`, replacing what the key held. */
  put(key: string, entry: CacheEntry): Promise<void>;
  /** Resolves when every entry put so far is stored. */
  flush(): Promise<void>;
}

/**
 * Responses kept in Postgres (`llm_response_cache`). Writes are buffered and stored in one
 * multi-row upsert per batch (not a commit per call); an entry still in the buffer is served
 * from it. A put replaces what the key held: callers put only answers they validated, and
 * replace an entry that failed validation that way. The cache is an optimisation: a lost write
 * costs a future call, never a failed one.
 */
export class PostgresCacheStore implements CacheStore {
  private readonly writes: WriteBehind<{ key: string; entry: CacheEntry }>;

  constructor(
    private readonly db: DataSource,
    opts: {
      maxPending?: number;
      flushIntervalMs?: number;
      onError?: (err: unknown) => void;
      /** Runs the batch write outside any activity's accounting (a batch mixes many runs' calls). */
      detach?: <T>(fn: () => T) => T;
    } = {},
  ) {
    this.writes = new WriteBehind(
      async (batch) => {
        // One row per key: Postgres refuses to update the same row twice in one statement.
        const latest = new Map(batch.map(({ key, entry }) => [key, entry]));
        const rows = [...latest].map(([key, e]) => ({
          key, provider: e.provider, model: e.model, promptVersion: e.promptVersion, purpose: e.purpose, response: e.response as object,
        }));
        await db
          .createQueryBuilder()
          .insert()
          .into(LlmCacheEntryEntity)
          .values(rows)
          .orUpdate(['provider', 'model', 'prompt_version', 'purpose', 'response', 'created_at'], ['key'])
          .updateEntity(false)
          .execute();
      },
      { maxItems: opts.maxPending ?? 50, intervalMs: opts.flushIntervalMs ?? 200, onError: opts.onError, detach: opts.detach },
    );
  }

  async get<T>(key: string): Promise<T | undefined> {
    const buffered = [...this.writes.pending].reverse().find((w) => w.key === key);
    if (buffered) return buffered.entry.response as T;
    const row = await this.db.getRepository(LlmCacheEntryEntity).findOne({ select: { response: true }, where: { key } });
    return (row?.response ?? undefined) as T | undefined;
  }

  /** Write-behind: the cache is an optimisation, so a call does not wait for its entry (a failed write goes to onError). */
  async put(key: string, entry: CacheEntry): Promise<void> {
    this.writes.add({ key, entry }).catch(() => undefined);
  }

  flush(): Promise<void> {
    return this.writes.flush();
  }
}

/** In-process store: for tests and tools that run without a database. */
export class MemoryCacheStore implements CacheStore {
  readonly entries = new Map<string, unknown>();

  async get<T>(key: string): Promise<T | undefined> {
    return this.entries.get(key) as T | undefined;
  }

  async put(key: string, e: { response: unknown }): Promise<void> {
    this.entries.set(key, e.response);
  }

  async flush(): Promise<void> {}
}
