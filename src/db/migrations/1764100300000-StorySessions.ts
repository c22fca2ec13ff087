import type { MigrationInterface, QueryRunner } from 'typeorm';

/** Story sessions: the world (state, characters, relationships, memories), turns, write-once tool effects, performance metrics. */
export class StorySessions1764100300000 implements MigrationInterface {
  name = 'StorySessions1764100300000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      CREATE TABLE story_sessions (
        id uuid PRIMARY KEY,
        title text NOT NULL,
        script_id uuid,
        status text NOT NULL,
        world jsonb NOT NULL DEFAULT '{}',
        turns integer NOT NULL DEFAULT 0,
        created_at timestamptz NOT NULL DEFAULT now(),
        updated_at timestamptz NOT NULL DEFAULT now(),
        ended_at timestamptz
      )`);
    await q.query('CREATE INDEX story_sessions_created_idx ON story_sessions (created_at)');
    await q.query(`
      CREATE TABLE session_characters (
        id bigserial PRIMARY KEY,
        session_id uuid NOT NULL REFERENCES story_sessions(id) ON DELETE CASCADE,
        name text NOT NULL,
        description text NOT NULL DEFAULT '',
        traits jsonb NOT NULL DEFAULT '[]',
        created_at timestamptz NOT NULL DEFAULT now(),
        UNIQUE (session_id, name)
      )`);
    await q.query(`
      CREATE TABLE session_relationships (
        id bigserial PRIMARY KEY,
        session_id uuid NOT NULL REFERENCES story_sessions(id) ON DELETE CASCADE,
        source text NOT NULL,
        target text NOT NULL,
        kind text NOT NULL,
        UNIQUE (session_id, source, target)
      )`);
    await q.query(`
      CREATE TABLE session_memories (
        id bigserial PRIMARY KEY,
        session_id uuid NOT NULL REFERENCES story_sessions(id) ON DELETE CASCADE,
        turn_number integer,
        text text NOT NULL,
        embedding real[],
        model text,
        created_at timestamptz NOT NULL DEFAULT now()
      )`);
    await q.query('CREATE INDEX session_memories_session_idx ON session_memories (session_id)');
    await q.query(`
      CREATE TABLE session_turns (
        id bigserial PRIMARY KEY,
        session_id uuid NOT NULL REFERENCES story_sessions(id) ON DELETE CASCADE,
        turn_number integer NOT NULL,
        input text NOT NULL,
        reply text,
        status text NOT NULL,
        error text,
        tool_calls jsonb NOT NULL DEFAULT '[]',
        timings jsonb NOT NULL DEFAULT '{}',
        started_at timestamptz NOT NULL DEFAULT now(),
        finished_at timestamptz,
        UNIQUE (session_id, turn_number)
      )`);
    await q.query(`
      CREATE TABLE session_tool_writes (
        session_id uuid NOT NULL REFERENCES story_sessions(id) ON DELETE CASCADE,
        turn_number integer NOT NULL,
        tool_call_id text NOT NULL,
        tool_name text NOT NULL,
        result jsonb NOT NULL,
        created_at timestamptz NOT NULL DEFAULT now(),
        PRIMARY KEY (session_id, turn_number, tool_call_id)
      )`);
    await q.query(`
      CREATE TABLE performance_metrics (
        id bigserial PRIMARY KEY,
        op_key text NOT NULL UNIQUE,
        operation text NOT NULL,
        session_id uuid,
        turn_number integer,
        duration_ms double precision NOT NULL,
        input_tokens integer NOT NULL DEFAULT 0,
        output_tokens integer NOT NULL DEFAULT 0,
        tool_name text,
        tool_kind text,
        ok boolean NOT NULL,
        error_type text,
        details jsonb NOT NULL DEFAULT '{}',
        created_at timestamptz NOT NULL DEFAULT now()
      )`);
    await q.query('CREATE INDEX performance_metrics_operation_idx ON performance_metrics (operation, created_at)');
    await q.query(`
      CREATE TABLE performance_windows (
        id serial PRIMARY KEY,
        started_at timestamptz NOT NULL DEFAULT now()
      )`);
  }

  async down(q: QueryRunner): Promise<void> {
    for (const table of ['performance_windows', 'performance_metrics', 'session_tool_writes', 'session_turns', 'session_memories', 'session_relationships', 'session_characters', 'story_sessions']) {
      await q.query(`DROP TABLE ${table}`);
    }
  }
}
