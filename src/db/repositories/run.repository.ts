/**
 * What each workflow run left behind, read back for its report and the CLI: the LLM calls it
 * made, its stored report and the ingestion's and story run's own records.
 */
import type { DataSource } from 'typeorm';
import type { IngestionResult } from '../../shared/ingestion';
import type { StoriesResult } from '../../shared/stories';
import type { CallRow, RunReport, RunToReport } from '../../reporting/run-report';
import { IngestionRunEntity, LlmCallEntity, RunReportEntity, StoryRunEntity } from '../entities';
import { upsertInChunks } from './multi-row';

export class RunRepository {
  constructor(private readonly db: DataSource) {}

  /** Every LLM call recorded for these runs of the workflow (one execution chain). */
  async callsOf(workflowId: string, runIds: string[]): Promise<CallRow[]> {
    return this.db
      .getRepository(LlmCallEntity)
      .createQueryBuilder('c')
      .select(['purpose', 'provider', 'model', 'outcome', 'errorType', 'latencyMs', 'inputTokens', 'outputTokens', 'attempt', 'batch', 'callKey'].map((p) => `c.${p} AS "${p}"`))
      .where('c.workflowId = :workflowId AND c.runId = ANY(:runIds)', { workflowId, runIds })
      .getRawMany();
  }

  /** Idempotent: a retry (or a later report of the same chain) overwrites the row and its time. */
  async saveReport(run: RunToReport, report: RunReport): Promise<void> {
    await upsertInChunks(
      this.db.manager,
      RunReportEntity,
      [{ workflowId: run.workflowId, firstRunId: run.runIds[0], kind: run.kind, scriptId: run.scriptId ?? null, status: run.status, report, createdAt: () => 'now()' }],
      { conflict: ['first_run_id'], overwrite: ['status', 'report', 'created_at'] },
    );
  }

  /** The newest stored report matching every given key. */
  async findReport(where: { firstRunId?: string; workflowId?: string; scriptId?: string }): Promise<RunReport | undefined> {
    const row = await this.db.getRepository(RunReportEntity).findOne({
      select: { report: true },
      // TypeORM refuses undefined in a where: leave out the keys not given.
      where: Object.fromEntries(Object.entries(where).filter(([, value]) => value !== undefined)),
      order: { createdAt: 'DESC' },
    });
    return row?.report as RunReport | undefined;
  }

  /** The script's latest ingestion run. */
  async lastIngestionRun(scriptId: string): Promise<{ runId: string; status: string; result: IngestionResult | null; startedAt: Date } | undefined> {
    const row = await this.db.getRepository(IngestionRunEntity).findOne({
      select: { runId: true, status: true, result: true, startedAt: true },
      where: { scriptId },
      order: { startedAt: 'DESC' },
    });
    return row ? { runId: row.runId, status: row.status, result: row.result as IngestionResult | null, startedAt: row.startedAt } : undefined;
  }

  /** A story run's stored result (written when it ended, however it ended); undefined while it runs or when unknown. */
  async storyRunResult(runId: string): Promise<StoriesResult | undefined> {
    const row = await this.db.getRepository(StoryRunEntity).findOne({ select: { result: true }, where: { runId } });
    return (row?.result as StoriesResult | null | undefined) ?? undefined;
  }
}
