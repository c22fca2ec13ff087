import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Story sessions' prompt settings changed at runtime (`POST /optimization/configure`, `sessions
 * configure`): one row at most (id 1), each setting null while the environment's value applies.
 * The ranges are the API's, so no other writer can store what a prompt cannot use.
 */
export class SessionSettings1764100800000 implements MigrationInterface {
  name = 'SessionSettings1764100800000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      CREATE TABLE session_settings (
        id smallint PRIMARY KEY,
        max_context_tokens integer,
        max_turn_history integer,
        updated_at timestamptz NOT NULL DEFAULT now(),
        CONSTRAINT session_settings_singleton CHECK (id = 1),
        CONSTRAINT session_settings_max_context_tokens_range CHECK (max_context_tokens BETWEEN 500 AND 1000000),
        CONSTRAINT session_settings_max_turn_history_range CHECK (max_turn_history BETWEEN 0 AND 1000)
      )`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query('DROP TABLE session_settings');
  }
}
