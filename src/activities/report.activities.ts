import { Context } from '@temporalio/activity';
import type { Client } from '@temporalio/client';
import type { DataSource } from 'typeorm';
import type { AppConfig } from '../config';
import { buildRunReport, saveRunReport, type RunToReport } from '../reporting/load-run-report';

export function historyLengthFrom(client: Client) {
  return async (workflowId: string, runId: string): Promise<number | null> =>
    (await client.workflow.getHandle(workflowId, runId).describe()).historyLength ?? null;
}

export function createReportActivities(deps: { db: DataSource; config: AppConfig; flushRecorders: () => Promise<void> }) {
  return {
    /**
     * Builds and stores the run's report when it ends (completed, failed or cancelled).
     * Idempotent: a retry overwrites the same row. The history length is as of this call.
     */
    async storeRunReport(run: RunToReport): Promise<void> {
      // This worker's buffered call-log rows and DB counts belong in the report: write them first.
      await deps.flushRecorders();
      const report = await buildRunReport(
        { db: deps.db, prices: deps.config.llm.prices, historyLength: historyLengthFrom(Context.current().client) },
        run,
      );
      await saveRunReport(deps.db, run, report);
    },
  };
}
