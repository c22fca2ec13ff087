/**
 * The API's run routes over loopback HTTP against a fake Temporal client (no dev server): a
 * progress query no worker answers is bounded, a reconnect that has the final event is told to
 * stop (204), and each job's links and steering are those its workflow defines.
 */
import { ServiceError, WorkflowNotFoundError, WorkflowUpdateFailedError, type Client } from '@temporalio/client';
import { ApplicationFailure, TypedSearchAttributes } from '@temporalio/common';
import { AsyncLocalStorage } from 'node:async_hooks';
import type { DataSource } from 'typeorm';
import { screenplayUrls } from '../../src/api/screenplays.routes';
import { loadConfig } from '../../src/config';
import { readSse, startTestApi, TEST_TOKEN, type TestApi } from '../helpers/api';

interface FakeRun {
  type: string;
  runId: string;
  status: 'RUNNING' | 'COMPLETED';
  historyLength?: number;
  /** The progress query's answer; with `noWorker` nobody answers it. */
  progress?: unknown;
  noWorker?: boolean;
  result?: unknown;
  /** The Updates the run's workflow defines. */
  updates?: Record<string, (arg?: unknown) => unknown>;
}

/** A gRPC error as @grpc/grpc-js makes it. */
const grpcError = (code: number, details: string) => Object.assign(new Error(`${code} ${details}`), { code, details, metadata: {} });

/**
 * A client on `runs`. Like a real connection it keeps a deadline set by withDeadline for the calls
 * made inside it; a query nobody answers fails at that deadline (DEADLINE_EXCEEDED) or, without
 * one, when the server gives up (30 s, scaled down to 20 s here: still far over the bound).
 */
function fakeClient(runs: Record<string, FakeRun>, calls: string[]): Client {
  const deadlines = new AsyncLocalStorage<number>();
  const find = (workflowId: string) => {
    const run = runs[workflowId];
    if (!run) throw new WorkflowNotFoundError('workflow not found', workflowId, undefined);
    return run;
  };
  const getHandle = (workflowId: string) => ({
    workflowId,
    async describe() {
      const run = find(workflowId);
      return {
        workflowId,
        runId: run.runId,
        type: run.type,
        status: { name: run.status },
        startTime: new Date('2026-11-25T10:00:00Z'),
        closeTime: run.status === 'RUNNING' ? undefined : new Date('2026-11-25T10:05:00Z'),
        historyLength: run.historyLength ?? 12,
        typedSearchAttributes: new TypedSearchAttributes(),
        raw: {},
      };
    },
    query(name: unknown) {
      const run = find(workflowId);
      calls.push(`query ${String(typeof name === 'string' ? name : (name as { name: string }).name)} ${workflowId}`);
      if (!run.noWorker) return Promise.resolve(run.progress ?? null);
      const deadline = deadlines.getStore();
      return new Promise((_resolve, reject) => {
        if (deadline !== undefined) setTimeout(() => reject(new ServiceError('Failed to query Workflow', { cause: grpcError(4, 'Deadline exceeded') })), Math.max(0, deadline - Date.now()));
        else setTimeout(() => reject(new ServiceError('Failed to query Workflow', { cause: grpcError(4, 'context deadline exceeded') })), 20_000);
      });
    },
    async executeUpdate(name: string, opts?: { args?: unknown[] }) {
      const run = find(workflowId);
      calls.push(`update ${name} ${workflowId}`);
      const handler = run.updates?.[name];
      if (!handler) throw new WorkflowUpdateFailedError('Workflow Update failed', ApplicationFailure.create({ message: `No registered handler for update: ${name}` }));
      return handler(opts?.args?.[0]);
    },
    async cancel() {
      find(workflowId);
      calls.push(`cancel ${workflowId}`);
    },
    async result() {
      return find(workflowId).result;
    },
  });
  return {
    workflow: { getHandle },
    withDeadline: <R>(deadline: number | Date, fn: () => Promise<R>) => deadlines.run(Number(deadline), fn),
  } as unknown as Client;
}

/** A DataSource these routes never open. */
const noDb = { isInitialized: false, initialize: () => Promise.reject(new Error('no database in this test')) } as unknown as DataSource;

const steering = { paused: false, concurrency: { summaries: 10, sheets: 5 } };
const RUNS: Record<string, FakeRun> = {
  'ingest-slow': { type: 'ingestScript', runId: 'run-ingest-slow', status: 'RUNNING', noWorker: true },
  'ingest-1': {
    type: 'ingestScript',
    runId: 'run-ingest-1',
    status: 'RUNNING',
    progress: { phase: 'summaries', ...steering },
    updates: { pause: () => ({ ...steering, paused: true }), resume: () => steering, setConcurrency: (c) => ({ ...steering, concurrency: { ...steering.concurrency, ...(c as object) } }) },
  },
  'ingest-done': { type: 'ingestScript', runId: 'run-ingest-done', status: 'COMPLETED', progress: { phase: 'done' }, result: { status: 'completed' } },
  'screenplay-1': { type: 'generateScreenplay', runId: 'run-screenplay-1', status: 'RUNNING', progress: { phase: 'writing' } },
  'screenplay-done': { type: 'generateScreenplay', runId: 'run-screenplay-done', status: 'COMPLETED', progress: { phase: 'done' }, result: { storyId: 's1' } },
  'session-1': { type: 'storySession', runId: 'run-session-1', status: 'RUNNING', progress: { turns: 2 }, updates: { takeTurn: () => ({}), end: () => ({}) } },
};

let api: TestApi;
const calls: string[] = [];
beforeAll(async () => {
  const databaseUrl = process.env.STORYLOOM_TEST_DATABASE_URL;
  api = await startTestApi({ config: loadConfig(databaseUrl ? { DATABASE_URL: databaseUrl } : {}), db: noDb, client: fakeClient(RUNS, calls) });
});
afterAll(async () => {
  await api?.close();
});
beforeEach(() => {
  calls.length = 0;
});

const json = async (res: Response) => (await res.json()) as Record<string, any>;
const auth = { authorization: `Bearer ${TEST_TOKEN}` };

describe('GET /api/runs/:workflowId', () => {
  it('answers within the progress query\'s bound when no worker answers it: progress null and why', async () => {
    const started = Date.now();
    const res = await api.call('/api/runs/ingest-slow');
    const took = Date.now() - started;
    expect(res.status).toBe(200);
    const body = await json(res);
    expect(body).toMatchObject({ workflowId: 'ingest-slow', status: 'RUNNING', type: 'ingestScript', progress: null, progressError: 'no worker answered within 5 s' });
    expect(took).toBeGreaterThanOrEqual(4_900);
    expect(took).toBeLessThan(8_000);
  });

  it('has no progressError when the query answers', async () => {
    const body = await json(await api.call('/api/runs/ingest-1'));
    expect(body.progress).toEqual({ phase: 'summaries', ...steering });
    expect(body).not.toHaveProperty('progressError');
  });
});

describe('SSE: a reconnect with the final event\'s id', () => {
  const events = (path: string, lastEventId?: string) =>
    readSse(`${api.url}${path}`, { headers: { ...auth, ...(lastEventId ? { 'last-event-id': lastEventId } : {}) }, until: (e) => e.event === 'final' });

  it('/api/runs/:workflowId/events: the final event once, then 204 No Content on a reconnect that has it', async () => {
    const first = await events('/api/runs/ingest-done/events');
    expect(first.status).toBe(200);
    const final = first.events.at(-1)!;
    expect(final).toMatchObject({ id: 'run-ingest-done:final', event: 'final', data: { status: 'COMPLETED', result: { status: 'completed' } } });

    const res = await fetch(`${api.url}/api/runs/ingest-done/events`, { headers: { ...auth, accept: 'text/event-stream', 'last-event-id': final.id! } });
    expect(res.status).toBe(204);
    expect(res.headers.get('content-type')).toBeNull();
    expect(await res.text()).toBe('');
  });

  it('a Last-Event-ID of an earlier run of the same workflow id, or of a progress event, still gets the final event', async () => {
    for (const id of ['run-ingest-older:final', 'run-ingest-done:7']) {
      const again = await events('/api/runs/ingest-done/events', id);
      expect({ id, status: again.status, last: again.events.at(-1)?.id }).toEqual({ id, status: 200, last: 'run-ingest-done:final' });
    }
  });

  it('/api/screenplays/:workflowId/stream (its own route, the same SSE code): 204 on a reconnect that has the final event', async () => {
    const first = await events('/api/screenplays/screenplay-done/stream');
    expect(first.status).toBe(200);
    expect(first.events.at(-1)).toMatchObject({ id: 'run-screenplay-done:final', event: 'final' });
    const again = await events('/api/screenplays/screenplay-done/stream', 'run-screenplay-done:final');
    expect(again).toEqual({ status: 204, events: [], ended: true });
  });

  it('the OpenAPI document lists the 204', async () => {
    const doc = await json(await fetch(`${api.url}/openapi.json`));
    expect(Object.keys(doc.paths['/api/runs/{workflowId}/events'].get.responses)).toContain('204');
  });
});

describe("each job's links and steering are those its workflow defines", () => {
  const runUrls = async (workflowId: string) => (await json(await api.call(`/api/runs/${workflowId}`))).urls as Record<string, string>;

  it('a screenplay run: no pause, resume or concurrency link; its text stream and report', async () => {
    const base = '/api/runs/screenplay-1';
    const expected = { status: base, events: `${base}/events`, cancel: `${base}/cancel`, report: `${base}/report`, stream: '/api/screenplays/screenplay-1/stream' };
    // The 202 of POST /api/screenplays/generate and its status alike.
    expect(screenplayUrls(api.ctx, 'screenplay-1')).toEqual(expected);
    expect(await runUrls('screenplay-1')).toEqual(expected);
  });

  it('an ingestion: every steering link; a session: no steering and no report', async () => {
    expect(Object.keys(await runUrls('ingest-1')).sort()).toEqual(['cancel', 'concurrency', 'events', 'pause', 'report', 'resume', 'status']);
    expect(Object.keys(api.ctx.runUrls('stories-2026-03-02T00-2026-03-03T00-all')).sort()).toEqual(['cancel', 'concurrency', 'events', 'pause', 'report', 'resume', 'status']);
    expect(Object.keys(await runUrls('session-1')).sort()).toEqual(['cancel', 'events', 'status']);
  });

  it('pause, resume and concurrency on a screenplay run: 409 saying it cannot, nothing sent to the run; cancel works', async () => {
    const post = (path: string) => api.call(path, { method: 'POST' });
    const patch = (path: string, body: unknown) => api.call(path, { method: 'PATCH', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
    const cases: [() => Promise<Response>, string][] = [
      [() => post('/api/runs/screenplay-1/pause'), 'screenplay runs cannot be paused'],
      [() => post('/api/runs/screenplay-1/resume'), 'screenplay runs cannot be resumed'],
      [() => patch('/api/runs/screenplay-1/concurrency', { variants: 2 }), 'screenplay runs have no concurrency to change'],
      [() => post('/api/runs/session-1/pause'), 'story sessions cannot be paused'],
    ];
    for (const [request, message] of cases) {
      const res = await request();
      const body = await json(res);
      expect({ status: res.status, body }).toEqual({ status: 409, body: { error: { code: 'not_supported', message: expect.stringContaining(message) } } });
      expect(body.error.message).not.toContain('No registered handler');
    }
    expect(calls.filter((c) => c.startsWith('update'))).toEqual([]);
    expect((await post('/api/runs/screenplay-1/cancel')).status).toBe(202);
    expect(calls).toContain('cancel screenplay-1');
  });

  it('an ingestion still takes pause and concurrency', async () => {
    expect(await json(await api.call('/api/runs/ingest-1/pause', { method: 'POST' }))).toEqual({ workflowId: 'ingest-1', action: 'pause', state: { ...steering, paused: true } });
    const changed = await api.call('/api/runs/ingest-1/concurrency', { method: 'PATCH', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ summaries: 3 }) });
    expect(await json(changed)).toEqual({ workflowId: 'ingest-1', action: 'concurrency', state: { ...steering, concurrency: { summaries: 3, sheets: 5 } } });
    expect(calls.filter((c) => c.startsWith('update'))).toEqual(['update pause ingest-1', 'update setConcurrency ingest-1']);
  });
});

describe('the router\'s refusals and the request body, in the error shape', () => {
  it('a workflow id over 100 characters reaches the route (404 from the run), not the router\'s 414; a longer path segment or a malformed %-escape is refused in the error shape', async () => {
    const longId = `stories-${'x'.repeat(150)}`;
    const res = await api.call(`/api/runs/${longId}`);
    expect({ status: res.status, body: await json(res) }).toEqual({ status: 404, body: { error: { code: 'not_found', message: `No workflow ${longId}.` } } });

    const tooLong = await api.call(`/api/runs/${'x'.repeat(2500)}`);
    expect({ status: tooLong.status, body: await json(tooLong) }).toEqual({
      status: 414,
      body: { error: { code: 'uri_too_long', message: 'A path segment is longer than 2000 characters.' } },
    });
    // Longer than Node reads (16 KB of request line and headers): refused before routing, in the same shape.
    const huge = await api.call(`/api/runs/${'x'.repeat(20_000)}`);
    expect({ status: huge.status, body: await json(huge) }).toEqual({
      status: 431,
      body: { error: { code: 'headers_too_large', message: 'The request line and headers are larger than the server reads (16 KB): a path segment takes at most 2000 characters, a query less than the rest.' } },
    });
    const badUrl = await api.call('/api/runs/%E0%A4%A');
    expect({ status: badUrl.status, body: await json(badUrl) }).toEqual({
      status: 400,
      body: { error: { code: 'bad_request', message: 'The path is not a valid URL: a %-escape in it is malformed.' } },
    });
  });

  it('a JSON route refuses a text/plain body with 415, sending nothing to the run', async () => {
    const res = await api.call('/api/runs/ingest-1/concurrency', { method: 'PATCH', headers: { 'content-type': 'text/plain' }, body: '{"summaries":3}' });
    expect({ status: res.status, body: await json(res) }).toEqual({
      status: 415,
      body: { error: { code: 'unsupported_media_type', message: 'Content-Type text/plain is not accepted here: send application/json.' } },
    });
    expect(calls.filter((c) => c.startsWith('update'))).toEqual([]);
  });

  it('an empty body sent as application/json is no body: pause answers as without the header; a route that needs a body says so', async () => {
    const paused = await api.call('/api/runs/ingest-1/pause', { method: 'POST', headers: { 'content-type': 'application/json' } });
    expect({ status: paused.status, body: await json(paused) }).toEqual({ status: 200, body: { workflowId: 'ingest-1', action: 'pause', state: { ...steering, paused: true } } });
    const noBody = await api.call('/api/runs/ingest-1/concurrency', { method: 'PATCH', headers: { 'content-type': 'application/json' } });
    expect({ status: noBody.status, body: await json(noBody) }).toEqual({ status: 400, body: { error: { code: 'invalid_request', message: 'body must be object' } } });
    // Malformed JSON is still refused.
    const malformed = await api.call('/api/runs/ingest-1/concurrency', { method: 'PATCH', headers: { 'content-type': 'application/json' }, body: '{' });
    expect(malformed.status).toBe(400);
  });
});

describe('a JSON body is validated as sent: no type coercion', () => {
  const patchJson = (path: string, body: string) => api.call(path, { method: 'PATCH', headers: { 'content-type': 'application/json' }, body });

  it.each([
    ['a number sent as a string', '{"summaries":"5"}', 'body.summaries must be integer'],
    ['null for a number', '{"summaries":null}', 'body.summaries must be integer'],
    ['a list for a number', '{"summaries":[5]}', 'body.summaries must be integer'],
  ])('%s is a 400, nothing sent to the run', async (_what, body, message) => {
    const res = await patchJson('/api/runs/ingest-1/concurrency', body);
    const answer = await json(res);
    expect(res.status).toBe(400);
    expect(answer.error.code).toBe('invalid_request');
    expect(answer.error.message).toBe(message);
    expect(calls.filter((c) => c.startsWith('update'))).toEqual([]);
  });

  it('a number sent as a number still passes; a query string\'s numbers are still read from its text', async () => {
    expect((await patchJson('/api/runs/ingest-1/concurrency', '{"summaries":4}')).status).toBe(200);
    expect(calls).toContain('update setConcurrency ingest-1');
    const bad = await api.call('/api/scripts?limit=abc');
    expect((await json(bad)).error).toEqual({ code: 'invalid_request', message: 'querystring.limit must be a whole number written in digits' });
    // A numeric ?limit= passes validation: the route runs and meets this test's absent database.
    const numeric = await api.call('/api/scripts?limit=5');
    expect((await json(numeric)).error?.code).not.toBe('invalid_request');
  });
});

describe('a database that cannot be used', () => {
  it('answers 503 database_unavailable (a database that does not exist, a refused password), not 500', async () => {
    for (const [code, message] of [['3D000', 'database "storyloom_nope" does not exist'], ['28P01', 'password authentication failed for user "x"']]) {
      const refusing = { isInitialized: false, initialize: () => Promise.reject(Object.assign(new Error(message), { code })) } as unknown as DataSource;
      const down = await startTestApi({ config: loadConfig({}), db: refusing, client: fakeClient(RUNS, []) });
      try {
        const res = await down.call('/api/scripts');
        expect(res.status).toBe(503);
        expect((await json(res)).error).toEqual({ code: 'database_unavailable', message: 'Postgres cannot be reached.' });
      } finally {
        await down.close();
      }
    }
  });
});
