import type { MigrationInterface, QueryRunner } from 'typeorm';

/** Story sessions: LLM summaries of the turns that left the prompt's history window, one per range. */
export class SessionSummaries1764100600000 implements MigrationInterface {
  name = 'SessionSummaries1764100600000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      CREATE TABLE session_summaries (
        session_id uuid NOT NULL REFERENCES story_sessions(id) ON DELETE CASCADE,
        through_turn integer NOT NULL,
        from_turn integer NOT NULL,
        summary text NOT NULL,
        model text NOT NULL,
        created_at timestamptz NOT NULL DEFAULT now(),
        PRIMARY KEY (session_id, through_turn)
      )`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query('DROP TABLE session_summaries');
  }
}
