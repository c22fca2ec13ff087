import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Provider batches: `llm_batches` (one row per batch, keyed by the caller's attempt-independent
 * key, with the provider's id once known), `llm_batch_items` (each item's request and outcome),
 * and `llm_calls.batch` so the report prices batch calls at the batch discount.
 */
export class ProviderBatches1764100100000 implements MigrationInterface {
  name = 'ProviderBatches1764100100000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE llm_calls ADD COLUMN batch boolean NOT NULL DEFAULT false`);
    await q.query(`
      CREATE TABLE llm_batches (
        key text PRIMARY KEY,
        provider text NOT NULL,
        model text NOT NULL,
        purpose text NOT NULL,
        prompt_version text NOT NULL,
        use_cache boolean NOT NULL,
        workflow_id text,
        provider_batch_id text,
        status text NOT NULL,
        item_count integer NOT NULL,
        failure text,
        created_at timestamptz NOT NULL DEFAULT now(),
        submitted_at timestamptz,
        ended_at timestamptz
      )`);
    await q.query(`
      CREATE TABLE llm_batch_items (
        batch_key text NOT NULL REFERENCES llm_batches (key) ON DELETE CASCADE,
        custom_id text NOT NULL,
        request jsonb NOT NULL,
        outcome text,
        response jsonb,
        error_type text,
        error_message text,
        retryable boolean,
        PRIMARY KEY (batch_key, custom_id)
      )`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP TABLE llm_batch_items`);
    await q.query(`DROP TABLE llm_batches`);
    await q.query(`ALTER TABLE llm_calls DROP COLUMN batch`);
  }
}
