import type { MigrationInterface, QueryRunner } from 'typeorm';

/** A story's runs, newest first: a new version takes its latest run's personas (`generate --story`). */
export class ScreenplayRunsByStory1764100900000 implements MigrationInterface {
  name = 'ScreenplayRunsByStory1764100900000';

  async up(q: QueryRunner): Promise<void> {
    await q.query('CREATE INDEX screenplay_runs_story_idx ON screenplay_runs (story_id, created_at)');
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query('DROP INDEX screenplay_runs_story_idx');
  }
}
