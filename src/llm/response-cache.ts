import { createHash } from 'node:crypto';
import type { DataSource } from 'typeorm';
import { queryPerChunk } from '../db/repositories/multi-row';
import { WriteBehind } from '../db/write-behind';

/** Stable JSON: object keys sorted, so equal requests hash equally whatever their key order. */
export function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (value && typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>)
      .filter(([, v]) => v !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(',')}}`;
  }
  return JSON.stringify(value);
}

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
  put(key: string, entry: CacheEntry): Promise<void>;
  /** Resolves when every entry put so far is stored. */
  flush(): Promise<void>;
}

/**
 * Responses kept in Postgres (`llm_response_cache`). Writes are buffered and stored in one
 * multi-row insert per batch (not a commit per call); an entry still in the buffer is served
 * from it. A repeated put of the same key is a no-op.
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
      (batch) =>
        queryPerChunk(
          db,
          (values) => `INSERT INTO llm_response_cache (key, provider, model, prompt_version, purpose, response) VALUES ${values} ON CONFLICT (key) DO NOTHING`,
          batch.map(({ key, entry: e }) => [key, e.provider, e.model, e.promptVersion, e.purpose, JSON.stringify(e.response)]),
          ['', '', '', '', '', '::jsonb'],
        ).then(() => undefined),
      // The cache is an optimisation: a lost batch costs a future call, never a failed one.
      { maxItems: opts.maxPending ?? 50, intervalMs: opts.flushIntervalMs ?? 200, onError: opts.onError, detach: opts.detach },
    );
  }

  async get<T>(key: string): Promise<T | undefined> {
    const buffered = this.writes.pending.find((w) => w.key === key);
    if (buffered) return buffered.entry.response as T;
    const rows: { response: T }[] = await this.db.query('SELECT response FROM llm_response_cache WHERE key = $1', [key]);
    return rows[0]?.response;
  }

  async put(key: string, entry: CacheEntry): Promise<void> {
    this.writes.add({ key, entry });
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
    if (!this.entries.has(key)) this.entries.set(key, e.response);
  }

  async flush(): Promise<void> {}
}
