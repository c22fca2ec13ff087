/**
 * The entities and the migrations describe the same schema: after migrating the test database,
 * TypeORM's schema builder finds nothing to change. An entity that disagrees with its table (a
 * missing column, another type, nullability, default, index or foreign key) fails here.
 */
import type { DataSource } from 'typeorm';
import { createDataSource } from '../../src/db/data-source';
import { entities } from '../../src/db/entities';
import { testDatabaseUrl } from '../helpers/harness';

let db: DataSource;

beforeAll(async () => {
  db = createDataSource(testDatabaseUrl(), { poolSize: 1 });
  await db.initialize();
});
afterAll(async () => {
  await db?.destroy();
});

it('has an entity for every table the migrations create', async () => {
  const rows: { table_name: string }[] = await db.query(
    `SELECT table_name FROM information_schema.tables WHERE table_schema = 'public' AND table_type = 'BASE TABLE' AND table_name <> 'migrations'`,
  );
  const mapped = entities.map((e) => db.getMetadata(e).tableName);
  expect(mapped.sort()).toEqual(rows.map((r) => r.table_name).sort());
});

it('agrees with the migrated schema: the schema builder has no pending change', async () => {
  const pending = await db.driver.createSchemaBuilder().log();
  expect(pending.upQueries.map((q) => q.query)).toEqual([]);
});
