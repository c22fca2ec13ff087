import { EntitySchema } from 'typeorm';

/** A provider response kept under the hash of (provider, model, prompt version, full request). */
export interface LlmCacheEntry {
  key: string;
  provider: string;
  model: string;
  promptVersion: string;
  purpose: string;
  /** The adapter's result (ChatResult or EmbedResult) as JSON. */
  response: unknown;
  createdAt: Date;
}

export const LlmCacheEntryEntity = new EntitySchema<LlmCacheEntry>({
  name: 'LlmCacheEntry',
  tableName: 'llm_response_cache',
  columns: {
    key: { type: 'text', primary: true },
    provider: { type: 'text' },
    model: { type: 'text' },
    promptVersion: { name: 'prompt_version', type: 'text' },
    purpose: { type: 'text' },
    response: { type: 'jsonb' },
    createdAt: { name: 'created_at', type: 'timestamptz', createDate: true },
  },
});
