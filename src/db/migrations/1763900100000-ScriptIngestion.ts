import type { MigrationInterface, QueryRunner } from 'typeorm';

/** Scripts, scenes and characters (import), and what ingestion derives from them. */
export class ScriptIngestion1763900100000 implements MigrationInterface {
  name = 'ScriptIngestion1763900100000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      CREATE TABLE scripts (
        id uuid PRIMARY KEY,
        title text NOT NULL,
        format text NOT NULL,
        source_name text NOT NULL,
        created_at timestamptz NOT NULL DEFAULT now(),
        updated_at timestamptz NOT NULL DEFAULT now()
      )`);
    await q.query(`CREATE INDEX scripts_title_idx ON scripts (lower(title))`);
    await q.query(`
      CREATE TABLE scenes (
        id bigserial PRIMARY KEY,
        script_id uuid NOT NULL REFERENCES scripts(id) ON DELETE CASCADE,
        position integer NOT NULL,
        heading text NOT NULL,
        scene_number text,
        text text NOT NULL,
        content_hash text NOT NULL,
        updated_at timestamptz NOT NULL DEFAULT now()
      )`);
    await q.query(`CREATE UNIQUE INDEX scenes_script_position_idx ON scenes (script_id, position)`);
    await q.query(`
      CREATE TABLE characters (
        id bigserial PRIMARY KEY,
        script_id uuid NOT NULL REFERENCES scripts(id) ON DELETE CASCADE,
        name text NOT NULL,
        UNIQUE (script_id, name)
      )`);
    await q.query(`
      CREATE TABLE scene_characters (
        scene_id bigint NOT NULL REFERENCES scenes(id) ON DELETE CASCADE,
        character_id bigint NOT NULL REFERENCES characters(id) ON DELETE CASCADE,
        PRIMARY KEY (scene_id, character_id)
      )`);
    await q.query(`CREATE INDEX scene_characters_character_idx ON scene_characters (character_id)`);
    await q.query(`
      CREATE TABLE scene_summaries (
        scene_id bigint PRIMARY KEY REFERENCES scenes(id) ON DELETE CASCADE,
        content_hash text NOT NULL,
        model text NOT NULL,
        prompt_version text NOT NULL,
        summary text NOT NULL,
        updated_at timestamptz NOT NULL DEFAULT now()
      )`);
    await q.query(`
      CREATE TABLE script_outlines (
        script_id uuid PRIMARY KEY REFERENCES scripts(id) ON DELETE CASCADE,
        outline text NOT NULL,
        model text NOT NULL,
        prompt_version text NOT NULL,
        sections integer NOT NULL,
        input_hash text NOT NULL,
        updated_at timestamptz NOT NULL DEFAULT now()
      )`);
    await q.query(`
      CREATE TABLE character_sheets (
        character_id bigint PRIMARY KEY REFERENCES characters(id) ON DELETE CASCADE,
        sheet jsonb NOT NULL,
        model text NOT NULL,
        prompt_version text NOT NULL,
        input_hash text NOT NULL,
        updated_at timestamptz NOT NULL DEFAULT now()
      )`);
    await q.query(`
      CREATE TABLE scene_embeddings (
        scene_id bigint PRIMARY KEY REFERENCES scenes(id) ON DELETE CASCADE,
        input_hash text NOT NULL,
        model text NOT NULL,
        dimensions integer NOT NULL,
        embedding real[] NOT NULL,
        updated_at timestamptz NOT NULL DEFAULT now()
      )`);
    await q.query(`
      CREATE TABLE ingestion_runs (
        workflow_id text NOT NULL,
        run_id text PRIMARY KEY,
        script_id uuid NOT NULL REFERENCES scripts(id) ON DELETE CASCADE,
        mode text NOT NULL,
        flags jsonb NOT NULL,
        concurrency jsonb NOT NULL,
        status text NOT NULL,
        started_at timestamptz NOT NULL DEFAULT now(),
        finished_at timestamptz,
        result jsonb,
        failures jsonb NOT NULL DEFAULT '[]'
      )`);
    await q.query(`CREATE INDEX ingestion_runs_script_idx ON ingestion_runs (script_id, started_at DESC)`);
  }

  async down(q: QueryRunner): Promise<void> {
    for (const t of ['ingestion_runs', 'scene_embeddings', 'character_sheets', 'script_outlines', 'scene_summaries', 'scene_characters', 'characters', 'scenes', 'scripts']) {
      await q.query(`DROP TABLE ${t}`);
    }
  }
}
