import type { DataSource } from 'typeorm';
import { LlmCallEntity, type LlmCall } from '../db/entities/llm-call.entity';
import { WriteBehind } from '../db/write-behind';
import { retryWhileDatabaseUnreachable } from '../activities/attempt-budget';

export type LlmCallRecord = Omit<LlmCall, 'id' | 'createdAt' | 'callKey' | 'batch'> & { callKey?: string | null; batch?: boolean; createdAt?: Date };

export interface RecordOptions {
  /**
   * The row is carried elsewhere — in the activity's result, written with the caller's batch
   * (see DeferredWrites in llm-service.ts): a log that stores rows skips it; observers
   * (metrics, log lines, spans) see it as usual.
   */
  deferred?: boolean;
}

export interface CallLog {
  /** Records one call; a log that stores rows returns a promise that resolves once the row is durable. */
  record(row: LlmCallRecord, opts?: RecordOptions): void | Promise<void>;
  flush(): Promise<void>;
}

/** How long a batch of rows waits for an unreachable database before it is given up (default 15 min). */
const DEFAULT_UNREACHABLE_BUDGET_MS = 15 * 60_000;

/**
 * Writes `llm_calls` rows durably, batched across concurrent callers: a row waits at most
 * `lingerMs` for company, and rows recorded while a batch is being written go together in the
 * next one, so many activities finishing at once share one multi-row INSERT. `record()`
 * resolves when its row is in the database (an activity awaits it before it completes, so a
 * paid call is never lost with its worker) and rejects when the write failed. A row with a
 * call key is written at most once (ON CONFLICT DO NOTHING). While the database is unreachable
 * (a restart, an outage) a batch is tried again every second or so, up to `unreachableBudgetMs`,
 * so a call made meanwhile keeps its row (before, it was dropped with the failed write).
 */
export class BufferedCallLog implements CallLog {
  private readonly rows: WriteBehind<LlmCall>;

  constructor(
    db: DataSource,
    opts: {
      maxRows?: number;
      lingerMs?: number;
      onError?: (err: unknown) => void;
      /** Wraps each batch's write, e.g. to charge its statement to the runs whose rows it carries. */
      around?: <R>(rows: LlmCall[], write: () => Promise<R>) => Promise<R>;
      /** How long a batch waits for an unreachable database (default 15 min; 0: not at all). */
      unreachableBudgetMs?: number;
      /** The wait between tries while the database is unreachable (default 1 s, doubling to 10 s). */
      retryDelayMs?: number;
    } = {},
  ) {
    const around = opts.around ?? ((_rows, write) => write());
    const budgetMs = opts.unreachableBudgetMs ?? DEFAULT_UNREACHABLE_BUDGET_MS;
    const firstDelayMs = opts.retryDelayMs ?? 1000;
    this.rows = new WriteBehind(
      async (batch) => {
        await retryWhileDatabaseUnreachable(
          () => around(batch, () => db.createQueryBuilder().insert().into(LlmCallEntity).values(batch).orIgnore().updateEntity(false).execute()),
          { giveUpAt: Date.now() + budgetMs, firstDelayMs },
        );
      },
      { maxItems: opts.maxRows ?? 500, intervalMs: opts.lingerMs ?? 5, onError: opts.onError },
    );
  }

  /** Resolves once the row is in the database; a deferred row is the caller's to write. */
  record(row: LlmCallRecord, opts: RecordOptions = {}): Promise<void> {
    if (opts.deferred) return Promise.resolve();
    return this.rows.add({ ...row, callKey: row.callKey ?? null, createdAt: row.createdAt ?? new Date() } as LlmCall);
  }

  /** Writes everything recorded so far; resolves when it is in the database (or its failure was reported). */
  flush(): Promise<void> {
    return this.rows.flush();
  }
}

/** Keeps rows in memory: for tests and tools that run without a database. */
export class MemoryCallLog implements CallLog {
  readonly rows: LlmCallRecord[] = [];

  record(row: LlmCallRecord, opts: RecordOptions = {}): void {
    if (!opts.deferred) this.rows.push(row);
  }

  async flush(): Promise<void> {}
}

/**
 * Hands every call to several call logs (the Postgres table, metrics, the log line, ...). An
 * observer that throws is skipped, never the LLM call that was being recorded; a durable log's
 * failed write is the caller's to see.
 */
export class TeeCallLog implements CallLog {
  constructor(
    private readonly logs: CallLog[],
    private readonly onError?: (err: unknown) => void,
  ) {}

  record(row: LlmCallRecord, opts?: RecordOptions): Promise<void> | undefined {
    const durable: Promise<void>[] = [];
    for (const log of this.logs) {
      try {
        const written = log.record(row, opts);
        if (written) durable.push(written);
      } catch (err) {
        this.onError?.(err);
      }
    }
    return durable.length ? Promise.all(durable).then(() => undefined) : undefined;
  }

  async flush(): Promise<void> {
    await Promise.all(this.logs.map((log) => log.flush()));
  }
}
