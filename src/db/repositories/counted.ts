/**
 * Runs repository work on a query runner of its own and counts what it sends: statements, and
 * commits (a COMMIT, or a write sent outside a transaction, which Postgres commits on its own).
 * The figures go into a run's report (persona queries, save commits); the statements are
 * still counted in `run_db_stats` like any other.
 */
import type { DataSource, EntityManager } from 'typeorm';
import { commitsOnItsOwn } from '../../observability/run-db-stats';

export interface Counted<T> {
  value: T;
  statements: number;
  commits: number;
}

export async function countStatements<T>(db: DataSource, fn: (manager: EntityManager) => Promise<T>): Promise<Counted<T>> {
  const runner = db.createQueryRunner();
  const query = runner.query.bind(runner);
  let statements = 0;
  let commits = 0;
  runner.query = ((sql: string, ...rest: unknown[]) => {
    statements++;
    if (commitsOnItsOwn(sql, runner.isTransactionActive)) commits++;
    return (query as (...a: unknown[]) => unknown)(sql, ...rest);
  }) as typeof runner.query;
  try {
    const value = await fn(runner.manager);
    return { value, statements, commits };
  } finally {
    await runner.release();
  }
}
