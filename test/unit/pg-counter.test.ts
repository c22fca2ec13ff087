/** The bench's wire counter: statements and commits read from the Postgres protocol through a proxy. */
import { Client, type Submittable } from 'pg';
import { startPgCounter, wireDelta, type PgCounter } from '../../bench/pg-counter';

let counter: PgCounter;
let client: Client;

beforeAll(async () => {
  const db = new URL(process.env.STORYLOOM_TEST_DATABASE_URL!);
  counter = await startPgCounter({ host: db.hostname, port: Number(db.port || 5432) });
  db.host = `127.0.0.1:${counter.port}`;
  client = new Client({ connectionString: db.toString() });
  await client.connect();
  await client.query('CREATE TEMP TABLE wire_t (id int primary key, v text)');
});

afterAll(async () => {
  await client.end();
  await counter.close();
});

it('counts simple and extended statements, and a commit per transaction or autocommitted write', async () => {
  const before = counter.counts();
  await client.query('SELECT 1'); // simple protocol, read: no commit
  await client.query('SELECT $1::int AS x', [2]); // extended protocol
  await client.query('INSERT INTO wire_t VALUES ($1, $2)', [1, 'a']); // autocommit write: a commit
  await client.query('BEGIN');
  await client.query('INSERT INTO wire_t VALUES ($1, $2)', [2, 'b']);
  await client.query('UPDATE wire_t SET v = $1', ['c']);
  await client.query('COMMIT'); // one commit for the transaction
  await client.query('BEGIN');
  await client.query('DELETE FROM wire_t');
  await client.query('ROLLBACK'); // no commit
  expect(wireDelta(before, counter.counts())).toEqual({ statements: 10, commits: 2, connections: 0 });
});

it('reads a multi-statement simple query as one statement sent, and its transaction as one commit', async () => {
  const before = counter.counts();
  await client.query("BEGIN; INSERT INTO wire_t VALUES (10, 'x'); INSERT INTO wire_t VALUES (11, 'y'); COMMIT");
  expect(wireDelta(before, counter.counts())).toEqual({ statements: 1, commits: 1, connections: 0 });
});

/**
 * Parse once, then Bind/Execute for each row and a single Sync: the statements run in one
 * implicit transaction, as a driver's pipeline mode sends them (node-postgres syncs each query,
 * so this is a custom Submittable).
 */
function pipelined(text: string, rows: string[][]): Promise<void> {
  return new Promise((resolve, reject) => {
    let failure: unknown;
    const submittable: Submittable & Record<string, unknown> = {
      submit(connection) {
        const wire = connection as unknown as { parse(q: object): void; bind(c: object): void; execute(c: object): void; sync(): void };
        wire.parse({ text });
        for (const values of rows) {
          wire.bind({ values });
          wire.execute({ portal: '' });
        }
        wire.sync();
      },
      handleRowDescription() {},
      handleDataRow() {},
      handleCommandComplete() {},
      handleEmptyQuery() {},
      handlePortalSuspended() {},
      handleError(err: unknown) {
        failure = err;
      },
      handleReadyForQuery() {
        if (failure) reject(failure as Error);
        else resolve();
      },
    };
    client.query(submittable);
  });
}

describe('implicit transactions: several statements outside a block are committed once', () => {
  it('counts a simple Query of two INSERTs (no BEGIN) as one commit', async () => {
    const before = counter.counts();
    await client.query("INSERT INTO wire_t VALUES (20, 'a'); INSERT INTO wire_t VALUES (21, 'b')");
    expect(wireDelta(before, counter.counts())).toEqual({ statements: 1, commits: 1, connections: 0 });
  });

  it('counts Bind/Execute twice then one Sync as one commit', async () => {
    const before = counter.counts();
    await pipelined('INSERT INTO wire_t VALUES ($1, $2)', [['30', 'a'], ['31', 'b']]);
    expect(wireDelta(before, counter.counts())).toEqual({ statements: 2, commits: 1, connections: 0 });
    expect((await client.query('SELECT count(*)::int AS n FROM wire_t WHERE id IN (30, 31)')).rows[0].n).toBe(2);
  });

  it('counts no commit when an error rolls the implicit transaction back', async () => {
    const before = counter.counts();
    await expect(client.query("INSERT INTO wire_t VALUES (40, 'a'); SELECT 1/0")).rejects.toThrow('division by zero');
    expect(wireDelta(before, counter.counts())).toEqual({ statements: 1, commits: 0, connections: 0 });
    expect((await client.query('SELECT count(*)::int AS n FROM wire_t WHERE id = 40')).rows[0].n).toBe(0);
  });

  it('counts one commit when a BEGIN turns the implicit transaction into a block', async () => {
    const before = counter.counts();
    await client.query("INSERT INTO wire_t VALUES (50, 'a'); BEGIN; INSERT INTO wire_t VALUES (51, 'b'); COMMIT");
    expect(wireDelta(before, counter.counts())).toEqual({ statements: 1, commits: 1, connections: 0 });
  });
});
