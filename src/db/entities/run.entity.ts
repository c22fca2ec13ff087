/** What each workflow run did: the ingestion's own record, its database cost and its report. */
import { EntitySchema } from 'typeorm';
import { cascadingForeignKey, timestampDefaultNow } from './columns';

export interface IngestionRun {
  workflowId: string;
  runId: string;
  scriptId: string;
  mode: string;
  flags: object;
  concurrency: object;
  /** running | completed | completed_with_failures | failed | cancelled */
  status: string;
  startedAt: Date;
  finishedAt: Date | null;
  result: object | null;
  failures: object[];
}

export const IngestionRunEntity = new EntitySchema<IngestionRun>({
  name: 'IngestionRun',
  tableName: 'ingestion_runs',
  columns: {
    workflowId: { name: 'workflow_id', type: 'text' },
    runId: { name: 'run_id', type: 'text', primary: true },
    scriptId: { name: 'script_id', type: 'uuid' },
    mode: { type: 'text' },
    flags: { type: 'jsonb' },
    concurrency: { type: 'jsonb' },
    status: { type: 'text' },
    startedAt: timestampDefaultNow('started_at'),
    finishedAt: { name: 'finished_at', type: 'timestamptz', nullable: true },
    result: { type: 'jsonb', nullable: true },
    failures: { type: 'jsonb', default: () => "'[]'" },
  },
  // (script_id, started_at DESC): the sort order is the migration's; metadata compares columns only.
  indices: [{ name: 'ingestion_runs_script_idx', columns: ['scriptId', 'startedAt'] }],
  foreignKeys: [cascadingForeignKey('ingestion_runs', 'script_id', 'scriptId', 'Script')],
});

/** Statements and commits charged to one workflow run (src/observability/run-db-stats.ts). */
export interface RunDbStats {
  workflowId: string;
  runId: string;
  queries: number;
  commits: number;
  updatedAt: Date;
}

const countAsNumber = { to: (v: unknown) => v, from: (v: string) => Number(v) };

export const RunDbStatsEntity = new EntitySchema<RunDbStats>({
  name: 'RunDbStats',
  tableName: 'run_db_stats',
  columns: {
    workflowId: { name: 'workflow_id', type: 'text', primary: true },
    runId: { name: 'run_id', type: 'text', primary: true },
    queries: { type: 'bigint', default: 0, transformer: countAsNumber },
    commits: { type: 'bigint', default: 0, transformer: countAsNumber },
    updatedAt: timestampDefaultNow('updated_at'),
  },
});

/** A run's report, keyed by the first run id of its execution chain. */
export interface RunReportRow {
  firstRunId: string;
  workflowId: string;
  kind: string;
  scriptId: string | null;
  status: string;
  report: object;
  createdAt: Date;
}

export const RunReportEntity = new EntitySchema<RunReportRow>({
  name: 'RunReport',
  tableName: 'run_reports',
  columns: {
    firstRunId: { name: 'first_run_id', type: 'text', primary: true },
    workflowId: { name: 'workflow_id', type: 'text' },
    kind: { type: 'text' },
    scriptId: { name: 'script_id', type: 'uuid', nullable: true },
    status: { type: 'text' },
    report: { type: 'jsonb' },
    createdAt: timestampDefaultNow('created_at'),
  },
  indices: [{ name: 'run_reports_workflow_idx', columns: ['workflowId', 'createdAt'] }],
});
