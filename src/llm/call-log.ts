import type { DataSource } from 'typeorm';
import type { LlmCall } from '../db/entities/llm-call.entity';
import { queryPerChunk } from '../db/repositories/multi-row';
import { WriteBehind } from '../db/write-behind';

export type LlmCallRecord = Omit<LlmCall, 'id' | 'createdAt'>;

export interface CallLog {
  record(row: LlmCallRecord): void;
  flush(): Promise<void>;
}

const COLUMNS = [
  'purpose', 'provider', 'model', 'prompt_version', 'outcome', 'error_type', 'latency_ms', 'input_tokens',
  'output_tokens', 'workflow_id', 'run_id', 'activity_id', 'activity_type', 'attempt', 'cache_key', 'created_at',
] as const;

type TimedRecord = LlmCallRecord & { createdAt: Date };

/**
 * Buffers `llm_calls` rows and writes them in one multi-row INSERT per batch, so a hot path
 * does not pay a commit per call. Flushes when the buffer fills, on a timer, and on close.
 */
export class BufferedCallLog implements CallLog {
  private readonly rows: WriteBehind<TimedRecord>;

  constructor(db: DataSource, opts: { maxRows?: number; flushIntervalMs?: number; onError?: (err: unknown) => void } = {}) {
    this.rows = new WriteBehind(
      (batch) =>
        queryPerChunk(
          db,
          (values) => `INSERT INTO llm_calls (${COLUMNS.join(',')}) VALUES ${values}`,
          batch.map((r) => [
            r.purpose, r.provider, r.model, r.promptVersion, r.outcome, r.errorType, r.latencyMs, r.inputTokens,
            r.outputTokens, r.workflowId, r.runId, r.activityId, r.activityType, r.attempt, r.cacheKey, r.createdAt,
          ]),
        ).then(() => undefined),
      // The call log must never fail an LLM call: a failed batch is reported and dropped.
      { maxItems: opts.maxRows ?? 100, intervalMs: opts.flushIntervalMs ?? 500, onError: opts.onError },
    );
  }

  record(row: LlmCallRecord): void {
    this.rows.add({ ...row, createdAt: new Date() });
  }

  /** Writes everything recorded so far; resolves when it is in the database. */
  flush(): Promise<void> {
    return this.rows.flush();
  }
}

/** Keeps rows in memory: for tests and tools that run without a database. */
export class MemoryCallLog implements CallLog {
  readonly rows: LlmCallRecord[] = [];

  record(row: LlmCallRecord): void {
    this.rows.push(row);
  }

  async flush(): Promise<void> {}
}

/**
 * Hands every call to several call logs (the Postgres table, metrics, the log line, ...). An
 * observer that throws is skipped, never the LLM call that was being recorded.
 */
export class TeeCallLog implements CallLog {
  constructor(
    private readonly logs: CallLog[],
    private readonly onError?: (err: unknown) => void,
  ) {}

  record(row: LlmCallRecord): void {
    for (const log of this.logs) {
      try {
        log.record(row);
      } catch (err) {
        this.onError?.(err);
      }
    }
  }

  async flush(): Promise<void> {
    await Promise.all(this.logs.map((log) => log.flush()));
  }
}
