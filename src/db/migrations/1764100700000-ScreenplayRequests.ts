import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * A screenplay run's plot, stored before the run starts under its workflow id: the workflow's
 * input carries the id, never the plot (up to 100 KiB of the user's text).
 */
export class ScreenplayRequests1764100700000 implements MigrationInterface {
  name = 'ScreenplayRequests1764100700000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      CREATE TABLE screenplay_requests (
        workflow_id text PRIMARY KEY,
        plot text NOT NULL,
        created_at timestamptz NOT NULL DEFAULT now()
      )`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query('DROP TABLE screenplay_requests');
  }
}
