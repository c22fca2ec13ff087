import type { MigrationInterface, QueryRunner } from 'typeorm';

export class LlmCallLogAndCache1763900000000 implements MigrationInterface {
  name = 'LlmCallLogAndCache1763900000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      CREATE TABLE llm_calls (
        id bigserial PRIMARY KEY,
        created_at timestamptz NOT NULL DEFAULT now(),
        purpose text NOT NULL,
        provider text NOT NULL,
        model text NOT NULL,
        prompt_version text NOT NULL,
        outcome text NOT NULL,
        error_type text,
        latency_ms integer NOT NULL,
        input_tokens integer NOT NULL,
        output_tokens integer NOT NULL,
        workflow_id text,
        run_id text,
        activity_id text,
        activity_type text,
        attempt integer,
        cache_key text
      )`);
    await q.query(`CREATE INDEX llm_calls_workflow_idx ON llm_calls (workflow_id)`);
    await q.query(`
      CREATE TABLE llm_response_cache (
        key text PRIMARY KEY,
        provider text NOT NULL,
        model text NOT NULL,
        prompt_version text NOT NULL,
        purpose text NOT NULL,
        response jsonb NOT NULL,
        created_at timestamptz NOT NULL DEFAULT now()
      )`);
    await q.query(`
      CREATE TABLE smoke_results (
        workflow_id text PRIMARY KEY,
        prompt text NOT NULL,
        text text NOT NULL,
        model text NOT NULL,
        input_tokens integer NOT NULL,
        output_tokens integer NOT NULL,
        cached boolean NOT NULL,
        created_at timestamptz NOT NULL DEFAULT now()
      )`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP TABLE smoke_results`);
    await q.query(`DROP TABLE llm_response_cache`);
    await q.query(`DROP TABLE llm_calls`);
  }
}
