import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Database statements and commits per workflow run (src/observability/run-db-stats.ts). Keyed
 * by workflow id and run id: an ingestion keeps its workflow id across continue-as-new, and a
 * report sums the runs of one execution chain.
 */
export class RunDbStats1763900200000 implements MigrationInterface {
  name = 'RunDbStats1763900200000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      CREATE TABLE run_db_stats (
        workflow_id text NOT NULL,
        run_id text NOT NULL,
        queries bigint NOT NULL DEFAULT 0,
        commits bigint NOT NULL DEFAULT 0,
        updated_at timestamptz NOT NULL DEFAULT now(),
        PRIMARY KEY (workflow_id, run_id)
      )`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query('DROP TABLE run_db_stats');
  }
}
