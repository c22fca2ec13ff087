import type { DataSource } from 'typeorm';
import type { ModelPrice } from '../config';
import { readRunDbStats, sumRunDbStats } from '../observability/run-db-stats';
import { RunRepository } from '../db/repositories/run.repository';
import { computeRunReport, type RunReport, type RunToReport } from './run-report';

export type { RunToReport };

export interface ReportSources {
  db: DataSource;
  prices: Record<string, ModelPrice>;
  /** Events in one run's history; null when Temporal cannot say. */
  historyLength: (workflowId: string, runId: string) => Promise<number | null>;
}

/**
 * Fetches the run's calls, DB counts and history lengths (at once: the report is written at the
 * end of a run, on its critical path), and computes its report.
 */
export async function buildRunReport(sources: ReportSources, run: RunToReport): Promise<RunReport> {
  const [calls, dbRows, lengths] = await Promise.all([
    new RunRepository(sources.db).callsOf(run.workflowId, run.runIds),
    readRunDbStats(sources.db, [run.workflowId], run.runIds).catch(() => undefined),
    Promise.all(
      run.runIds.map((id, i) =>
        i === run.runIds.length - 1 && run.currentHistoryLength !== undefined
          ? Promise.resolve(run.currentHistoryLength)
          : sources.historyLength(run.workflowId, id).catch(() => null),
      ),
    ),
  ]);
  return computeRunReport({
    ...run,
    calls,
    prices: sources.prices,
    db: dbRows ? sumRunDbStats(dbRows) : null,
    historyEvents: lengths.some((l) => l === null) ? null : lengths.reduce<number>((a, b) => a + (b ?? 0), 0),
  });
}

export async function saveRunReport(db: DataSource, run: RunToReport, report: RunReport): Promise<void> {
  await new RunRepository(db).saveReport(run, report);
}
