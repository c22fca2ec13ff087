import type { DataSource } from 'typeorm';

/** Any fixed number: the advisory lock's key, shared by every suite that resets the metrics window. */
const METRICS_WINDOW_LOCK = 7_140_001;

/**
 * Runs `fn` holding a Postgres advisory lock on the performance-metrics window. The window is
 * global and the suites of one jest run share a database, so a test that resets it and reads
 * counts in the new window takes this lock; otherwise another suite's reset in between would
 * empty the window it reads.
 */
export async function withMetricsWindow<T>(db: DataSource, fn: () => Promise<T>): Promise<T> {
  const runner = db.createQueryRunner();
  await runner.connect();
  try {
    await runner.query('SELECT pg_advisory_lock($1)', [METRICS_WINDOW_LOCK]);
    try {
      return await fn();
    } finally {
      await runner.query('SELECT pg_advisory_unlock($1)', [METRICS_WINDOW_LOCK]);
    }
  } finally {
    await runner.release();
  }
}
