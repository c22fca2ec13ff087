/** A finished run's stored report. Shared by `storyloom report` / `ingest --wait` and `GET /api/runs/:workflowId/report`. */
import { historyLengthFrom } from '../activities/report.activities';
import { RunRepository } from '../db/repositories/run.repository';
import type { RunReport } from '../reporting/run-report';
import type { OperationContext } from './context';

/** The stored report of a run (by its first run id), with the history length refreshed when Temporal answers. */
export async function storedReport(ctx: OperationContext, where: { firstRunId?: string; workflowId?: string; scriptId?: string }): Promise<RunReport | undefined> {
  const report = await new RunRepository(await ctx.db()).findReport(where);
  if (!report) return undefined;
  try {
    const historyLength = historyLengthFrom(await ctx.client());
    const lengths = await Promise.all(report.runIds.map((id) => historyLength(report.workflowId, id)));
    if (lengths.every((l) => l !== null)) report.history = { events: lengths.reduce<number>((a, b) => a + (b ?? 0), 0), runs: lengths.length };
  } catch {
    // Temporal unreachable or the history is gone (retention): keep the count stored at the end of the run.
  }
  return report;
}
