import type { MigrationInterface, QueryRunner } from 'typeorm';

/** Each workflow run's report, stored when the run ends (src/reporting). */
export class RunReports1763900300000 implements MigrationInterface {
  name = 'RunReports1763900300000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      CREATE TABLE run_reports (
        first_run_id text PRIMARY KEY,
        workflow_id text NOT NULL,
        kind text NOT NULL,
        script_id uuid,
        status text NOT NULL,
        report jsonb NOT NULL,
        created_at timestamptz NOT NULL DEFAULT now()
      )`);
    await q.query('CREATE INDEX run_reports_workflow_idx ON run_reports (workflow_id, created_at DESC)');
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query('DROP TABLE run_reports');
  }
}
