/**
 * Database round trips and commits per workflow run: how much each run costs the database.
 *
 * `RunDbStatsRecorder` is a TypeORM logger, so it sees every statement any repository sends.
 * It charges a statement to the workflow run of the activity that sent it (activity-scope.ts);
 * statements sent outside activities (startup, migrations, batched background writes, its own
 * flush) are not charged to anyone. Counts are kept in memory and added to `run_db_stats` with
 * one upsert per flush (about every 30 s, on close, and on `flush()`), so counting adds no
 * round trip per statement.
 *
 *   queries = statements sent, BEGIN/COMMIT included (each is a round trip)
 *   commits = COMMITs, plus write statements sent outside a transaction (Postgres commits each
 *             on its own: a single-statement upsert costs a commit just as a transaction does)
 */
import type { DataSource, Logger as TypeOrmLogger, QueryRunner } from 'typeorm';
import { RunDbStatsEntity } from '../db/entities';
import type { CallLog } from '../llm/call-log';
import { chargedTo, currentActivity, currentCharges, outsideActivityScope } from './activity-scope';
import type { Logger } from './logger';

export interface RunDbStatsRow {
  workflowId: string;
  /** '' when the activity ran outside a workflow. */
  runId: string;
  queries: number;
  commits: number;
  updatedAt: Date;
}

interface Pending {
  workflowId: string;
  runId: string;
  queries: number;
  commits: number;
}

/** Rows per upsert statement: 4 parameters each, well under Postgres's 65535. */
const MAX_ROWS_PER_STATEMENT = 1000;

export class RunDbStatsRecorder implements TypeOrmLogger {
  private pending = new Map<string, Pending>();
  private db: DataSource | undefined;
  private timer: NodeJS.Timeout | undefined;
  private inFlight: Promise<void> = Promise.resolve();

  constructor(
    private readonly opts: {
      /** Where TypeORM's own messages (slow queries, warnings, migrations) go. */
      logger?: Logger;
      flushIntervalMs?: number;
      onError?: (err: unknown) => void;
    } = {},
  ) {}

  /**
   * Starts writing to `db` (the DataSource this recorder logs for: it exists only after the
   * recorder was handed to it, hence a separate step).
   */
  start(db: DataSource): void {
    this.db = db;
    if (this.timer) return;
    // Counts are statistics: a statement every 30 s is enough (a report flushes before it reads them).
    this.timer = outsideActivityScope(() => setInterval(() => this.flushInBackground(), this.opts.flushIntervalMs ?? 30_000));
    this.timer.unref();
  }

  /** Adds everything counted so far to `run_db_stats`; resolves when it is there. */
  flush(): Promise<void> {
    const rows = [...this.pending.values()];
    this.pending = new Map();
    // Chained so flush() also waits for an earlier write still running.
    this.inFlight = this.inFlight.then(() => (rows.length ? this.write(rows) : undefined));
    return this.inFlight;
  }

  /** A timer's flush: nobody awaits it, so its failure goes to `onError`. */
  private flushInBackground(): void {
    this.flush().catch((err: unknown) => this.opts.onError?.(err));
  }

  /** Stops the timer and writes what is left; call before destroying the DataSource. */
  async close(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    await this.flush();
  }

  logQuery(query: string, _parameters?: unknown[], queryRunner?: QueryRunner): void {
    // A shared batch write (chargedTo) counts for every run whose rows it carries.
    const scope = currentActivity();
    const runs = currentCharges() ?? (scope ? [scope] : []);
    const commits = commitsOnItsOwn(query, queryRunner?.isTransactionActive ?? false);
    for (const run of runs) {
      if (!run.workflowId) continue;
      const runId = run.runId ?? '';
      const key = `${run.workflowId}\u0000${runId}`;
      let entry = this.pending.get(key);
      if (!entry) {
        entry = { workflowId: run.workflowId, runId, queries: 0, commits: 0 };
        this.pending.set(key, entry);
      }
      entry.queries += 1;
      if (commits) entry.commits += 1;
    }
  }

  // TypeORM's other events: never with parameters, which may hold script or prompt text.
  logQueryError(error: string | Error, _query: string): void {
    this.opts.logger?.debug({ err: error instanceof Error ? error : new Error(error) }, 'db query failed');
  }

  logQuerySlow(time: number, query: string): void {
    this.opts.logger?.warn({ durationMs: time, query: query.slice(0, 200) }, 'slow db query');
  }

  logSchemaBuild(message: string): void {
    this.opts.logger?.debug(message);
  }

  logMigration(message: string): void {
    this.opts.logger?.info(message);
  }

  log(level: 'log' | 'info' | 'warn', message: unknown): void {
    if (level === 'warn') this.opts.logger?.warn({ detail: String(message) }, 'typeorm warning');
    else this.opts.logger?.debug({ detail: String(message) }, 'typeorm');
  }

  private async write(rows: Pending[]): Promise<void> {
    const db = this.db;
    if (!db?.isInitialized) return;
    try {
      for (let i = 0; i < rows.length; i += MAX_ROWS_PER_STATEMENT) {
        const chunk = rows.slice(i, i + MAX_ROWS_PER_STATEMENT);
        const params = chunk.flatMap((r) => [r.workflowId, r.runId, r.queries, r.commits]);
        const tuples = chunk.map((_, j) => `($${4 * j + 1}, $${4 * j + 2}, $${4 * j + 3}, $${4 * j + 4}, now())`);
        // Outside any activity scope, so this statement is not counted (see logQuery).
        await outsideActivityScope(() => chargedTo([], () =>
          // Raw SQL: TypeORM's orUpdate can only overwrite with EXCLUDED values, and this adds to the stored counts.
          db.query(
            `INSERT INTO run_db_stats (workflow_id, run_id, queries, commits, updated_at) VALUES ${tuples.join(', ')}
             ON CONFLICT (workflow_id, run_id) DO UPDATE SET
               queries = run_db_stats.queries + EXCLUDED.queries,
               commits = run_db_stats.commits + EXCLUDED.commits,
               updated_at = EXCLUDED.updated_at`,
            params,
          ),
        ));
      }
    } catch (err) {
      // Statistics must never fail the work they measure: report and drop the batch.
      this.opts.onError?.(err);
    }
  }
}

const READ_ONLY_OR_CONTROL = new Set([
  'SELECT', 'SHOW', 'START', 'BEGIN', 'SET', 'ROLLBACK', 'SAVEPOINT', 'RELEASE', 'EXPLAIN', 'VALUES', 'TABLE', 'FETCH',
  'DECLARE', 'CLOSE', 'LISTEN', 'UNLISTEN', 'DISCARD', 'RESET', 'PREPARE', 'DEALLOCATE',
]);

/** Whether Postgres commits when this statement completes. */
export function commitsOnItsOwn(query: string, inTransaction: boolean): boolean {
  const verb = /^\s*([a-z]+)/i.exec(query)?.[1]?.toUpperCase() ?? '';
  if (verb === 'COMMIT' || verb === 'END') return true;
  if (inTransaction) return false;
  if (verb === 'WITH') return /\b(INSERT|UPDATE|DELETE|MERGE)\b/i.test(query);
  return verb !== '' && !READ_ONLY_OR_CONTROL.has(verb);
}

/**
 * The recorded counts of these workflows, one row per run (a workflow that continued-as-new has
 * several); pass `runIds` to keep only the runs of one execution chain. Sum with sumRunDbStats.
 */
export async function readRunDbStats(db: DataSource, workflowIds: string[], runIds?: string[]): Promise<RunDbStatsRow[]> {
  const query = db
    .getRepository(RunDbStatsEntity)
    .createQueryBuilder('r')
    .where('r.workflowId = ANY(:workflowIds)', { workflowIds })
    .orderBy('r.workflowId')
    .addOrderBy('r.updatedAt');
  if (runIds) query.andWhere('r.runId = ANY(:runIds)', { runIds });
  return (await query.getMany()).map(({ workflowId, runId, queries, commits, updatedAt }) => ({ workflowId, runId, queries, commits, updatedAt }));
}

export function sumRunDbStats(rows: RunDbStatsRow[]): { queries: number; commits: number } {
  return rows.reduce((sum, r) => ({ queries: sum.queries + r.queries, commits: sum.commits + r.commits }), { queries: 0, commits: 0 });
}

/**
 * A call log whose writes are not charged to the activity that happened to start the batch's
 * timer: `llm_calls` batches mix calls of many runs (each batch is charged to the runs whose
 * rows it carries: see `chargeBatchToItsRuns`).
 */
export function uncountedCallLog(log: CallLog): CallLog {
  return {
    record: (row, opts) => outsideActivityScope(() => log.record(row, opts)),
    flush: () => outsideActivityScope(() => log.flush()),
  };
}

/** BufferedCallLog's `around`: a batch of rows is charged to each run it holds rows of. */
export function chargeBatchToItsRuns<R>(rows: RunRefLike[], write: () => Promise<R>): Promise<R> {
  return chargedTo(rows, write);
}

type RunRefLike = { workflowId: string | null; runId: string | null };
