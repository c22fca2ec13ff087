/**
 * The one DataSource definition, used by the app, the tests and the migration CLI.
 * `synchronize` is off: the schema changes only through checked-in migrations.
 */
import { Client } from 'pg';
import { DataSource, type Logger as TypeOrmLogger } from 'typeorm';
import { entities } from './entities';
import { migrations } from './migrations';

/** `logger` receives every statement (the app counts them per workflow run: src/observability/run-db-stats.ts). */
export function createDataSource(databaseUrl: string, opts: { poolSize?: number; logger?: TypeOrmLogger } = {}): DataSource {
  return new DataSource({
    type: 'postgres',
    url: databaseUrl,
    entities,
    migrations,
    synchronize: false,
    migrationsRun: false,
    logging: false,
    ...(opts.logger ? { logger: opts.logger } : {}),
    // A connect that hangs (a partition, not a refusal) fails after 10 s as "database unreachable",
    // which activities wait out (activities/attempt-budget.ts).
    extra: { max: opts.poolSize ?? 10, connectionTimeoutMillis: 10_000 },
  });
}

/** Creates the database named in the URL when it does not exist (connects to `postgres` to do so). */
export async function ensureDatabase(databaseUrl: string): Promise<boolean> {
  const url = new URL(databaseUrl);
  const name = decodeURIComponent(url.pathname.replace(/^\//, ''));
  if (!name) throw new Error(`DATABASE_URL names no database: ${redactUrl(databaseUrl)}`);
  url.pathname = '/postgres';
  const admin = new Client({ connectionString: url.toString() });
  await connectOrExplain(databaseUrl, () => admin.connect());
  try {
    const found = await admin.query('SELECT 1 FROM pg_database WHERE datname = $1', [name]);
    if (found.rowCount) return false;
    try {
      await admin.query(`CREATE DATABASE "${name.replace(/"/g, '""')}"`);
    } catch (err) {
      // Another migrator created it between the check and here (42P04, or 23505 from the catalog's index).
      const code = (err as { code?: unknown }).code;
      if (code === '42P04' || code === '23505') return false;
      throw err;
    }
    return true;
  } finally {
    await admin.end();
  }
}

export async function dropDatabase(databaseUrl: string): Promise<void> {
  const url = new URL(databaseUrl);
  const name = decodeURIComponent(url.pathname.replace(/^\//, ''));
  url.pathname = '/postgres';
  const admin = new Client({ connectionString: url.toString() });
  await admin.connect();
  try {
    await admin.query(`DROP DATABASE IF EXISTS "${name.replace(/"/g, '""')}" WITH (FORCE)`);
  } finally {
    await admin.end();
  }
}

/**
 * The advisory lock `migrateDatabase` holds while it migrates: two migrators at once (`storyloom
 * migrate` from two shells, compose's one-shot beside an operator) take turns, and the second
 * finds nothing left to apply, where both used to apply the same migration and one failed.
 */
const MIGRATION_LOCK_KEY = 0x5_7010_0e17;

/** Creates the database if needed (not with `create: false`) and runs pending migrations; returns the names applied. */
export async function migrateDatabase(databaseUrl: string, opts: { create?: boolean } = {}): Promise<string[]> {
  if (opts.create !== false) await ensureDatabase(databaseUrl);
  // The lock lives in a session of its own: the migrations take the DataSource's one connection.
  const lock = new Client({ connectionString: databaseUrl });
  // A connection dropped while waiting for the lock surfaces through the query; unlistened, it would end the process.
  lock.on('error', () => undefined);
  await connectOrExplain(databaseUrl, () => lock.connect());
  try {
    await lock.query('SELECT pg_advisory_lock($1)', [MIGRATION_LOCK_KEY]);
    const ds = createDataSource(databaseUrl, { poolSize: 1 });
    await initializeDataSource(ds, databaseUrl);
    try {
      const applied = await ds.runMigrations({ transaction: 'each' });
      return applied.map((m) => m.name);
    } finally {
      await ds.destroy();
    }
  } finally {
    // Ending the session releases the lock, also after a failed migration.
    await lock.end().catch(() => undefined);
  }
}

/** The database lacks migrations this release has: only `storyloom migrate` applies them. */
export class SchemaBehindError extends Error {
  override name = 'SchemaBehindError';

  constructor(readonly pending: readonly string[], databaseUrl: string) {
    // What to do first: /readyz cuts a reason at 200 characters, and an empty database lacks them all.
    super(
      `Run \`storyloom migrate\` (once, before starting this release's workers): the database at ${redactUrl(databaseUrl)} ` +
        `lacks ${pending.length} migration(s) of this release (${pending.join(', ')}).`,
    );
  }
}

/** This release's migrations the database has not applied, in order (all of them on an empty database). */
export async function pendingMigrations(ds: DataSource): Promise<string[]> {
  const table = ds.options.migrationsTableName ?? 'migrations';
  let applied: Set<string>;
  try {
    applied = new Set((await ds.query(`SELECT name FROM "${table}"`)).map((r: { name: string }) => r.name));
  } catch (err) {
    // 42P01: no migrations table yet — nothing was ever applied.
    if ((err as { code?: unknown }).code !== '42P01') throw err;
    applied = new Set();
  }
  return ds.migrations.map((m) => m.name ?? m.constructor.name).filter((name) => !applied.has(name));
}

/**
 * Refuses a database whose schema is behind this release. The worker, the API and every command
 * but `migrate` check it once when they connect, rather than migrate it themselves: a new
 * release's `status` run beside an old release's workers must not change the schema under them.
 */
export async function assertSchemaCurrent(ds: DataSource, databaseUrl: string): Promise<void> {
  const pending = await pendingMigrations(ds);
  if (pending.length) throw new SchemaBehindError(pending, databaseUrl);
}

/** assertSchemaCurrent for a DataSource just opened: one refused is closed before the error goes on. */
export async function requireCurrentSchema(ds: DataSource, databaseUrl: string): Promise<DataSource> {
  try {
    await assertSchemaCurrent(ds, databaseUrl);
  } catch (err) {
    await ds.destroy();
    throw err;
  }
  return ds;
}

/** What a migration run did, in words: `storyloom migrate` and `npm run db:migrate` print it. */
export function describeMigrations(applied: readonly string[], databaseUrl: string): string {
  return applied.length
    ? `Applied ${applied.length} migration(s) to ${redactUrl(databaseUrl)}: ${applied.join(', ')}`
    : `Database ${redactUrl(databaseUrl)} is up to date.`;
}

/**
 * Postgres could not be connected to at all (down, wrong host or port, bad password, no such
 * database): the message names the URL (password masked) and what to do. `code` is the driver's
 * (ECONNREFUSED, 28P01, …), so what tells an unreachable database by its code still does.
 */
export class DatabaseUnreachableError extends Error {
  override name = 'DatabaseUnreachableError';
  readonly code: string | undefined;

  constructor(message: string, cause: unknown, code: string | undefined) {
    super(message, { cause });
    this.code = code;
  }
}

/** Socket errors; 28P01 / 28000: the password or the user was refused; 3D000: no such database. */
const CONNECT_FAILURE_CODES = new Set(['ECONNREFUSED', 'ENOTFOUND', 'EHOSTUNREACH', 'ENETUNREACH', 'ETIMEDOUT', 'EAI_AGAIN', '28P01', '28000', '3D000', '57P03']);
const CONNECT_FAILURE_MESSAGE = /password authentication failed|database ".*" does not exist|timeout expired|connection timeout|timeout exceeded when trying to connect/i;

/**
 * The error to show for a failed connect to `databaseUrl`: a DatabaseUnreachableError when it is
 * one of CONNECT_FAILURE_CODES / CONNECT_FAILURE_MESSAGE, else undefined (the error as it is).
 */
export function databaseUnreachable(err: unknown, databaseUrl: string): DatabaseUnreachableError | undefined {
  if (err instanceof DatabaseUnreachableError) return err;
  const e = (err ?? {}) as { code?: unknown; message?: unknown; errors?: unknown };
  const code = typeof e.code === 'string' ? e.code : undefined;
  const message = typeof e.message === 'string' ? e.message : '';
  if (!(code !== undefined && CONNECT_FAILURE_CODES.has(code)) && !CONNECT_FAILURE_MESSAGE.test(message)) return undefined;
  // Node's AggregateError (every address of "localhost" refused) has an empty message of its own.
  const inner = Array.isArray(e.errors) ? e.errors.map((x) => (x as Error)?.message).filter(Boolean) : [];
  const reason = message || inner.join('; ') || code || 'connection failed';
  // The server answers but the database is not there: `migrate` creates it, the others do not.
  // The server answers but refuses the user or its password: starting it would not help.
  const what =
    code === '3D000' || /database ".*" does not exist/i.test(message)
      ? 'Create it with `storyloom migrate` or set DATABASE_URL'
      : code === '28P01' || code === '28000' || /password authentication failed/i.test(message)
        ? 'Check the user and password in DATABASE_URL'
        : 'Start it or set DATABASE_URL';
  return new DatabaseUnreachableError(
    `Cannot reach Postgres at ${redactUrl(databaseUrl)}: ${withoutPassword(reason, databaseUrl)}. ${what}.`,
    err,
    code,
  );
}

/** Runs `connect`; a failure to reach Postgres comes out as databaseUnreachable's error. */
export async function connectOrExplain<T>(databaseUrl: string, connect: () => Promise<T>): Promise<T> {
  try {
    return await connect();
  } catch (err) {
    throw databaseUnreachable(err, databaseUrl) ?? err;
  }
}

/** `ds.initialize()`, with databaseUnreachable's message when Postgres cannot be reached. */
export function initializeDataSource(ds: Pick<DataSource, 'initialize'>, databaseUrl: string): Promise<DataSource> {
  return connectOrExplain(databaseUrl, () => ds.initialize());
}

/** A driver's message never quotes the URL, but should one ever, its password (and the query's secrets) are masked too. */
function withoutPassword(text: string, databaseUrl: string): string {
  let url: URL;
  try {
    url = new URL(databaseUrl);
  } catch {
    return text;
  }
  const forms = (secret: string) => {
    try {
      return [...new Set([secret, decodeURIComponent(secret)])];
    } catch {
      return [secret]; // Not percent-encoded: the secret as written.
    }
  };
  // In a URL (`:secret@`), a connection string (`password=secret`) or the URL's query (`sslpassword=secret`).
  for (const p of url.password ? forms(url.password) : []) text = text.split(`:${p}@`).join(':***@').split(`password=${p}`).join('password=***');
  for (const [key, value] of url.searchParams) {
    if (!value || !SECRET_QUERY_KEYS.has(key.toLowerCase())) continue;
    for (const v of forms(value)) text = text.split(`${key}=${v}`).join(`${key}=***`);
  }
  return text;
}

/** Query parameters of a connection URL that hold secrets. */
const SECRET_QUERY_KEYS = new Set(['password', 'sslpassword', 'sslkey', 'sslcert']);

/** The URL without its password (or the query's secrets), for messages and logs. */
export function redactUrl(databaseUrl: string): string {
  try {
    const url = new URL(databaseUrl);
    if (url.password) url.password = '***';
    // pg also reads secrets from the query (`?password=`, a client key's passphrase).
    for (const key of [...url.searchParams.keys()]) if (SECRET_QUERY_KEYS.has(key.toLowerCase())) url.searchParams.set(key, '***');
    return url.toString();
  } catch {
    return '<invalid DATABASE_URL>';
  }
}
