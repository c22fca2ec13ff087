/**
 * Multi-row writes: one `INSERT … VALUES (…),(…)` per chunk instead of a statement per row, the
 * difference between a write per scene and a write per batch.
 */
import { In, QueryFailedError, type DataSource, type EntityManager, type EntityTarget, type ObjectLiteral } from 'typeorm';
import type { QueryDeepPartialEntity } from 'typeorm/query-builder/QueryPartialEntity';

/** Rows per statement: well under Postgres's 65,535 bind parameters for our widest rows. */
export const ROWS_PER_STATEMENT = 500;

export interface UpsertSpec {
  /** Properties to insert (default: every column; name one that is generated to set it, e.g. an existing id). */
  columns?: string[];
  /** Database column names forming the conflict target (a primary key or unique constraint). */
  conflict: string[];
  /** Database column names a conflicting row takes from the new one (an `updateDate` column is set to now() as well). */
  overwrite: string[];
  chunkSize?: number;
}

/**
 * `INSERT … VALUES (…),(…) ON CONFLICT (…) DO UPDATE`, one statement per chunk, in the caller's
 * transaction if any. Idempotent: a repeat rewrites the same rows. Returns the rows `returning` names.
 */
export async function upsertInChunks<T extends ObjectLiteral>(
  manager: EntityManager,
  entity: EntityTarget<T>,
  rows: QueryDeepPartialEntity<T>[],
  spec: UpsertSpec & { returning?: string[] },
): Promise<Record<string, unknown>[]> {
  const chunkSize = spec.chunkSize ?? ROWS_PER_STATEMENT;
  if (!rows.length) return [];
  const out: Record<string, unknown>[] = [];
  for (let i = 0; i < rows.length; i += chunkSize) {
    const insert = manager
      .createQueryBuilder()
      .insert()
      .into(entity, spec.columns)
      .values(rows.slice(i, i + chunkSize))
      .orUpdate(spec.overwrite, spec.conflict)
      // No RETURNING of defaults: nothing reads them back, and the rows may hold large values.
      .updateEntity(false);
    if (spec.returning) insert.returning(spec.returning);
    const result = await insert.execute();
    out.push(...((result.raw ?? []) as Record<string, unknown>[]));
  }
  return out;
}

/** Postgres's foreign_key_violation: a row's parent is gone. */
export function isForeignKeyViolation(err: unknown): boolean {
  return err instanceof QueryFailedError && (err.driverError as { code?: string } | undefined)?.code === '23503';
}

/**
 * Upserts rows that belong to a parent row (a scene or a character), skipping rows whose parent
 * is gone (deleted by a re-import while the run was going): a retried write rewrites the same
 * rows and never duplicates one. One statement when the rows fit one chunk (a single statement
 * is atomic on its own), else one transaction. Only when a parent has gone is there a second
 * round: which parents remain, then the write again without the orphans.
 */
export async function upsertChildRows<T extends ObjectLiteral>(
  db: DataSource,
  entity: EntityTarget<T>,
  rows: (QueryDeepPartialEntity<T> & ObjectLiteral)[],
  spec: UpsertSpec & { parent: EntityTarget<ObjectLiteral & { id: number }>; parentKey: string },
): Promise<void> {
  const write = (batch: typeof rows) =>
    batch.length <= (spec.chunkSize ?? ROWS_PER_STATEMENT)
      ? upsertInChunks(db.manager, entity, batch, spec)
      : db.transaction((tx) => upsertInChunks(tx, entity, batch, spec));
  try {
    await write(rows);
  } catch (err) {
    if (!isForeignKeyViolation(err)) throw err;
    const parentIds = [...new Set(rows.map((r) => r[spec.parentKey] as number))];
    const remaining = await db.getRepository(spec.parent).find({ select: { id: true }, where: { id: In(parentIds) } });
    const alive = new Set(remaining.map((p) => Number(p.id)));
    const kept = rows.filter((r) => alive.has(r[spec.parentKey] as number));
    if (kept.length) await write(kept);
  }
}

/** One built statement: SQL with $n placeholders and its parameters. */
export interface BuiltStatement {
  sql: string;
  params: unknown[];
}

/**
 * Several INSERTs (upserts) as one statement: `WITH w1 AS (…), w2 AS (…) …` — one round trip,
 * one commit, and atomic (all rows or none). Placeholders are renumbered; the statements must
 * come from TypeORM's query builder (placeholders only, no `$n` inside literals).
 */
export async function writeInOneStatement(db: DataSource | EntityManager, statements: BuiltStatement[]): Promise<void> {
  const parts = statements.filter((s) => s.sql);
  if (!parts.length) return;
  const groups = byParameterLimit(parts);
  // More parameters than one statement may bind (a provider batch of thousands of items): one
  // statement per group, in one transaction, so it stays all or nothing.
  if (groups.length > 1) {
    await db.transaction(async (tx) => {
      for (const group of groups) await sendAsOne(tx, group);
    });
    return;
  }
  await sendAsOne(db, parts);
}

/** Postgres binds at most 65,535 parameters per statement. */
export const MAX_BIND_PARAMETERS = 65_535;

/** Consecutive statements packed into groups of at most MAX_BIND_PARAMETERS parameters (one that alone has more is a group of its own, and fails as it would have). */
function byParameterLimit(parts: BuiltStatement[]): BuiltStatement[][] {
  const groups: BuiltStatement[][] = [];
  let current: BuiltStatement[] = [];
  let count = 0;
  for (const part of parts) {
    if (current.length && count + part.params.length > MAX_BIND_PARAMETERS) {
      groups.push(current);
      current = [];
      count = 0;
    }
    current.push(part);
    count += part.params.length;
  }
  if (current.length) groups.push(current);
  return groups;
}

async function sendAsOne(db: DataSource | EntityManager, parts: BuiltStatement[]): Promise<void> {
  if (parts.length === 1) {
    await db.query(parts[0].sql, parts[0].params);
    return;
  }
  const params: unknown[] = [];
  const sql = parts.map((p) => {
    const offset = params.length;
    // A loop, not push(...p.params): spreading tens of thousands of values overflows the stack.
    for (const value of p.params) params.push(value);
    return p.sql.replace(/\$(\d+)/g, (_, n: string) => `$${Number(n) + offset}`);
  });
  const ctes = sql.slice(0, -1).map((q, i) => `w${i} AS (${q})`);
  await db.query(`WITH ${ctes.join(', ')} ${sql[sql.length - 1]}`, params);
}

/** The SQL and parameters of an upsert as upsertInChunks would send it (a single chunk). */
export function buildUpsert<T extends ObjectLiteral>(
  manager: EntityManager,
  entity: EntityTarget<T>,
  rows: QueryDeepPartialEntity<T>[],
  spec: Pick<UpsertSpec, 'columns' | 'conflict' | 'overwrite'> | { ignore: true },
): BuiltStatement {
  if (!rows.length) return { sql: '', params: [] };
  const insert = manager.createQueryBuilder().insert().into(entity, 'columns' in spec ? spec.columns : undefined).values(rows).updateEntity(false);
  if ('ignore' in spec) insert.orIgnore();
  else insert.orUpdate(spec.overwrite, spec.conflict);
  const [sql, params] = insert.getQueryAndParameters();
  return { sql, params };
}
