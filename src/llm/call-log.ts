import type { DataSource } from 'typeorm';
import type { LlmCall } from '../db/entities/llm-call.entity';

export type LlmCallRecord = Omit<LlmCall, 'id' | 'createdAt'>;

export interface CallLog {
  record(row: LlmCallRecord): void;
  flush(): Promise<void>;
}

const COLUMNS = [
  'purpose', 'provider', 'model', 'prompt_version', 'outcome', 'error_type', 'latency_ms', 'input_tokens',
  'output_tokens', 'workflow_id', 'run_id', 'activity_id', 'activity_type', 'attempt', 'cache_key', 'created_at',
] as const;

/**
 * Buffers `llm_calls` rows and writes them in one multi-row INSERT per batch, so a hot path
 * does not pay a commit per call. Flushes when the buffer fills, on a timer, and on close.
 */
export class BufferedCallLog implements CallLog {
  private buffer: (LlmCallRecord & { createdAt: Date })[] = [];
  private timer: NodeJS.Timeout | undefined;
  private inFlight: Promise<void> = Promise.resolve();

  constructor(
    private readonly db: DataSource,
    private readonly opts: { maxRows?: number; flushIntervalMs?: number; onError?: (err: unknown) => void } = {},
  ) {}

  record(row: LlmCallRecord): void {
    this.buffer.push({ ...row, createdAt: new Date() });
    if (this.buffer.length >= (this.opts.maxRows ?? 100)) {
      void this.flush();
    } else if (!this.timer) {
      this.timer = setTimeout(() => void this.flush(), this.opts.flushIntervalMs ?? 500);
      this.timer.unref();
    }
  }

  /** Writes everything recorded so far; resolves when it is in the database. */
  flush(): Promise<void> {
    if (this.timer) {
      clearTimeout(this.timer);
      this.timer = undefined;
    }
    const rows = this.buffer;
    this.buffer = [];
    // Chained so batches land in order and flush() waits for earlier ones too.
    this.inFlight = this.inFlight.then(() => (rows.length ? this.write(rows) : undefined));
    return this.inFlight;
  }

  private async write(rows: (LlmCallRecord & { createdAt: Date })[]): Promise<void> {
    const params: unknown[] = [];
    const tuples = rows.map((r) => {
      const values = [
        r.purpose, r.provider, r.model, r.promptVersion, r.outcome, r.errorType, r.latencyMs, r.inputTokens,
        r.outputTokens, r.workflowId, r.runId, r.activityId, r.activityType, r.attempt, r.cacheKey, r.createdAt,
      ];
      const start = params.length;
      params.push(...values);
      return `(${values.map((_, i) => `$${start + i + 1}`).join(',')})`;
    });
    try {
      await this.db.query(`INSERT INTO llm_calls (${COLUMNS.join(',')}) VALUES ${tuples.join(',')}`, params);
    } catch (err) {
      // The call log must never fail an LLM call; report and drop the batch.
      this.opts.onError?.(err);
    }
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
