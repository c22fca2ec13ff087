/**
 * Upgrading a database, on one of its own: two migrators at once take turns (each migration is
 * applied once), and a schema behind the release is refused by every command but `migrate`, by
 * the worker's services and by the API, none of which changes it.
 */
import { Client, Connection } from '@temporalio/client';
import { createDataSource, dropDatabase, ensureDatabase, migrateDatabase, SchemaBehindError } from '../../src/db/data-source';
import { migrations } from '../../src/db/migrations';
import { createServices } from '../../src/runtime';
import { runCli } from '../helpers/cli';
import { startTestApi } from '../helpers/api';
import { testConfig, testDatabaseUrl } from '../helpers/harness';

const databaseUrl = (() => {
  const url = new URL(testDatabaseUrl());
  url.pathname = `${url.pathname}_up_${process.pid}`;
  return url.toString();
})();
const allNames = migrations.map((M) => new M().name as string).sort();

beforeAll(async () => {
  await dropDatabase(databaseUrl); // a leftover of an interrupted run
});
afterAll(async () => {
  await dropDatabase(databaseUrl);
});

const appliedRows = async (): Promise<string[]> => {
  const db = createDataSource(databaseUrl, { poolSize: 1 });
  await db.initialize();
  try {
    return (await db.query('SELECT name FROM migrations ORDER BY name')).map((r: { name: string }) => r.name);
  } finally {
    await db.destroy();
  }
};

it('three migrators at once, the database not created yet: all succeed, and each migration is applied once', async () => {
  const applied = await Promise.all([migrateDatabase(databaseUrl), migrateDatabase(databaseUrl), migrateDatabase(databaseUrl)]);
  expect(applied.flat().sort()).toEqual(allNames);
  expect(await appliedRows()).toEqual(allNames);
  expect(await ensureDatabase(databaseUrl)).toBe(false);
});

describe('a schema behind this release (its newest migration reverted)', () => {
  let newest: string;
  let appliedNow: string[];
  beforeAll(async () => {
    const db = createDataSource(databaseUrl, { poolSize: 1 });
    await db.initialize();
    try {
      await db.undoLastMigration({ transaction: 'each' });
    } finally {
      await db.destroy();
    }
    appliedNow = await appliedRows();
    [newest] = allNames.filter((name) => !appliedNow.includes(name));
    expect(newest).toBeDefined();
  });

  it('a command other than migrate refuses it (exit 2), naming what is missing and what to run, and leaves it as it was', async () => {
    const saved = process.env.DATABASE_URL;
    process.env.DATABASE_URL = databaseUrl;
    try {
      const { code, err } = await runCli('stories', 'list');
      expect(code).toBe(2);
      expect(err).toMatch(/storyloom stories: Run `storyloom migrate` \(once, before starting this release's workers\): the database at postgres:\/\/\S+ lacks 1 migration\(s\) of this release/);
      expect(err).toContain(`(${newest}).`);
    } finally {
      if (saved === undefined) delete process.env.DATABASE_URL;
      else process.env.DATABASE_URL = saved;
    }
    expect(await appliedRows()).toEqual(appliedNow);
  });

  it('the worker\'s services refuse to start on it', async () => {
    await expect(createServices(testConfig(undefined, { DATABASE_URL: databaseUrl }))).rejects.toBeInstanceOf(SchemaBehindError);
    expect(await appliedRows()).toEqual(appliedNow);
  });

  it('the API answers 503 saying to migrate, for what needs the database', async () => {
    const db = createDataSource(databaseUrl, { poolSize: 2 });
    const client = new Client({ connection: Connection.lazy({ address: '127.0.0.1:1' }) });
    const api = await startTestApi({ config: testConfig(undefined, { DATABASE_URL: databaseUrl }), db, client });
    try {
      const res = await api.call('/api/scripts');
      expect(res.status).toBe(503);
      expect(await res.json()).toEqual({ error: { code: 'database_unavailable', message: 'The database lacks migrations of this release: run `storyloom migrate`.' } });
    } finally {
      await api.close();
      if (db.isInitialized) await db.destroy();
    }
    expect(await appliedRows()).toEqual(appliedNow);
  });

  it('storyloom migrate applies it', async () => {
    const saved = process.env.DATABASE_URL;
    process.env.DATABASE_URL = databaseUrl;
    try {
      const { code, out } = await runCli('migrate');
      expect(code).toBe(0);
      expect(out).toContain(`Applied 1 migration(s)`);
      expect(out).toContain(newest);
    } finally {
      if (saved === undefined) delete process.env.DATABASE_URL;
      else process.env.DATABASE_URL = saved;
    }
    expect(await appliedRows()).toEqual(allNames);
  });
});
