import type { MigrationInterface, QueryRunner } from 'typeorm';

/** Personas (unique name, JSONB config), screenplay stories (table screenplay_stories: `stories` is the news job's), their screenplay versions and cast, and generation runs. */
export class Screenplays1764100200000 implements MigrationInterface {
  name = 'Screenplays1764100200000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      CREATE TABLE personas (
        id bigserial PRIMARY KEY,
        name text NOT NULL,
        config jsonb NOT NULL,
        created_at timestamptz NOT NULL DEFAULT now(),
        updated_at timestamptz NOT NULL DEFAULT now(),
        CONSTRAINT personas_name_key UNIQUE (name)
      )`);
    await q.query(`
      CREATE TABLE screenplay_stories (
        id uuid PRIMARY KEY,
        title text NOT NULL,
        plot text NOT NULL,
        created_at timestamptz NOT NULL DEFAULT now(),
        updated_at timestamptz NOT NULL DEFAULT now()
      )`);
    await q.query(`
      CREATE TABLE screenplay_versions (
        id bigserial PRIMARY KEY,
        story_id uuid NOT NULL REFERENCES screenplay_stories(id) ON DELETE CASCADE,
        version int NOT NULL,
        save_key text NOT NULL,
        fountain text NOT NULL,
        provider text NOT NULL,
        model text NOT NULL,
        truncated boolean NOT NULL,
        continuations int NOT NULL,
        stats jsonb NOT NULL,
        script_id uuid,
        created_at timestamptz NOT NULL DEFAULT now(),
        CONSTRAINT screenplay_versions_story_id_version_key UNIQUE (story_id, version),
        CONSTRAINT screenplay_versions_save_key_key UNIQUE (save_key)
      )`);
    await q.query(`
      CREATE TABLE story_cast (
        version_id bigint NOT NULL REFERENCES screenplay_versions(id) ON DELETE CASCADE,
        character text NOT NULL,
        persona_id bigint,
        PRIMARY KEY (version_id, character),
        CONSTRAINT story_cast_persona_id_fkey FOREIGN KEY (persona_id) REFERENCES personas(id) ON DELETE SET NULL
      )`);
    await q.query(`
      CREATE TABLE screenplay_runs (
        run_key text PRIMARY KEY,
        workflow_id text NOT NULL,
        story_id uuid NOT NULL,
        title text NOT NULL,
        plot text NOT NULL,
        personas jsonb NOT NULL,
        system text NOT NULL,
        prompt text NOT NULL,
        prompt_report jsonb NOT NULL,
        created_at timestamptz NOT NULL DEFAULT now()
      )`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query('DROP TABLE screenplay_runs');
    await q.query('DROP TABLE story_cast');
    await q.query('DROP TABLE screenplay_versions');
    await q.query('DROP TABLE screenplay_stories');
    await q.query('DROP TABLE personas');
  }
}
