/**
 * The HTTP API's story session reads and end over real HTTP against the dev server, Postgres and
 * the simulator: `GET /api/sessions` (pages, newest first), `GET /api/sessions/:id` (the world
 * and the turns with their tool calls; a turn in flight shows as running) and `POST
 * /api/sessions/:id/end` (ended; ending with a turn in flight; 409 once ended; a session with
 * no run; 504 when no worker takes it). Other test files write sessions into the same database
 * meanwhile: assertions are about this file's sessions, never about counts of all.
 */
import { WorkflowNotFoundError } from '@temporalio/client';
import { randomUUID } from 'node:crypto';
import { Writable } from 'node:stream';
import { SessionsRepository } from '../../src/db/repositories/sessions.repository';
import { sessionWorkflowId } from '../../src/shared/sessions';
import { storySession } from '../../src/workflows';
import { startTestApi, type TestApi } from '../helpers/api';
import { cliEnvironment, runCli } from '../helpers/cli';
import { useTestStack } from '../helpers/harness';
import { waitFor } from '../helpers/wait';

const stack = useTestStack('api-sessions-read');
let api: TestApi;
/** The API's error lines (a 504 is logged as an error): kept here, out of the test output. */
const apiLog: string[] = [];
beforeAll(async () => {
  const logTo = new Writable({
    write(chunk, _encoding, done) {
      apiLog.push(String(chunk));
      done();
    },
  });
  api = await startTestApi({ config: stack.app.config, db: stack.app.services.db, client: stack.env.client, llm: async () => stack.app.services.llm, logTo, logLevel: 'error' });
});
afterAll(async () => {
  await api?.close();
});
beforeEach(() => {
  stack.sim.configure({ latency: null });
});

const json = async (res: Response) => (await res.json()) as Record<string, any>;
const get = async (path: string) => {
  const res = await api.call(path);
  return { status: res.status, body: await json(res) };
};
const post = async (path: string, body?: unknown) => {
  const res = await api.call(path, body === undefined ? { method: 'POST' } : { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  return { status: res.status, body: await json(res) };
};
let n = 0;
const title = (name: string) => `${name} ${Date.now()}-${n++}`;
const repo = () => new SessionsRepository(stack.app.services.db);
const statusOf = async (id: string) => (await repo().getSession(id))?.status;

describe('GET /api/sessions', () => {
  it('lists sessions newest first, a page at a time, with total', async () => {
    const mine: string[] = [];
    for (let i = 0; i < 3; i++) {
      const id = randomUUID();
      await repo().openSession({ id, title: title(`Listed ${i}`), scriptId: null });
      mine.push(id);
    }
    const listed = await get('/api/sessions?limit=500');
    expect(listed.status).toBe(200);
    const ids = (page: Record<string, any>) => (page.sessions as { id: string }[]).map((s) => s.id);
    // Newest first: the last one opened comes first.
    const positions = mine.map((id) => ids(listed.body).indexOf(id));
    expect(positions.every((p) => p >= 0)).toBe(true);
    expect([...positions].sort((a, b) => b - a)).toEqual(positions);
    const item = listed.body.sessions[positions[2]];
    expect(item).toEqual({ id: mine[2], title: expect.stringMatching(/^Listed 2 /), scriptId: null, status: 'active', turns: 0, createdAt: expect.any(String), updatedAt: expect.any(String) });
    expect(Date.parse(item.createdAt)).toBeGreaterThan(0);

    // Pages: offset walks through the list, each session once, in order. Other test files may
    // start sessions meanwhile: a walk counts only when the whole list was the same before and after it.
    for (let tries = 1; ; tries++) {
      const before = (await get('/api/sessions?limit=500')).body;
      const total = before.total as number;
      expect(total).toBeGreaterThanOrEqual(3);
      const walked: string[] = [];
      let firstTotal = -1;
      for (let offset = 0; offset < Math.min(total, 500); offset += 2) {
        const page = (await get(`/api/sessions?limit=2&offset=${offset}`)).body;
        if (offset === 0) firstTotal = page.total;
        expect(page.sessions.length).toBeLessThanOrEqual(2);
        walked.push(...ids(page));
      }
      const after = (await get('/api/sessions?limit=500')).body;
      if (after.total === total && JSON.stringify(ids(after)) === JSON.stringify(ids(before))) {
        expect(firstTotal).toBe(total);
        expect(walked).toEqual(ids(before));
        expect((await get(`/api/sessions?offset=${total}`)).body.sessions).toEqual([]);
        break;
      }
      if (tries === 5) throw new Error('the session list changed during every one of 5 walks');
    }
    // The default page is the CLI's 50.
    const byDefault = (await get('/api/sessions')).body;
    expect(byDefault.sessions.length).toBe(Math.min(50, byDefault.total));
  });

  it('refuses a limit or offset out of range and unknown fields (400)', async () => {
    const cases: [string, string][] = [
      ['limit=0', 'querystring.limit must be >= 1'],
      ['limit=501', 'querystring.limit must be <= 500'],
      ['offset=-1', 'querystring.offset must be >= 0'],
      ['offset=2147483648', 'querystring.offset must be <= 2147483647'],
      ['all=true', 'querystring: unknown field "all"'],
      // Digits, as the CLI takes them: not what Number() would read.
      ...['0x2', '1e0', '2.0', '+1', '%20'].map((v): [string, string] => [`limit=${v}`, 'querystring.limit must be a whole number written in digits']),
    ];
    for (const [query, message] of cases) {
      expect({ query, ...(await get(`/api/sessions?${query}`)) }).toEqual({ query, status: 400, body: { error: { code: 'invalid_request', message } } });
    }
  });
});

describe('GET /api/sessions/:id', () => {
  it('shows the session: title, status, world, memories and its turns with the text, the reply and the tool calls', async () => {
    const id = randomUUID();
    const name = title('The Lighthouse');
    const turn1 = await post(`/api/sessions/${id}/turns`, { text: 'I climb the stairs of the lighthouse', title: name });
    expect(turn1.status).toBe(200);
    const turn2 = await post(`/api/sessions/${id}/turns`, { text: 'I light the lamp [tools: read_state]' });
    expect(turn2.status).toBe(200);

    const { status, body } = await get(`/api/sessions/${id}`);
    expect(status).toBe(200);
    expect(body).toMatchObject({ id, title: name, scriptId: null, status: 'active', turns: 2, endedAt: null, world: expect.any(Object), characters: [], relationships: [] });
    // The simulator's default tools add a memory on the first turn.
    expect(body.memories.length).toBeGreaterThan(0);
    expect(body.memories[0]).toEqual({ id: expect.any(Number), text: expect.any(String), turnNumber: 1 });
    expect(body.recentTurns).toHaveLength(2);
    const [t1, t2] = body.recentTurns;
    expect(t1).toEqual({
      turnNumber: 1,
      text: 'I climb the stairs of the lighthouse',
      reply: turn1.body.reply,
      status: 'completed',
      error: null,
      // The shape of the turn's answer.
      toolCalls: turn1.body.toolCalls,
      metrics: expect.objectContaining({ ...turn1.body.metrics, turnMs: expect.any(Number), stepLimitReached: false }),
      startedAt: expect.any(String),
      finishedAt: expect.any(String),
    });
    expect(t1.toolCalls.length).toBeGreaterThan(0);
    expect(t1.toolCalls[0]).toEqual({ id: expect.any(String), name: expect.any(String), kind: expect.any(String), step: expect.any(Number), ok: expect.any(Boolean), durationMs: expect.any(Number) });
    expect(t2).toMatchObject({ turnNumber: 2, text: 'I light the lamp [tools: read_state]', reply: turn2.body.reply, toolCalls: [{ name: 'read_state', kind: 'read_only', ok: true }] });

    // ?turns=N: the last N; the id in capitals is the same session.
    const last = await get(`/api/sessions/${id.toUpperCase()}?turns=1`);
    expect(last.body.id).toBe(id);
    expect(last.body.recentTurns.map((t: { turnNumber: number }) => t.turnNumber)).toEqual([2]);
  });

  it('answers 404 for no such session and 400 for a malformed id or query', async () => {
    const missing = randomUUID();
    expect(await get(`/api/sessions/${missing}`)).toEqual({ status: 404, body: { error: { code: 'not_found', message: `No session ${missing}.` } } });
    expect(await get('/api/sessions/not-a-uuid')).toEqual({ status: 400, body: { error: { code: 'invalid_request', message: 'params.id must be a UUID' } } });
    expect(await get(`/api/sessions/${missing}?turns=0`)).toEqual({ status: 400, body: { error: { code: 'invalid_request', message: 'querystring.turns must be >= 1' } } });
    expect((await api.call(`/api/sessions/${missing}`, { headers: { authorization: 'Bearer wrong' } })).status).toBe(401);
    expect((await api.call('/api/sessions', { headers: { authorization: 'Bearer wrong' } })).status).toBe(401);
  });
});

describe('POST /api/sessions/:id/end', () => {
  it('ends a session as `sessions end` does; then it is ended (409 to end again, 409 to a turn)', async () => {
    const id = randomUUID();
    const name = title('Goodbye');
    expect((await post(`/api/sessions/${id}/turns`, { text: 'I wave [tools: none]', title: name })).status).toBe(200);
    expect((await post(`/api/sessions/${id}/turns`, { text: 'I leave [tools: none]' })).status).toBe(200);
    // The id in capitals is the same session.
    const ended = await post(`/api/sessions/${id.toUpperCase()}/end`);
    expect(ended).toEqual({ status: 200, body: { sessionId: id, title: name, outcome: 'ended', turns: 2, pending: 0, message: `Ended "${name}" after 2 turns.` } });
    // The run marks it ended as it closes.
    await waitFor(async () => (await statusOf(id)) === 'ended', 20_000, 'the session marked ended');
    const shown = (await get(`/api/sessions/${id}`)).body;
    expect(shown).toMatchObject({ status: 'ended', turns: 2, endedAt: expect.any(String) });
    expect(await post(`/api/sessions/${id}/end`)).toEqual({ status: 409, body: { error: { code: 'conflict', message: `Session ${id} had already ended. Nothing to end.` } } });
    expect(await post(`/api/sessions/${id}/turns`, { text: 'Hello?' })).toMatchObject({ status: 409, body: { error: { code: 'session_ended' } } });
  });

  it('with a turn in flight answers ending and the turn still being taken; the session ends after it', async () => {
    const id = randomUUID();
    const name = title('Pending');
    expect((await post(`/api/sessions/${id}/turns`, { text: 'I light the lamp [tools: none]', title: name })).status).toBe(200);
    stack.sim.configure({ latency: { byPurpose: { session: { fixedMs: 1500 } } } });
    const inFlight = post(`/api/sessions/${id}/turns`, { text: 'I climb the stairs [tools: none]' });
    // The turn shows as running while it is taken.
    const running = await waitFor(async () => {
      const turns = (await get(`/api/sessions/${id}`)).body.recentTurns as { turnNumber: number; status: string }[];
      return turns.find((t) => t.turnNumber === 2 && t.status === 'running');
    }, 20_000, 'turn 2 running');
    expect(running).toMatchObject({ text: 'I climb the stairs [tools: none]', reply: null, metrics: null, finishedAt: null });
    expect(await post(`/api/sessions/${id}/end`)).toEqual({
      status: 200,
      body: { sessionId: id, title: name, outcome: 'ending', turns: 1, pending: 1, message: `Ending "${name}" after 2 turns: 1 turn sent before the end is still being taken.` },
    });
    expect(await inFlight).toMatchObject({ status: 200, body: { turnNumber: 2 } });
    await waitFor(async () => (await statusOf(id)) === 'ended', 20_000, 'the session marked ended');
    expect((await get(`/api/sessions/${id}`)).body).toMatchObject({ status: 'ended', turns: 2 });
  });

  it('ends a session that has no run (never played) at once; 404 for none, 400 for a malformed id', async () => {
    const id = randomUUID();
    const name = title('Never played');
    await repo().openSession({ id, title: name, scriptId: null });
    expect(await post(`/api/sessions/${id}/end`)).toEqual({ status: 200, body: { sessionId: id, title: name, outcome: 'ended', turns: 0, pending: 0, message: `Ended "${name}" after 0 turns.` } });
    expect(await statusOf(id)).toBe('ended');
    const missing = randomUUID();
    expect(await post(`/api/sessions/${missing}/end`)).toEqual({ status: 404, body: { error: { code: 'not_found', message: `No session ${missing}.` } } });
    expect(await post('/api/sessions/nope/end')).toEqual({ status: 400, body: { error: { code: 'invalid_request', message: 'params.id must be a UUID' } } });
  });

  it('stops waiting after the steering timeout when no worker takes the end (504, the session still active)', async () => {
    const id = randomUUID();
    await repo().openSession({ id, title: title('Unserved'), scriptId: null });
    // Its run on a queue no worker polls: the end update can never be taken.
    const handle = await stack.env.client.workflow.start(storySession, { taskQueue: `${stack.app.taskQueue}-nobody`, workflowId: sessionWorkflowId(id), args: [{ sessionId: id, title: 'Unserved', scriptId: null }] });
    try {
      const started = Date.now();
      const { status, body } = await post(`/api/sessions/${id}/end`);
      expect(Date.now() - started).toBeLessThan(25_000);
      expect(status).toBe(504);
      expect(body.error.code).toBe('run_unresponsive');
      expect(body.error.message).toContain('did not take the request within 15 s: is a worker running');
      expect(body.error.message).toContain('It may still be applied when one starts.');
      expect(await statusOf(id)).toBe('active');
      expect(apiLog.join('')).toContain('"code":"run_unresponsive"');
    } finally {
      await handle.terminate('test over').catch((err: unknown) => {
        if (!(err instanceof WorkflowNotFoundError)) throw err;
      });
    }
  }, 40_000);
});

it('the OpenAPI document has the three routes, tagged', async () => {
  const doc = await json(await fetch(`${api.url}/openapi.json`));
  const routes = [doc.paths['/api/sessions'].get, doc.paths['/api/sessions/{id}'].get, doc.paths['/api/sessions/{id}/end'].post];
  expect(routes.map((r) => r.tags)).toEqual([['sessions'], ['sessions'], ['sessions']]);
  expect(routes.every((r) => typeof r.summary === 'string' && r.summary.length > 0)).toBe(true);
  expect(Object.keys(routes[2].responses).sort()).toEqual(['200', '400', '401', '404', '409', '413', '414', '415', '429', '503', '504']);
});

describe('the CLI, through the same code', () => {
  let restoreEnv: () => void;
  beforeAll(() => {
    restoreEnv = cliEnvironment(stack.env, stack.app, stack.sim);
  });
  afterAll(() => restoreEnv?.());

  it('`sessions show` prints what GET /api/sessions/:id answers, and `sessions end` what POST …/end answers', async () => {
    const id = randomUUID();
    const name = title('Both ways');
    expect((await post(`/api/sessions/${id}/turns`, { text: 'I open the door [tools: read_state]', title: name })).status).toBe(200);
    const shown = await runCli('sessions', 'show', id);
    expect(shown.code).toBe(0);
    expect(shown.out).toContain(`# ${name}\nsession ${id}: active, 1 turn\n`);
    expect(shown.out).toContain('- turn 1 (completed): > I open the door [tools: read_state]');
    expect(shown.out).toContain('  tools: read_state');
    const ended = await runCli('sessions', 'end', id);
    expect({ code: ended.code, out: ended.out }).toEqual({ code: 0, out: `Ended "${name}" after 1 turn.` });
    await waitFor(async () => (await statusOf(id)) === 'ended', 20_000, 'the session marked ended');
    // Ended before: the CLI says so (exit 0); the API answers 409 with the same words.
    expect((await runCli('sessions', 'end', id)).out).toBe(`Session ${id} had already ended.`);
    expect((await post(`/api/sessions/${id}/end`)).body.error.message).toBe(`Session ${id} had already ended. Nothing to end.`);
  });
});
