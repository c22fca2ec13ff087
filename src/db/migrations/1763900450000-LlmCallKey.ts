import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * A stable key per call made inside an activity (workflow, run, activity, attempt, request
 * index), unique, so writing a call's row again never duplicates it.
 */
export class LlmCallKey1763900450000 implements MigrationInterface {
  name = 'LlmCallKey1763900450000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE llm_calls ADD COLUMN call_key text`);
    await q.query(`CREATE UNIQUE INDEX llm_calls_call_key_idx ON llm_calls (call_key)`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP INDEX llm_calls_call_key_idx`);
    await q.query(`ALTER TABLE llm_calls DROP COLUMN call_key`);
  }
}
