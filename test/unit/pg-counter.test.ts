/** The bench's wire counter: statements and commits read from the Postgres protocol through a proxy. */
import { Client } from 'pg';
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
