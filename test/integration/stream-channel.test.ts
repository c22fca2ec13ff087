/**
 * The stream channel's connections on real Postgres (each test tags its connections with an
 * application_name and counts them in pg_stat_activity): a publisher whose NOTIFY fails closes
 * that connection before opening another, and a subscription whose LISTEN fails closes its own.
 */
import { randomUUID } from 'node:crypto';
import { Client } from 'pg';
import { StreamPublisher, streamChannel, subscribeToStream } from '../../src/db/stream-channel';
import { testDatabaseUrl } from '../helpers/harness';
import { waitFor } from '../helpers/wait';

/** The test database's URL with connections named `name`. */
function named(name: string): string {
  const url = new URL(testDatabaseUrl());
  url.searchParams.set('application_name', name);
  return url.toString();
}

async function openConnections(name: string): Promise<number> {
  const client = new Client({ connectionString: testDatabaseUrl() });
  await client.connect();
  try {
    const { rows } = await client.query<{ n: string }>(`SELECT count(*) AS n FROM pg_stat_activity WHERE application_name = $1`, [name]);
    return Number(rows[0].n);
  } finally {
    await client.end();
  }
}

afterEach(() => jest.restoreAllMocks());

it('a publisher closes the connection whose NOTIFY failed, and sends later events on a new one', async () => {
  const name = `pub-${randomUUID().slice(0, 8)}`;
  const errors: unknown[] = [];
  const publisher = new StreamPublisher(named(name), { onError: (err) => errors.push(err) });
  const channel = streamChannel(`wf-${name}`);
  const heard: string[] = [];
  const sub = await subscribeToStream(testDatabaseUrl(), `wf-${name}`, (e) => heard.push(e.type));
  try {
    publisher.event(channel, { type: 'start', variant: 0, attempt: 1 });
    await publisher.flush();
    expect(await openConnections(name)).toBe(1);
    // A NOTIFY payload over 8000 bytes is refused by the server: the query fails.
    publisher.event(channel, { type: 'failed', variant: 0, message: 'x'.repeat(9000) });
    await publisher.flush();
    expect(errors).toHaveLength(1);
    await waitFor(async () => (await openConnections(name)) === 0, 5_000, 'the failed connection closed');
    publisher.event(channel, { type: 'done', variant: 0, version: 1, truncated: false });
    await publisher.flush();
    expect(await openConnections(name)).toBe(1);
    await waitFor(() => heard.includes('done'), 5_000, 'the event after the failure heard');
  } finally {
    await publisher.close();
    await sub.close();
  }
  await waitFor(async () => (await openConnections(name)) === 0, 5_000, 'the publisher closed');
});

it('a subscription whose LISTEN fails closes its connection and throws', async () => {
  const name = `sub-${randomUUID().slice(0, 8)}`;
  const query = Client.prototype.query as (...a: unknown[]) => unknown;
  function listenRefused(this: Client, ...args: unknown[]): unknown {
    if (typeof args[0] === 'string' && args[0].startsWith('LISTEN')) return Promise.reject(new Error('LISTEN refused'));
    return query.apply(this, args);
  }
  jest.spyOn(Client.prototype, 'query').mockImplementation(listenRefused as never);
  const end = jest.spyOn(Client.prototype, 'end');
  await expect(subscribeToStream(named(name), `wf-${name}`, () => undefined)).rejects.toThrow('LISTEN refused');
  expect(end).toHaveBeenCalledTimes(1);
  jest.restoreAllMocks();
  await waitFor(async () => (await openConnections(name)) === 0, 5_000, 'the subscription connection closed');
});

it('a subscription whose connection is lost (a Postgres restart) ends quietly, without onError too: never an unhandled error that ends the process', async () => {
  const name = `lost-${randomUUID().slice(0, 8)}`;
  const errors: Error[] = [];
  const quiet = await subscribeToStream(named(name), `wf-${name}-quiet`, () => undefined);
  const told = await subscribeToStream(named(name), `wf-${name}-told`, () => undefined, { onError: (err) => errors.push(err) });
  try {
    const admin = new Client({ connectionString: testDatabaseUrl() });
    await admin.connect();
    try {
      await admin.query('SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = $1', [name]);
    } finally {
      await admin.end();
    }
    await waitFor(() => errors.length > 0, 5_000, 'the lost connection reported');
    // The one without onError got the same error; had it reached the process, jest would fail this test.
    await new Promise((r) => setTimeout(r, 200));
  } finally {
    await quiet.close();
    await told.close();
  }
});
