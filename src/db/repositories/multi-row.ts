/**
 * Multi-row statements: one `VALUES (…),(…)` per chunk instead of a statement per row, the
 * difference between a write per scene and a write per batch.
 */
import type { EntityManager } from 'typeorm';

/** Rows per statement: well under Postgres's 65,535 bind parameters for our widest rows. */
export const ROWS_PER_STATEMENT = 500;

type Queryable = Pick<EntityManager, 'query'>;

/**
 * Runs `sql(values)` once per chunk of `rows`, where `values` is `($1,$2::cast,…),(…)` bound
 * to the chunk; `casts[i]` types column i (VALUES parameters otherwise arrive as text).
 * Returns the rows every statement returned.
 */
export async function queryPerChunk(
  q: Queryable,
  sql: (values: string) => string,
  rows: unknown[][],
  casts: string[] = [],
  chunkSize = ROWS_PER_STATEMENT,
): Promise<Record<string, unknown>[]> {
  const out: Record<string, unknown>[] = [];
  for (let i = 0; i < rows.length; i += chunkSize) {
    const params: unknown[] = [];
    const values = rows
      .slice(i, i + chunkSize)
      .map((row) => `(${row.map((v, j) => { params.push(v); return `$${params.length}${casts[j] ?? ''}`; }).join(',')})`)
      .join(',');
    out.push(...((await q.query(sql(values), params)) as Record<string, unknown>[]));
  }
  return out;
}

/**
 * Idempotent upsert of rows keyed by `key`, skipping rows whose parent row is gone (a scene or
 * character deleted by a re-import while the run was going): a retried write rewrites the same
 * rows and never duplicates one.
 */
export async function upsertRows(
  q: Queryable,
  spec: { table: string; columns: string[]; casts?: string[]; key: string; parent: { table: string; column: string } },
  rows: unknown[][],
  chunkSize?: number,
): Promise<void> {
  const updates = spec.columns.filter((c) => c !== spec.key).map((c) => `${c} = EXCLUDED.${c}`);
  await queryPerChunk(
    q,
    (values) => `INSERT INTO ${spec.table} (${spec.columns.join(', ')})
      SELECT v.* FROM (VALUES ${values}) AS v(${spec.columns.join(', ')})
       WHERE EXISTS (SELECT 1 FROM ${spec.parent.table} WHERE id = v.${spec.parent.column})
      ON CONFLICT (${spec.key}) DO UPDATE SET ${[...updates, 'updated_at = now()'].join(', ')}`,
    rows,
    spec.casts,
    chunkSize,
  );
}
