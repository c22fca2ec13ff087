import type { DataSource } from 'typeorm';
import type { ModelPrice } from '../config';
import { readRunDbStats, sumRunDbStats } from '../observability/run-db-stats';
import { computeRunReport, type CallRow, type RunReport, type RunToReport } from './run-report';

export type { RunToReport };

export interface ReportSources {
  db: DataSource;
  prices: Record<string, ModelPrice>;
  /** Events in one run's history; null when Temporal cannot say. */
  historyLength: (workflowId: string, runId: string) => Promise<number | null>;
}

/** Fetches the run's calls, DB counts and history lengths, and computes its report. */
export async function buildRunReport(sources: ReportSources, run: RunToReport): Promise<RunReport> {
  const rows: { purpose: string; provider: string; model: string; outcome: string; error_type: string | null; latency_ms: number; input_tokens: number; output_tokens: number; attempt: number | null }[] =
    await sources.db.query(
      `SELECT purpose, provider, model, outcome, error_type, latency_ms, input_tokens, output_tokens, attempt
         FROM llm_calls WHERE workflow_id = $1 AND run_id = ANY($2::text[])`,
      [run.workflowId, run.runIds],
    );
  const calls: CallRow[] = rows.map((r) => ({
    purpose: r.purpose, provider: r.provider, model: r.model, outcome: r.outcome, errorType: r.error_type,
    latencyMs: r.latency_ms, inputTokens: r.input_tokens, outputTokens: r.output_tokens, attempt: r.attempt,
  }));
  const dbRows = await readRunDbStats(sources.db, [run.workflowId], run.runIds).catch(() => undefined);
  const lengths = await Promise.all(run.runIds.map((id) => sources.historyLength(run.workflowId, id).catch(() => null)));
  return computeRunReport({
    ...run,
    calls,
    prices: sources.prices,
    db: dbRows ? sumRunDbStats(dbRows) : null,
    historyEvents: lengths.some((l) => l === null) ? null : lengths.reduce<number>((a, b) => a + (b ?? 0), 0),
  });
}

export async function saveRunReport(db: DataSource, run: RunToReport, report: RunReport): Promise<void> {
  await db.query(
    `INSERT INTO run_reports (workflow_id, first_run_id, kind, script_id, status, report) VALUES ($1,$2,$3,$4,$5,$6)
     ON CONFLICT (first_run_id) DO UPDATE SET status = EXCLUDED.status, report = EXCLUDED.report, created_at = now()`,
    [run.workflowId, run.runIds[0], run.kind, run.scriptId, run.status, JSON.stringify(report)],
  );
}
