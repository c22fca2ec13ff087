import { createHash } from 'node:crypto';
import type { DataSource } from 'typeorm';

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

export interface CacheStore {
  get<T>(key: string): Promise<T | undefined>;
  put(key: string, entry: { provider: string; model: string; promptVersion: string; purpose: string; response: unknown }): Promise<void>;
}

/** Responses kept in Postgres (`llm_response_cache`); a repeated put of the same key is a no-op. */
export class PostgresCacheStore implements CacheStore {
  constructor(private readonly db: DataSource) {}

  async get<T>(key: string): Promise<T | undefined> {
    const rows: { response: T }[] = await this.db.query('SELECT response FROM llm_response_cache WHERE key = $1', [key]);
    return rows[0]?.response;
  }

  async put(key: string, e: { provider: string; model: string; promptVersion: string; purpose: string; response: unknown }): Promise<void> {
    await this.db.query(
      `INSERT INTO llm_response_cache (key, provider, model, prompt_version, purpose, response)
       VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (key) DO NOTHING`,
      [key, e.provider, e.model, e.promptVersion, e.purpose, JSON.stringify(e.response)],
    );
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
}
