import type { MigrationInterface, QueryRunner } from 'typeorm';

/** Articles (imported news), their embeddings, stories with their article links, and story runs. */
export class NewsStories1764100000000 implements MigrationInterface {
  name = 'NewsStories1764100000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      CREATE TABLE articles (
        id bigserial PRIMARY KEY,
        article_key text NOT NULL,
        url text,
        source_id text,
        title text NOT NULL,
        body text NOT NULL,
        topic text,
        published_at timestamptz NOT NULL,
        source_name text,
        content_hash text NOT NULL,
        created_at timestamptz NOT NULL DEFAULT now(),
        updated_at timestamptz NOT NULL DEFAULT now()
      )`);
    await q.query(`CREATE UNIQUE INDEX articles_key_idx ON articles (article_key)`);
    await q.query(`CREATE INDEX articles_published_idx ON articles (published_at)`);
    await q.query(`
      CREATE TABLE article_embeddings (
        article_id bigint PRIMARY KEY REFERENCES articles(id) ON DELETE CASCADE,
        input_hash text NOT NULL,
        model text NOT NULL,
        dimensions integer NOT NULL,
        embedding real[] NOT NULL,
        updated_at timestamptz NOT NULL DEFAULT now()
      )`);
    await q.query(`
      CREATE TABLE stories (
        id uuid PRIMARY KEY,
        story_hash text NOT NULL,
        model text NOT NULL,
        prompt_version text NOT NULL,
        headline text NOT NULL,
        summary text NOT NULL,
        key_points jsonb NOT NULL,
        cited_article_ids jsonb NOT NULL,
        topic text,
        window_start timestamptz NOT NULL,
        window_end timestamptz NOT NULL,
        article_count integer NOT NULL,
        status text NOT NULL,
        superseded_at timestamptz,
        superseded_by uuid,
        created_at timestamptz NOT NULL DEFAULT now(),
        updated_at timestamptz NOT NULL DEFAULT now()
      )`);
    await q.query(`CREATE UNIQUE INDEX stories_identity_idx ON stories (story_hash, model, prompt_version)`);
    await q.query(`CREATE INDEX stories_window_idx ON stories (status, window_start)`);
    await q.query(`
      CREATE TABLE story_articles (
        story_id uuid NOT NULL REFERENCES stories(id) ON DELETE CASCADE,
        article_id bigint NOT NULL REFERENCES articles(id) ON DELETE CASCADE,
        PRIMARY KEY (story_id, article_id)
      )`);
    await q.query(`CREATE INDEX story_articles_article_idx ON story_articles (article_id)`);
    await q.query(`
      CREATE TABLE story_runs (
        run_id text PRIMARY KEY,
        workflow_id text NOT NULL,
        scope jsonb NOT NULL,
        status text NOT NULL,
        result jsonb,
        failures jsonb NOT NULL DEFAULT '[]',
        finished_at timestamptz NOT NULL DEFAULT now()
      )`);
    await q.query(`CREATE INDEX story_runs_workflow_idx ON story_runs (workflow_id)`);
  }

  async down(q: QueryRunner): Promise<void> {
    for (const t of ['story_runs', 'story_articles', 'stories', 'article_embeddings', 'articles']) await q.query(`DROP TABLE ${t}`);
  }
}
