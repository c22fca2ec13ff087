/**
 * The HTTP API over real HTTP on a real port, against the dev server, Postgres and the simulator:
 * upload, ingestion with SSE to the end, 409 on a second start, steering, the refusals (401, 400,
 * 413, 415) with nothing written, readiness, OpenAPI, and an API restart in the middle of a run.
 */
import { Client, Connection, WorkflowNotFoundError } from '@temporalio/client';
import { randomBytes, randomUUID } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Writable } from 'node:stream';
import { parsePayloadKeys } from '../../src/security/payload-codec';
import { assertCodecListenAllowed } from '../../src/api/codec.routes';
import { assertListenAllowed } from '../../src/api/server';
import { apiConnectionOptions } from '../../src/api/serve';
import { createDataSource } from '../../src/db/data-source';
import { MAX_SCREENPLAY_BYTES } from '../../src/domain/screenplay';
import { syntheticScreenplay } from '../../src/domain/synthetic-screenplay';
import { SessionsRepository } from '../../src/db/repositories/sessions.repository';
import { sessionWorkflowId } from '../../src/shared/sessions';
import { DAY_MS, resolveScope, storiesWorkflowId, type StoryScopeInput } from '../../src/shared/stories';
import { main } from '../../src/starter';
import { readSse, startTestApi, TEST_TOKEN, type TestApi } from '../helpers/api';
import { badInputFiles } from '../helpers/bad-input-corpus';
import { TEST_PAYLOAD_KEYS, useTestStack } from '../helpers/harness';
import { waitFor } from '../helpers/wait';

const stack = useTestStack('api');
let api: TestApi;
let n = 0;
const title = (name: string) => `${name} ${Date.now()}-${n++}`;

const apiOptions = () => ({
  config: stack.app.config,
  db: stack.app.services.db,
  client: stack.env.client,
  llm: async () => stack.app.services.llm,
});

beforeAll(async () => {
  api = await startTestApi(apiOptions());
});
afterAll(async () => {
  await api?.close();
});
beforeEach(() => {
  stack.sim.configure({ faults: [], latency: null });
});

/**
 * Scripts with this title. A refused upload names a fresh title in `?title=` and must leave no
 * script with it: other test files write scripts to the same database meanwhile, so a count of
 * every script is not this request's.
 */
const scriptsTitled = async (t: string) =>
  Number((await stack.app.services.db.query('SELECT count(*) AS n FROM scripts WHERE title = $1', [t]))[0].n);
/** A fresh title for a refused upload, as a query string. */
const refusedTitle = () => {
  const t = title('Refused');
  return { t, query: `?title=${encodeURIComponent(t)}` };
};

async function upload(name: string, scenes = 6, characters = 3): Promise<{ scriptId: string; title: string }> {
  const t = title(name);
  const res = await api.call(`/api/scripts?title=${encodeURIComponent(t)}`, {
    method: 'POST',
    headers: { 'content-type': 'text/plain' },
    body: syntheticScreenplay({ scenes, characters, title: t, salt: t }),
  });
  expect(res.status).toBe(201);
  const body = (await res.json()) as { scriptId: string; title: string };
  return { scriptId: body.scriptId, title: t };
}

const json = async (res: Response) => (await res.json()) as Record<string, any>;

describe('health and documents', () => {
  it('/healthz and /readyz answer without a token', async () => {
    expect(await json(await fetch(`${api.url}/healthz`))).toEqual({ ok: true });
    const ready = await fetch(`${api.url}/readyz`);
    expect(ready.status).toBe(200);
    expect(await json(ready)).toEqual({ ok: true, checks: { temporal: { ok: true }, postgres: { ok: true } } });
  });

  it('/readyz answers 503 naming Postgres when it cannot be reached, and the API answers 503 for what needs it', async () => {
    const closedPort = createDataSource('postgres://postgres@127.0.0.1:1/storyloom');
    const down = await startTestApi({ ...apiOptions(), db: closedPort });
    try {
      const res = await fetch(`${down.url}/readyz`);
      expect(res.status).toBe(503);
      const body = await json(res);
      expect(body.error).toEqual({ code: 'not_ready', message: 'Not reachable: Postgres.' });
      expect(body.checks.temporal).toEqual({ ok: true });
      expect(body.checks.postgres.ok).toBe(false);
      const list = await down.call('/api/scripts');
      expect(list.status).toBe(503);
      expect(await json(list)).toEqual({ error: { code: 'database_unavailable', message: 'Postgres cannot be reached.' } });
    } finally {
      await down.close();
    }
  });

  it('Temporal unreachable: a run request answers 503 after a short retry, not after the SDK\'s ~20 s of backoff', async () => {
    const config = { ...stack.app.config, temporal: { ...stack.app.config.temporal, address: '127.0.0.1:1' } };
    const connection = Connection.lazy(apiConnectionOptions(config));
    const down = await startTestApi({ ...apiOptions(), client: new Client({ connection, namespace: config.temporal.namespace }) });
    try {
      const started = Date.now();
      const res = await down.call('/api/runs/ingest-nothing-here');
      const waitedMs = Date.now() - started;
      expect(res.status).toBe(503);
      expect(await json(res)).toEqual({ error: { code: 'temporal_unavailable', message: 'Temporal cannot be reached.' } });
      // 5 attempts back off about 1.8 s in all (±20 %); the SDK's default 10 about 20 s.
      expect(waitedMs).toBeLessThan(8_000);
    } finally {
      await down.close();
      await connection.close();
    }
  }, 60_000);

  it('serves an OpenAPI document built from the route schemas', async () => {
    const doc = await json(await fetch(`${api.url}/openapi.json`));
    expect(doc.openapi).toBe('3.0.3');
    expect(doc.components.securitySchemes.bearerAuth).toEqual({ type: 'http', scheme: 'bearer' });
    for (const path of ['/api/scripts', '/api/scripts/{id}', '/api/scripts/{id}/search', '/api/scripts/{id}/ingestions', '/api/runs/{workflowId}', '/api/runs/{workflowId}/events', '/api/runs/{workflowId}/pause', '/api/runs/{workflowId}/concurrency', '/api/runs/{workflowId}/report', '/healthz', '/readyz']) {
      expect(Object.keys(doc.paths)).toContain(path);
    }
    expect(doc.paths['/api/scripts/{id}/ingestions'].post.requestBody.content['application/json'].schema.properties.concurrency.properties.summaries).toEqual({ type: 'integer', minimum: 1, maximum: 200 });
    // The document names the release that serves it.
    expect(doc.info.version).toBe((JSON.parse(readFileSync(path.join(__dirname, '..', '..', 'package.json'), 'utf8')) as { version: string }).version);
  });
});

describe('the OpenAPI document says what every route answers', () => {
  type Operation = { parameters?: { in: string; name: string; required?: boolean; schema: { pattern?: string } }[]; requestBody?: { required: boolean; content: Record<string, unknown> }; responses: Record<string, unknown> };
  type Route = { method: string; path: string; op: Operation };
  const routesOf = (doc: Record<string, any>): Route[] =>
    Object.entries(doc.paths as Record<string, Record<string, Operation>>).flatMap(([p, methods]) => Object.entries(methods).map(([method, op]) => ({ method: method.toUpperCase(), path: p, op })));
  /** A path with each parameter filled: a UUID where the route takes one, else plain text (or the given value for every one). */
  const fill = ({ path: p, op }: Route, value?: string) =>
    p.replace(/\{(\w+)\}/g, (_m, name: string) => {
      if (value !== undefined) return value;
      const param = op.parameters?.find((x) => x.in === 'path' && x.name === name);
      return param?.schema.pattern ? randomUUID() : name === 'version' ? '1' : 'x';
    });
  /** Each required query parameter as "x". */
  const query = ({ op }: Route) => {
    const required = (op.parameters ?? []).filter((x) => x.in === 'query' && x.required).map((x) => `${x.name}=x`);
    return required.length ? `?${required.join('&')}` : '';
  };
  const documented = (route: Route, status: number) => String(status) in route.op.responses || `${String(status)[0]}XX` in route.op.responses;
  const call = async (target: TestApi, route: Route, url: string, init: RequestInit = {}) => {
    const res = await target.call(url, { method: route.method, signal: AbortSignal.timeout(20_000), ...init });
    // An event stream that opened (200) is not read: its status is what counts.
    const body = res.headers.get('content-type')?.includes('text/event-stream') ? (await res.body?.cancel(), undefined) : await res.text();
    return { route: `${route.method} ${route.path}`, url: url.slice(0, 80), status: res.status, body: body?.slice(0, 200) };
  };
  /** Every answer must be documented for its route: the statuses it answered that its document lacks. */
  const undocumented = (answers: (Awaited<ReturnType<typeof call>> & { of: Route })[]) => answers.filter((a) => !documented(a.of, a.status)).map(({ of: _of, ...a }) => a);

  it('documents, for every route, each status a probe of it answers: token, path, query, body type, size and JSON refused; rate limit; Postgres and Temporal down', async () => {
    const config = { ...stack.app.config, payloadKeys: parsePayloadKeys(`k1:${randomBytes(32).toString('base64')}`, undefined), codecServer: { ...stack.app.config.codecServer, token: 'codec-token' } };
    const probed = await startTestApi({ ...apiOptions(), config });
    const limited = await startTestApi({ ...apiOptions(), config, api: { rateLimitPerMinute: 1 } });
    const closedPort = createDataSource('postgres://postgres@127.0.0.1:1/storyloom');
    const connection = Connection.lazy(apiConnectionOptions({ ...config, temporal: { ...config.temporal, address: '127.0.0.1:1' } }));
    const down = await startTestApi({ ...apiOptions(), config, db: closedPort, client: new Client({ connection, namespace: config.temporal.namespace }) });
    try {
      const doc = await json(await fetch(`${probed.url}/openapi.json`));
      const routes = routesOf(doc);
      expect(routes.length).toBeGreaterThanOrEqual(30);
      const answers: (Awaited<ReturnType<typeof call>> & { of: Route })[] = [];
      const probe = async (target: TestApi, route: Route, url: string, init?: RequestInit) => answers.push({ ...(await call(target, route, url, init)), of: route });
      const seen = new Set<number>();
      const bodies: { route: string; documentedRequired: boolean; answered: number }[] = [];
      await limited.call('/api/scripts'); // the one request a minute the limited API takes
      for (const route of routes) {
        const url = `${fill(route)}${query(route)}`;
        const takesBody = ['POST', 'PATCH', 'PUT'].includes(route.method);
        // No token (a wrong one), a path segment over the router's limit, a malformed path parameter, an unknown query field.
        await probe(probed, route, url, { headers: { authorization: 'Bearer wrong' } });
        if (route.path.includes('{')) {
          await probe(probed, route, fill(route, 'a'.repeat(2001)));
          await probe(probed, route, `${fill(route, 'not-an-id!')}${query(route)}`);
        }
        // (A route that takes no query ignores one: not probed, lest the request do what it does.)
        if (route.op.parameters?.some((x) => x.in === 'query')) await probe(probed, route, `${url}${url.includes('?') ? '&' : '?'}zz=1`);
        if (takesBody) {
          const contentType = Object.keys(route.op.requestBody?.content ?? { 'application/json': {} })[0];
          await probe(probed, route, url, { headers: { 'content-type': 'image/png' }, body: 'x' });
          await probe(probed, route, url, { headers: { 'content-type': contentType }, body: 'x'.repeat(12 * 1024 * 1024) });
          await probe(probed, route, url, { headers: { 'content-type': 'application/json' }, body: '{"a":' });
        }
        // The rate limit, and Postgres and Temporal unreachable (a plain request; nothing can start).
        await probe(limited, route, url);
        await probe(down, route, url, takesBody ? { headers: { 'content-type': 'application/json' }, body: JSON.stringify({ text: 'x', payloads: [] }) } : {});
        // A body the route documents as optional may be left out; one it requires may not.
        if (route.op.requestBody) {
          const bare = await call(down, route, url);
          answers.push({ ...bare, of: route });
          const bodyRefused = bare.status === 400 && /"message":"body\b/.test(bare.body ?? '');
          if (route.op.requestBody.required !== bodyRefused) bodies.push({ route: bare.route, documentedRequired: route.op.requestBody.required, answered: bare.status });
        }
      }
      answers.forEach((a) => seen.add(a.status));
      expect({ undocumented: undocumented(answers), bodies }).toEqual({ undocumented: [], bodies: [] });
      // The probes reached what they aimed at.
      for (const status of [400, 401, 404, 413, 414, 415, 429, 503]) expect(seen).toContain(status);
    } finally {
      await Promise.all([probed.close(), limited.close(), down.close()]);
      await connection.close();
    }
  }, 300_000);
});

describe('stories and sessions: bad input refused before anything starts', () => {
  const postJson = (url: string, body: unknown, headers: Record<string, string> = {}) =>
    api.call(url, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify(body) });
  /** Whether a stories run over this scope was started (its id comes from the scope). */
  const storiesStarted = async (scope: StoryScopeInput) =>
    stack.env.client.workflow.getHandle(storiesWorkflowId(resolveScope(scope, Date.now()))).describe().then(
      () => true,
      (err: unknown) => {
        if (err instanceof WorkflowNotFoundError) return false;
        throw err;
      },
    );
  const ISO = 'takes an ISO 8601 date or date-time (2026-11-25, 2026-11-25T08:00Z or 2026-11-25T08:00+01:00)';

  it.each([
    [{ from: '2026-02-31', to: '2026-03-05' }, `body.from: ${ISO}; got "2026-02-31": no such date`, { fromMs: Date.UTC(2026, 2, 3), toMs: Date.UTC(2026, 2, 5) }],
    [{ from: '1', to: '2001-01-02' }, `body.from: ${ISO}; got "1"`, { fromMs: Date.UTC(2001, 0, 1), toMs: Date.UTC(2001, 0, 2) }],
    [{ from: 'March 7', to: '2001-03-08' }, `body.from: ${ISO}; got "March 7"`, { fromMs: Date.UTC(2001, 2, 7), toMs: Date.UTC(2001, 2, 8) }],
    [{ since: '99999999999d' }, 'body.since: takes a duration of at most 3650000d (10,000 years); got "99999999999d"', undefined],
    [{ from: '2999-01-01' }, /^the scope covers no time: it starts at 2999-01-01T00:00:00\.000Z, not before its end \(now, \d{4}-/, { fromMs: Date.UTC(2999, 0, 1) }],
    [{ from: '2026-03-05', to: '2026-03-01' }, 'body.to must be after body.from', { fromMs: Date.UTC(2026, 2, 5), toMs: Date.UTC(2026, 2, 1) }],
  ])('POST /api/stories/generate %j: 400 naming the value, no run started', async (body, message, scope) => {
    const res = await postJson('/api/stories/generate', body);
    expect(res.status).toBe(400);
    expect(await json(res)).toEqual({ error: { code: 'bad_request', message: typeof message === 'string' ? message : expect.stringMatching(message) } });
    if (scope) expect(await storiesStarted(scope)).toBe(false);
  });

  it.each([
    ['   ', 'title must not be blank (leave it out for "Untitled story"); nothing was started.'],
    ['The \u001b[31mred\u001b[0m lighthouse', 'title must be one line (no line break, tab or other control character); nothing was started.'],
  ])('a new session\'s title %j is refused (400 bad_request): no session starts', async (title, message) => {
    const sessionId = randomUUID();
    const res = await postJson(`/api/sessions/${sessionId}/turns`, { text: 'I look around.', title });
    expect({ status: res.status, body: await json(res) }).toEqual({ status: 400, body: { error: { code: 'bad_request', message } } });
    expect(await new SessionsRepository(stack.app.services.db).getSession(sessionId)).toBeNull();
  });

  it('a blank turn is a bad request (400 bad_request, as a blank title): no session starts', async () => {
    const sessionId = randomUUID();
    const res = await postJson(`/api/sessions/${sessionId}/turns`, { text: '   ' });
    expect({ status: res.status, body: await json(res) }).toEqual({ status: 400, body: { error: { code: 'bad_request', message: 'A turn needs some text: type what your character does or says.' } } });
    expect(await new SessionsRepository(stack.app.services.db).getSession(sessionId)).toBeNull();
  });

  it('a JSON body with a __proto__ key or constructor.prototype is a 400 saying such keys are not allowed (not "not valid JSON"); no run starts', async () => {
    const refusedKeys = 'The JSON body holds a "__proto__" key, or a "constructor" key holding "prototype": such keys are not allowed.';
    const cases: [string, string, string][] = [
      ['/api/stories/generate', '{"since":"24h","__proto__":{"concurrency":1}}', refusedKeys],
      ['/api/stories/generate', '{"since":"24h","flags":{"constructor":{"prototype":{"batch":true}}}}', refusedKeys],
      ['/optimization/configure', '{"__proto__":{"max_turn_history":3}}', refusedKeys],
      // Broken JSON is still said to be so.
      ['/api/stories/generate', '{"since":"24h",', "Body is not valid JSON but content-type is set to 'application/json'"],
    ];
    for (const [path, body, message] of cases) {
      const res = await api.call(path, { method: 'POST', headers: { 'content-type': 'application/json' }, body });
      expect({ path, body, status: res.status, answer: await json(res) }).toEqual({ path, body, status: 400, answer: { error: { code: 'bad_request', message } } });
    }
    expect(await storiesStarted({ sinceMs: DAY_MS })).toBe(false);
  });

  it('a JSON null body is refused (400), not read as no body: no run starts', async () => {
    const script = await upload('Null Body', 2, 2);
    for (const path of [`/api/scripts/${script.scriptId}/ingestions`, '/api/stories/generate']) {
      const res = await api.call(path, { method: 'POST', headers: { 'content-type': 'application/json' }, body: 'null' });
      expect({ path, status: res.status, body: await json(res) }).toEqual({ path, status: 400, body: { error: { code: 'invalid_request', message: 'body must be object' } } });
    }
    expect((await api.call(`/api/runs/ingest-${script.scriptId}`)).status).toBe(404);
    expect(await storiesStarted({ sinceMs: DAY_MS })).toBe(false);
  });

  it('a NUL character (U+0000) anywhere in a request is refused (400) naming where, before anything starts or is read', async () => {
    const sessionId = randomUUID();
    const cases: [string, RequestInit, string][] = [
      [`/api/sessions/${sessionId}/turns`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ text: 'I open\u0000 the door', title: 'Nul' }) }, 'body.text'],
      ['/api/stories/generate', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ from: '2030-01-01', to: '2030-01-02', topic: 'Eco\u0000nomy' }) }, 'body.topic'],
      ['/api/stories/search?q=a%00b', {}, 'query.q'],
      ['/api/scripts/x%00y/search?q=lamp', {}, 'params.id'],
      ['/api/personas/contexts?names=a%00b', {}, 'query.names'],
    ];
    for (const [path, init, where] of cases) {
      const res = await api.call(path, init);
      expect({ path, status: res.status, body: await json(res) }).toEqual({
        path, status: 400, body: { error: { code: 'bad_request', message: `${where} holds a NUL character (U+0000), which cannot be stored.` } },
      });
    }
    expect((await api.call(`/api/sessions/${sessionId}`)).status).toBe(404);
    // An upload's file name (a form field, or the part's own name) is stored as its source: refused too.
    const form = new FormData();
    form.append('fileName', 'night\u0000ferry.fountain');
    form.append('file', new Blob([syntheticScreenplay({ scenes: 2, characters: 2, title: `Nul ${sessionId}`, salt: sessionId })]));
    const upload = await api.call('/api/scripts', { method: 'POST', body: form });
    expect({ status: upload.status, body: await json(upload) }).toEqual({
      status: 400, body: { error: { code: 'bad_request', message: 'The file name holds a NUL character (U+0000), which cannot be stored; nothing was written.' } },
    });
    // A lone surrogate (JSON can carry one) would be stored as U+FFFD: a persona or topic no one could name again.
    const lone = await api.call('/api/stories/generate', { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"from":"2030-01-01","to":"2030-01-02","topic":"Lone\\ud800 topic"}' });
    expect({ status: lone.status, body: await json(lone) }).toEqual({
      status: 400, body: { error: { code: 'bad_request', message: 'body.topic holds an unpaired UTF-16 surrogate, which is not text (it would be stored as U+FFFD).' } },
    });
    // A body nested thousands of levels deep is the schema's to refuse (400), not a stack overflow (500).
    const deep = await api.call('/api/stories/generate', { method: 'POST', headers: { 'content-type': 'application/json' }, body: `{"topic":${'['.repeat(30_000)}${']'.repeat(30_000)}}` });
    expect(deep.status).toBe(400);
  });

  it('two first turns sent at once under different titles: one starts the session, the other is refused (400), not taken under a title it did not give', async () => {
    const sessionId = randomUUID();
    const answers = await Promise.all(
      ['Alpha', 'Beta'].map(async (title) => {
        const res = await postJson(`/api/sessions/${sessionId}/turns`, { text: `hello from ${title}`, title });
        return { title, status: res.status, body: await json(res) };
      }),
    );
    const taken = answers.filter((a) => a.status === 200);
    expect(taken).toHaveLength(1);
    const [refused] = answers.filter((a) => a.status !== 200);
    const winner = taken[0].title;
    expect(refused).toEqual({
      title: refused.title,
      status: 400,
      body: { error: { code: 'bad_request', message: `Session ${sessionId} exists: its title and script were set when it started ("${winner}"); leave title and scriptId out of its turns.` } },
    });
    const repo = new SessionsRepository(stack.app.services.db);
    expect((await repo.getSession(sessionId))?.title).toBe(winner);
    expect((await repo.turns(sessionId)).map((t) => t.input)).toEqual([`hello from ${winner}`]);
  });

  it('a turn sent without title while the first is still being taken (the session not stored yet) is taken, not refused', async () => {
    const sessionId = randomUUID();
    const [first, second] = await Promise.all([
      postJson(`/api/sessions/${sessionId}/turns`, { text: 'I light the lamp', title: 'Gamma' }),
      new Promise((r) => setTimeout(r, 20)).then(() => postJson(`/api/sessions/${sessionId}/turns`, { text: 'I wait for the ship' })),
    ]);
    expect([first.status, second.status]).toEqual([200, 200]);
    const repo = new SessionsRepository(stack.app.services.db);
    expect((await repo.getSession(sessionId))?.title).toBe('Gamma');
    expect((await repo.turns(sessionId)).map((t) => t.input).sort()).toEqual(['I light the lamp', 'I wait for the ship']);
  });

  it('POST /api/sessions/:id/turns with an unknown scriptId: 404, no session started; a known one starts it', async () => {
    const sessionId = randomUUID();
    const scriptId = randomUUID();
    for (const accept of ['application/json', 'text/event-stream']) {
      const res = await postJson(`/api/sessions/${sessionId}/turns`, { text: 'I open the door', scriptId }, { accept });
      expect(res.status).toBe(404);
      expect(await json(res)).toEqual({ error: { code: 'not_found', message: `No script ${scriptId}: nothing was started.` } });
    }
    expect(await new SessionsRepository(stack.app.services.db).getSession(sessionId)).toBeNull();
    await expect(stack.env.client.workflow.getHandle(sessionWorkflowId(sessionId)).describe()).rejects.toBeInstanceOf(WorkflowNotFoundError);

    const script = await upload('Session Script', 2, 2);
    const started = await postJson(`/api/sessions/${sessionId}/turns`, { text: 'I open the door', scriptId: script.scriptId });
    expect(started.status).toBe(200);
    expect((await new SessionsRepository(stack.app.services.db).getSession(sessionId))?.scriptId).toBe(script.scriptId);
  });

  it('a turn that fails for a reason other than the run (SSE) sends a generic error event and logs the details', async () => {
    const secret = '13 INTERNAL: history shard 7 at 10.0.0.7:7233 unavailable (secret-detail)';
    const workflow = Object.create(stack.env.client.workflow, { executeUpdateWithStart: { value: async () => Promise.reject(new Error(secret)) } });
    const client = Object.create(stack.env.client, { workflow: { value: workflow } }) as Client;
    const logs: string[] = [];
    const logTo = new Writable({ write: (chunk, _enc, done) => void (logs.push(String(chunk)), done()) });
    const failing = await startTestApi({ ...apiOptions(), client, logTo });
    try {
      const res = await failing.call(`/api/sessions/${randomUUID()}/turns`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', accept: 'text/event-stream' },
        body: JSON.stringify({ text: 'hello' }),
      });
      const text = await res.text();
      expect(res.status).toBe(200);
      const error = /^event: error\ndata: (.*)$/m.exec(text);
      expect(error && JSON.parse(error[1])).toEqual({ code: 'internal', message: 'The request failed on the server; the API log has the details.' });
      expect(text).not.toContain('secret-detail');
      expect(logs.join('')).toContain('secret-detail');
    } finally {
      await failing.close();
    }
  });
});

describe('scripts, ingestion and SSE', () => {
  it('uploads a script, ingests it with SSE to the end, refuses a second start (409) and serves the result', async () => {
    stack.sim.configure({ latency: { byPurpose: { summary: { fixedMs: 100 } } } });
    const { scriptId, title: t } = await upload('Upload');
    // What the refusals below check for: the upload's own title names its script.
    expect(await scriptsTitled(t)).toBe(1);

    const list = await json(await api.call('/api/scripts?limit=200'));
    expect(list.scripts.map((s: { id: string }) => s.id)).toContain(scriptId);

    const started = await api.call(`/api/scripts/${scriptId}/ingestions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ concurrency: { summaries: 2 }, flags: { useCache: false } }),
    });
    expect(started.status).toBe(202);
    const run = await json(started);
    expect(run).toMatchObject({ workflowId: `ingest-${scriptId}`, mode: 'partial', concurrency: { summaries: 2, sheets: 5 } });
    expect(run.flags.useCache).toBe(false);
    expect(run.webUi).toContain(`/workflows/${encodeURIComponent(run.workflowId)}/${run.runId}/history`);
    expect(run.urls.events).toBe(`/api/runs/${run.workflowId}/events`);

    const second = await api.call(`/api/scripts/${scriptId}/ingestions`, { method: 'POST' });
    expect(second.status).toBe(409);
    const conflict = await json(second);
    // Everything about the refusal in the error object, as every error keeps its details (README: Errors).
    expect(conflict).toEqual({ error: { code: 'already_running', message: expect.stringContaining(t), workflowId: run.workflowId, webUi: expect.stringContaining(`/workflows/${run.workflowId}`), urls: run.urls } });

    const { events } = await readSse(`${api.url}${run.urls.events}`, { headers: { authorization: `Bearer ${TEST_TOKEN}` }, until: (e) => e.event === 'final' });
    const progress = events.filter((e) => e.event === 'progress');
    expect(progress.length).toBeGreaterThanOrEqual(2);
    expect(new Set(progress.map((e) => e.id)).size).toBe(progress.length);
    expect(progress.every((e) => (e.data as { status: string }).status === 'RUNNING')).toBe(true);
    const final = events.at(-1)!;
    expect(final.event).toBe('final');
    expect(final.data).toMatchObject({ status: 'COMPLETED', result: { scriptId, status: 'completed', phases: { summaries: { done: 6 } } } });

    const status = await json(await api.call(run.urls.status));
    expect(status).toMatchObject({ workflowId: run.workflowId, status: 'COMPLETED', type: 'ingestScript', result: { status: 'completed' } });
    expect(status.progress.phase).toBe('done');

    const detail = await json(await api.call(`/api/scripts/${scriptId}`));
    expect(detail.scenes).toHaveLength(6);
    expect(detail.scenes.every((s: { summary: string | null }) => typeof s.summary === 'string')).toBe(true);
    expect(detail.characters.length).toBeGreaterThanOrEqual(3);
    expect(detail.outline.outline.length).toBeGreaterThan(0);
    expect(detail.sheets.length).toBeGreaterThan(0);
    expect(detail.lastIngestion).toMatchObject({ workflowId: run.workflowId, status: 'completed' });

    const report = await api.call(run.urls.report);
    expect(report.status).toBe(200);
    expect((await json(report)).workflowId).toBe(run.workflowId);

    const search = await json(await api.call(`/api/scripts/${scriptId}/search?q=${encodeURIComponent('a quarrel at night')}&limit=3`));
    expect(search.matches).toHaveLength(3);
    expect(search.matches[0]).toEqual(expect.objectContaining({ score: expect.any(Number), heading: expect.any(String) }));

    // The query's embedding is a provider call in the API's process: a provider that fails it is a 502 saying
    // what kind of failure (never the provider's text: it may quote a key's ends), a rate limit a 503.
    try {
      stack.sim.configure({ faults: [{ kind: 'http401', purpose: 'embedding' }] });
      const refused = await api.call(`/api/scripts/${scriptId}/search?q=${encodeURIComponent('a storm never asked before')}`);
      expect(refused.status).toBe(502);
      expect((await json(refused)).error).toEqual({ code: 'llm_provider_error', message: 'The LLM provider refused or failed the call (LlmAuthentication); the API log has its answer.' });
      stack.sim.configure({ faults: [{ kind: 'http429', purpose: 'embedding', retryAfterMs: 2500 }] });
      const limited = await api.call(`/api/scripts/${scriptId}/search?q=${encodeURIComponent('a storm never asked before')}`);
      expect(limited.status).toBe(503);
      expect((await json(limited)).error.code).toBe('llm_rate_limited');
      // The provider's wait, passed on (in whole seconds, rounded up).
      expect(limited.headers.get('retry-after')).toBe('3');
    } finally {
      stack.sim.configure({ faults: [] });
    }
  });

  it('takes a multipart upload', async () => {
    const t = title('Multipart');
    const form = new FormData();
    form.append('file', new Blob([syntheticScreenplay({ scenes: 3, characters: 2, title: t, salt: t })]), 'multi.fountain');
    const res = await api.call(`/api/scripts?title=${encodeURIComponent(t)}`, { method: 'POST', body: form });
    expect(res.status).toBe(201);
    expect(await json(res)).toMatchObject({ title: t, created: true, scenes: 3 });
  });

  it('a multipart upload takes title, scriptId and fileName as form fields too; any other part is refused, writing nothing', async () => {
    const t = title('Form title');
    const form = new FormData();
    form.append('title', t);
    form.append('file', new Blob([syntheticScreenplay({ scenes: 2, characters: 2, title: 'Not this title', salt: t })]), 'form.fountain');
    const res = await api.call('/api/scripts', { method: 'POST', body: form });
    const created = await json(res);
    expect({ status: res.status, body: created }).toMatchObject({ status: 201, body: { title: t, created: true, scenes: 2 } });
    const scriptId = created.scriptId as string;

    // A field after the file counts too: a re-import by the form's scriptId, renamed.
    const renamed = title('Form renamed');
    const again = new FormData();
    again.append('file', new Blob([syntheticScreenplay({ scenes: 2, characters: 2, title: 'Not this title', salt: t })]), 'form.fountain');
    again.append('scriptId', scriptId);
    again.append('title', renamed);
    const updated = await api.call('/api/scripts', { method: 'POST', body: again });
    expect({ status: updated.status, body: await json(updated) }).toMatchObject({ status: 200, body: { scriptId, title: renamed, created: false } });

    // A fileName field names the file over the part's own name (a Blob's is "blob"): the source name, and the format it implies.
    const named = new FormData();
    // Its directories are dropped, as `storyloom import` keeps a file's name only.
    named.append('fileName', `../../drafts/${t} pilot.fountain`);
    named.append('file', new Blob([syntheticScreenplay({ scenes: 2, characters: 2, title: `${t} pilot`, salt: `${t} pilot` })]));
    const namedRes = await api.call('/api/scripts', { method: 'POST', body: named });
    expect(namedRes.status).toBe(201);
    const namedScript = await json(await api.call(`/api/scripts/${(await json(namedRes)).scriptId}`));
    expect(namedScript).toMatchObject({ sourceName: `${t} pilot.fountain` });

    // A title from the title page meets what a given title must: one line, no terminal escapes, at most 500 characters.
    const escaped = new FormData();
    escaped.append('file', new Blob([syntheticScreenplay({ scenes: 2, characters: 2, title: `Esc\u001b[2J ${t} ${'L'.repeat(600)}`, salt: `${t} escaped` })]), 'escaped.fountain');
    const escapedRes = await api.call('/api/scripts', { method: 'POST', body: escaped });
    expect(escapedRes.status).toBe(201);
    const escapedTitle = (await json(escapedRes)).title as string;
    expect(escapedTitle).toMatch(new RegExp(`^Esc \\[2J ${t} L+$`));
    expect(escapedTitle).toHaveLength(500);

    const before = (await json(await api.call('/api/scripts?limit=1'))).total;
    const refusals: [FormData, string, string][] = [];
    const unknown = new FormData();
    unknown.append('file', new Blob(['INT. A ROOM - DAY\n\nNothing.\n']), 'x.fountain');
    unknown.append('colour', 'red');
    refusals.push([unknown, '', 'The multipart field "colour" is not one this upload takes (title, scriptId, fileName and the "file" part); nothing was written.']);
    const twice = new FormData();
    twice.append('title', 'Form one');
    twice.append('file', new Blob(['INT. A ROOM - DAY\n\nNothing.\n']), 'x.fountain');
    refusals.push([twice, '?title=Query%20one', '"title" is given twice, as the query\'s "Query one" and the form\'s "Form one"; nothing was written.']);
    const blank = new FormData();
    blank.append('title', '   ');
    blank.append('file', new Blob(['INT. A ROOM - DAY\n\nNothing.\n']), 'x.fountain');
    refusals.push([blank, '', 'title must not be blank (leave it out to take the title from the file); nothing was written.']);
    const twoFiles = new FormData();
    twoFiles.append('file', new Blob(['INT. A ROOM - DAY\n\nNothing.\n']), 'a.fountain');
    twoFiles.append('file', new Blob(['INT. A HALL - DAY\n\nNothing.\n']), 'b.fountain');
    refusals.push([twoFiles, '', 'The multipart request holds more than one file: send one screenplay as the "file" part; nothing was written.']);
    const manyFields = new FormData();
    for (const [name, value] of [['title', 'A'], ['fileName', 'a.fountain'], ['scriptId', randomUUID()], ['title', 'B']]) manyFields.append(name, value);
    manyFields.append('file', new Blob(['INT. A ROOM - DAY\n\nNothing.\n']), 'x.fountain');
    refusals.push([manyFields, '', 'The multipart request holds more fields than the upload takes (title, scriptId, fileName, each once, and the "file" part); nothing was written.']);
    for (const [body, query, message] of refusals) {
      const refused = await api.call(`/api/scripts${query}`, { method: 'POST', body });
      expect({ status: refused.status, body: await json(refused) }).toEqual({ status: 400, body: { error: { code: 'bad_request', message } } });
    }
    expect((await json(await api.call('/api/scripts?limit=1'))).total).toBe(before);
  });

  it('pauses, resumes and cancels a run through the API', async () => {
    stack.sim.configure({ latency: { byPurpose: { summary: { fixedMs: 300 } } } });
    const { scriptId } = await upload('Steer', 12, 3);
    const run = await json(await api.call(`/api/scripts/${scriptId}/ingestions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ concurrency: { summaries: 1, sheets: 1 } }) }));
    const paused = await api.call(run.urls.pause, { method: 'POST' });
    expect(paused.status).toBe(200);
    expect(await json(paused)).toEqual({ workflowId: run.workflowId, action: 'pause', state: { paused: true, concurrency: { summaries: 1, sheets: 1 } } });
    expect((await json(await api.call(run.urls.status))).progress.paused).toBe(true);

    const widened = await api.call(run.urls.concurrency, { method: 'PATCH', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ summaries: 3 }) });
    expect(await json(widened)).toEqual({ workflowId: run.workflowId, action: 'concurrency', state: { paused: true, concurrency: { summaries: 3, sheets: 1 } } });
    const refused = await api.call(run.urls.concurrency, { method: 'PATCH', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ threads: 3 }) });
    expect(refused.status).toBe(400);
    expect((await json(refused)).error.message).toMatch(/unknown key "threads"/);

    const resumed = await json(await api.call(run.urls.resume, { method: 'POST' }));
    expect(resumed.state.paused).toBe(false);

    const cancelled = await api.call(run.urls.cancel, { method: 'POST' });
    expect(cancelled.status).toBe(202);
    const { events } = await readSse(`${api.url}${run.urls.events}`, { headers: { authorization: `Bearer ${TEST_TOKEN}` }, until: (e) => e.event === 'final' });
    expect(events.at(-1)).toMatchObject({ event: 'final', data: { status: 'CANCELLED', error: { type: 'CancelledFailure' } } });

    const again = await api.call(run.urls.pause, { method: 'POST' });
    expect(again.status).toBe(409);
    expect((await json(again)).error.code).toBe('conflict');
  });

  it('a client that reconnects to a restarted API with Last-Event-ID sees the run finish', async () => {
    stack.sim.configure({ latency: { byPurpose: { summary: { fixedMs: 250 } } } });
    const { scriptId } = await upload('Restart', 10, 3);
    let first = await startTestApi(apiOptions());
    const port = Number(new URL(first.url).port);
    const run = await json(await first.call(`/api/scripts/${scriptId}/ingestions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ concurrency: { summaries: 1 } }) }));
    const auth = { authorization: `Bearer ${TEST_TOKEN}` };
    let lastId: string | undefined;
    let progressEvents = 0;
    let stopping: Promise<void> | undefined;
    // The first API goes away under the client after its second progress event.
    const before = await readSse(`${first.url}${run.urls.events}`, {
      headers: auth,
      onEvent: (e) => {
        lastId = e.id;
        if (e.event === 'progress') progressEvents++;
        if (progressEvents === 2) stopping ??= first.close();
      },
    });
    await stopping;
    expect(before.ended).toBe(true);
    expect(before.events.map((e) => e.event)).not.toContain('final');
    expect(lastId).toMatch(/^[\w-]+:\d+$/);
    first = await startTestApi({ ...apiOptions(), port });
    try {
      const after = await readSse(`${first.url}${run.urls.events}`, { headers: { ...auth, 'last-event-id': lastId! }, until: (e) => e.event === 'final' });
      expect(after.events[0]?.id).not.toBe(lastId);
      const final = after.events.at(-1)!;
      expect(final).toMatchObject({ event: 'final', id: `${run.runId}:final`, data: { status: 'COMPLETED', result: { status: 'completed' } } });
      // A client that has the final event and reconnects (an EventSource does, by itself) is told to stop: 204, not the final event again.
      for (let i = 0; i < 2; i++) {
        const again = await first.call(run.urls.events, { headers: { accept: 'text/event-stream', 'last-event-id': final.id! } });
        expect(again.status).toBe(204);
        expect(await again.text()).toBe('');
      }
    } finally {
      await first.close();
    }
  });
});

describe('a run no worker answers for', () => {
  it('GET /api/runs/:workflowId answers within 5 s: progress null, progressError saying why, the description\'s status; the SSE stream says the same', async () => {
    const workflowId = `ingest-${randomUUID()}`;
    // No worker polls this queue: the run is RUNNING and its queries go unanswered.
    const handle = await stack.env.client.workflow.start('ingestScript', { workflowId, taskQueue: `no-worker-${randomUUID()}`, args: [{}] });
    try {
      const started = Date.now();
      const res = await api.call(`/api/runs/${workflowId}`);
      const took = Date.now() - started;
      expect(res.status).toBe(200);
      expect(await json(res)).toMatchObject({ workflowId, runId: handle.firstExecutionRunId, type: 'ingestScript', status: 'RUNNING', progress: null, progressError: 'no worker answered within 5 s' });
      expect(took).toBeLessThan(8_000);
      const { events } = await readSse(`${api.url}/api/runs/${workflowId}/events`, { headers: { authorization: `Bearer ${TEST_TOKEN}` }, until: (e) => e.event === 'progress' });
      expect(events[0]).toMatchObject({ event: 'progress', data: { status: 'RUNNING', progress: null, progressError: 'no worker answered within 5 s' } });
    } finally {
      await handle.terminate('test over');
    }
  });
});

describe('GET /api/runs/:workflowId/report when no report is stored', () => {
  it('409 while the run runs (wait for it), 404 once it ended without one or for no run, 409 not_supported for a job that stores none', async () => {
    const workflowId = `ingest-${randomUUID()}`;
    const handle = await stack.env.client.workflow.start('ingestScript', { workflowId, taskQueue: `no-worker-${randomUUID()}`, args: [{}] });
    const session = await stack.env.client.workflow.start('storySession', { workflowId: `session-${randomUUID()}`, taskQueue: `no-worker-${randomUUID()}`, args: [{}] });
    try {
      const running = await api.call(`/api/runs/${workflowId}/report`);
      expect({ status: running.status, body: await json(running) }).toEqual({
        status: 409,
        body: { error: { code: 'conflict', message: `Workflow ${workflowId} is running: its report is stored when it ends.` } },
      });
      const sessionReport = await api.call(`/api/runs/${session.workflowId}/report`);
      expect({ status: sessionReport.status, body: await json(sessionReport) }).toEqual({
        status: 409,
        body: { error: { code: 'not_supported', message: 'story sessions store no report: storySession runs have none.' } },
      });
      await handle.terminate('test over');
      const ended = await api.call(`/api/runs/${workflowId}/report`);
      expect({ status: ended.status, body: await json(ended) }).toEqual({ status: 404, body: { error: { code: 'not_found', message: `No report for ${workflowId}: the run (TERMINATED) stored none.` } } });
      const none = await api.call('/api/runs/ingest-no-such-run/report');
      expect({ status: none.status, body: await json(none) }).toEqual({ status: 404, body: { error: { code: 'not_found', message: 'No workflow ingest-no-such-run.' } } });
    } finally {
      await handle.terminate('test over').catch(() => undefined);
      await session.terminate('test over');
    }
  });
});

describe('refusals', () => {
  const noToken = (path: string, init: RequestInit = {}) => fetch(`${api.url}${path}`, init);

  it('answers 401 without a valid bearer token on /api, and writes nothing', async () => {
    const { t, query } = refusedTitle();
    const body = syntheticScreenplay({ scenes: 2, characters: 2, title: 'x', salt: title('NoToken') });
    for (const headers of [{}, { authorization: 'Bearer wrong-token' }, { authorization: `Basic ${TEST_TOKEN}` }] as Record<string, string>[]) {
      const res = await noToken(`/api/scripts${query}`, { method: 'POST', headers: { 'content-type': 'text/plain', ...headers }, body });
      expect(res.status).toBe(401);
      expect(res.headers.get('www-authenticate')).toBe('Bearer');
      expect((await json(res)).error.code).toBe('unauthorized');
    }
    expect((await noToken('/api/runs/anything')).status).toBe(401);
    expect((await noToken('/optimization/performance/metrics')).status).toBe(401);
    expect(await scriptsTitled(t)).toBe(0);
    // The challenge goes with a refusal only.
    expect((await api.call('/api/scripts?limit=1')).headers.get('www-authenticate')).toBeNull();
  });

  it('answers 401 on a protected route reached through a percent-encoded path', async () => {
    const { t, query } = refusedTitle();
    // Fastify decodes %xx before it routes: each of these reaches a protected handler.
    for (const path of ['/%61pi/scripts', '/%61%70%69/scripts', '/%6Fptimization/performance/metrics', '/%61pi/no-such-route']) {
      const res = await noToken(path);
      expect({ path, status: res.status }).toEqual({ path, status: 401 });
    }
    const body = syntheticScreenplay({ scenes: 2, characters: 2, title: 'x', salt: title('EncodedPath') });
    const res = await noToken(`/%61pi/scripts${query}`, { method: 'POST', headers: { 'content-type': 'text/plain' }, body });
    expect(res.status).toBe(401);
    expect(await scriptsTitled(t)).toBe(0);
    // The open routes stay open.
    expect((await noToken('/healthz')).status).toBe(200);
  });

  it.each([
    ['an empty body', 'text/plain', Buffer.alloc(0), 400, 'bad_request', /empty/],
    ['a file without scenes', 'text/plain', Buffer.from('Just a line of text.\n'), 400, 'bad_request', /./],
    ['malformed FDX', 'application/xml', Buffer.from('<?xml version="1.0"?><FinalDraft><Content><Paragraph'), 400, 'bad_request', /./],
    ['a body over the import limit', 'text/plain', Buffer.alloc(MAX_SCREENPLAY_BYTES + 1, 'a'), 413, 'payload_too_large', /limit \(5242880 bytes\)/],
    ['a binary file', 'application/octet-stream', Buffer.from([0x50, 0x4b, 0x03, 0x04, 0, 0, 0x14, 0]), 415, 'unsupported_media_type', /not UTF-8 text/],
    ['JSON', 'application/json', Buffer.from('{"title":"x"}'), 415, 'unsupported_media_type', /application\/json/],
    ['an image', 'image/png', Buffer.from('png'), 415, 'unsupported_media_type', /image\/png/],
  ])('refuses an upload of %s (%s) with the reason, writing nothing', async (_what, type, body, status, code, message) => {
    const { t, query } = refusedTitle();
    const res = await api.call(`/api/scripts${query}`, { method: 'POST', headers: { 'content-type': type }, body });
    expect(res.status).toBe(status);
    const answer = await json(res);
    expect(answer.error.code).toBe(code);
    expect(answer.error.message).toMatch(message);
    expect(JSON.stringify(answer)).not.toMatch(/at .*\.ts:\d+|SELECT|INSERT/);
    expect(await scriptsTitled(t)).toBe(0);
  });

  it('answers a text body to a JSON route with what that route takes (its ingestions route too, under /api/scripts)', async () => {
    const { scriptId } = await upload('Wrong Type', 2, 2);
    for (const path of [`/api/scripts/${scriptId}/ingestions`, '/api/stories/generate']) {
      const res = await api.call(path, { method: 'POST', headers: { 'content-type': 'text/plain' }, body: 'full' });
      expect({ path, status: res.status, body: await json(res) }).toEqual({
        path, status: 415, body: { error: { code: 'unsupported_media_type', message: 'Content-Type text/plain is not accepted here: send application/json.' } },
      });
    }
    const upload415 = await json(await api.call('/api/scripts', { method: 'POST', headers: { 'content-type': 'image/png' }, body: 'png' }));
    expect(upload415.error.message).toMatch(/send a Fountain or FDX file/);
  });

  // The bad-input corpus the CLI test imports (test/helpers/bad-input-corpus.ts), as uploads: the
  // same refusal, said the same way, as a 400/413/415 with nothing written.
  const corpusDir = mkdtempSync(path.join(tmpdir(), 'storyloom-api-bad-input-'));
  afterAll(() => rmSync(corpusDir, { recursive: true, force: true }));
  it.each(badInputFiles(corpusDir).filter((f) => !f.pathOnly).map((f) => [f.what, f] as const))(
    'refuses the bad-input corpus\'s %s as an upload, writing nothing',
    async (_what, { file, message }) => {
      const { t, query } = refusedTitle();
      const p = file();
      const type = p.endsWith('.fdx') ? 'application/xml' : 'text/plain';
      const res = await api.call(`/api/scripts${query}`, { method: 'POST', headers: { 'content-type': type }, body: readFileSync(p) });
      const answer = await json(res);
      expect([400, 413, 415]).toContain(res.status);
      // Over the size limit the body limit answers first, in its own words; every other refusal is the import's.
      if (res.status === 413) expect(answer.error.message).toMatch(/limit/);
      else expect(answer.error.message).toMatch(message);
      expect(JSON.stringify(answer)).not.toMatch(/at .*\.ts:\d+|SELECT|INSERT/);
      expect(await scriptsTitled(t)).toBe(0);
    },
  );

  it('refuses a multipart file over the import limit (413), writing nothing', async () => {
    const { t, query } = refusedTitle();
    const form = new FormData();
    form.append('file', new Blob([Buffer.alloc(MAX_SCREENPLAY_BYTES + 10, 'a')]), 'big.fountain');
    const res = await api.call(`/api/scripts${query}`, { method: 'POST', body: form });
    expect(res.status).toBe(413);
    // Our check or the multipart plugin's, whichever sees the cut first: both say so.
    const { error } = await json(res);
    expect(error.code).toBe('payload_too_large');
    expect(error.message).toMatch(/larger than .*limit.*nothing was written/);
    expect(await scriptsTitled(t)).toBe(0);
  });

  it.each([
    [{ concurrency: { summaries: 0 } }, 'body.concurrency.summaries must be >= 1'],
    [{ concurrency: { sheets: 'many' } }, 'body.concurrency.sheets must be integer'],
    [{ flags: { parallelPhase3: false } }, 'body.flags: unknown field "parallelPhase3"'],
    [{ mode: 'quick' }, 'body.mode must be equal to one of the allowed values'],
    [{ threads: 2 }, 'body: unknown field "threads"'],
  ])('refuses ingestion body %j with 400 naming the field, starting nothing', async (body, message) => {
    const { scriptId } = await upload('BadBody', 2, 2);
    const res = await api.call(`/api/scripts/${scriptId}/ingestions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
    expect(res.status).toBe(400);
    expect(await json(res)).toEqual({ error: { code: 'invalid_request', message } });
    expect((await api.call(`/api/runs/ingest-${scriptId}`)).status).toBe(404);
  });

  it('validates queries and answers 404s in the error shape', async () => {
    expect(await json(await api.call('/api/scripts?limit=0'))).toEqual({ error: { code: 'invalid_request', message: 'querystring.limit must be >= 1' } });
    expect(await json(await api.call('/api/scripts?color=red'))).toEqual({ error: { code: 'invalid_request', message: 'querystring: unknown field "color"' } });
    const { scriptId } = await upload('Search', 2, 2);
    expect(await json(await api.call(`/api/scripts/${scriptId}/search`))).toEqual({ error: { code: 'invalid_request', message: 'querystring.q is required' } });
    expect((await api.call('/api/scripts/00000000-0000-0000-0000-000000000000')).status).toBe(404);
    expect(await json(await api.call('/api/runs/no-such-run'))).toEqual({ error: { code: 'not_found', message: 'No workflow no-such-run.' } });
    expect(await json(await api.call('/nowhere'))).toEqual({ error: { code: 'not_found', message: 'No route GET /nowhere.' } });
  });

  it('a malformed id in any job\'s path is a 400 invalid_request; a well-formed one naming nothing a 404', async () => {
    // Every documented route whose path takes an id (workflow ids are any text, presets and versions are not ids).
    const doc = await json(await fetch(`${api.url}/openapi.json`));
    const idRoutes = Object.entries(doc.paths as Record<string, Record<string, { parameters?: { in: string; name: string }[] }>>).flatMap(([p, methods]) =>
      Object.entries(methods)
        .filter(([, op]) => (op.parameters ?? []).some((x) => x.in === 'path' && !['workflowId', 'version', 'name'].includes(x.name)))
        .map(([method]) => ({ method: method.toUpperCase(), path: p })),
    );
    // Scripts, ingestions, stories, sessions, screenplays.
    expect(idRoutes.length).toBeGreaterThanOrEqual(9);
    const fill = (p: string, id: string) => p.replace(/\{(\w+)\}/g, (_m, name: string) => (name === 'version' ? '1' : id));
    for (const { method, path: p } of idRoutes) {
      const res = await api.call(`${fill(p, 'not-an-id!')}?q=x`, { method });
      const body = await json(res);
      expect({ method, p, status: res.status, code: body.error?.code }).toEqual({ method, p, status: 400, code: 'invalid_request' });
      expect(body.error.message).toMatch(/^params\.\w+ must be /);
    }
    const nobody = '0badc0de-0000-4000-8000-000000000000';
    for (const p of ['/api/scripts/{id}', '/api/scripts/{id}/search', '/api/stories/{id}', '/api/sessions/{id}', '/api/screenplays/{storyId}']) {
      expect({ p, status: (await api.call(`${fill(p, nobody)}${p.endsWith('/search') ? '?q=x' : ''}`)).status }).toEqual({ p, status: 404 });
    }
    expect((await api.call(`/api/scripts/${nobody}/ingestions`, { method: 'POST' })).status).toBe(404);
    // A script id in capitals is the same script (as a session's or a screenplay story's).
    const { scriptId } = await upload('UpperId', 2, 2);
    const upper = await api.call(`/api/scripts/${scriptId.toUpperCase()}`);
    expect({ status: upper.status, id: (await json(upper)).id }).toEqual({ status: 200, id: scriptId });
    // The upload's scriptId, in the query or as a form field, is an id too.
    const raw = await api.call('/api/scripts?scriptId=not-an-id', { method: 'POST', headers: { 'content-type': 'text/plain' }, body: syntheticScreenplay({ scenes: 1, characters: 1, title: 'x', salt: title('BadId') }) });
    expect({ status: raw.status, body: await json(raw) }).toEqual({ status: 400, body: { error: { code: 'invalid_request', message: 'querystring.scriptId must be a UUID' } } });
    const form = new FormData();
    form.append('scriptId', 'not-an-id');
    form.append('file', new Blob([syntheticScreenplay({ scenes: 1, characters: 1, title: 'x', salt: title('BadId') })]), 'x.fountain');
    const multipart = await api.call('/api/scripts', { method: 'POST', body: form });
    expect({ status: multipart.status, body: await json(multipart) }).toEqual({ status: 400, body: { error: { code: 'bad_request', message: 'The multipart field "scriptId" must be a UUID; nothing was written.' } } });
  });

  it('refuses an offset past what Postgres takes with 400 (not a 500)', async () => {
    const res = await api.call('/api/scripts?offset=100000000000000000000');
    expect({ status: res.status, body: await json(res) }).toEqual({ status: 400, body: { error: { code: 'invalid_request', message: 'querystring.offset must be <= 2147483647' } } });
    expect((await api.call('/api/scripts?offset=2147483647&limit=1')).status).toBe(200);
  });

  it('refuses a blank ?title= as `import --title` does (400), writing nothing', async () => {
    const blank = `  ${' '.repeat(n++ % 5)}`;
    const body = syntheticScreenplay({ scenes: 2, characters: 2, title: 'x', salt: title('BlankTitle') });
    const res = await api.call(`/api/scripts?title=${encodeURIComponent(blank)}`, { method: 'POST', headers: { 'content-type': 'text/plain' }, body });
    expect({ status: res.status, body: await json(res) }).toEqual({
      status: 400,
      body: { error: { code: 'bad_request', message: 'title must not be blank (leave it out to take the title from the file); nothing was written.' } },
    });
    expect(await scriptsTitled(blank)).toBe(0);
    // Nor a title of two lines (it would split every line that names the script).
    const twoLines = `${title('Act One')}\nAct Two`;
    const split = await api.call(`/api/scripts?title=${encodeURIComponent(twoLines)}`, { method: 'POST', headers: { 'content-type': 'text/plain' }, body });
    expect({ status: split.status, body: await json(split) }).toEqual({
      status: 400,
      body: { error: { code: 'bad_request', message: 'title must be one line (no line break, tab or other control character); nothing was written.' } },
    });
    expect(await scriptsTitled(twoLines)).toBe(0);
  });

  it('a JSON body over the JSON limit is a 413', async () => {
    const { scriptId } = await upload('BigJson', 2, 2);
    const res = await api.call(`/api/scripts/${scriptId}/ingestions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ pad: 'x'.repeat(100_000) }) });
    expect(res.status).toBe(413);
  });
});

describe('codec server', () => {
  it('hosts the payload codec routes when payload keys are set (its own token)', async () => {
    const keys = parsePayloadKeys(`k1:${randomBytes(32).toString('base64')}`, undefined);
    const config = { ...stack.app.config, payloadKeys: keys, codecServer: { ...stack.app.config.codecServer, token: 'codec-token' } };
    const withCodec = await startTestApi({ ...apiOptions(), config });
    try {
      const plain = { metadata: { encoding: Buffer.from('json/plain').toString('base64') }, data: Buffer.from('{"secret":"lamp"}').toString('base64') };
      const codec = (path: string, body: unknown) =>
        fetch(`${withCodec.url}/codec/${path}`, { method: 'POST', headers: { 'content-type': 'application/json', authorization: 'Bearer codec-token' }, body: JSON.stringify(body) });
      const encoded = await json(await codec('encode', { payloads: [plain] }));
      expect(Buffer.from(encoded.payloads[0].data, 'base64').toString()).not.toContain('lamp');
      const decoded = await json(await codec('decode', encoded));
      expect(decoded.payloads[0].data).toBe(plain.data);
      // Its refusals answer the API's error shape, like a bad body on the same route.
      const noToken = await fetch(`${withCodec.url}/codec/decode`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(encoded) });
      expect({ status: noToken.status, body: await json(noToken) }).toEqual({
        status: 401,
        body: { error: { code: 'unauthorized', message: 'a valid "Authorization: Bearer <STORYLOOM_CODEC_TOKEN>" header is required' } },
      });
      const foreign = { payloads: [{ ...encoded.payloads[0], metadata: { ...encoded.payloads[0].metadata, 'encryption-key-id': Buffer.from('k9').toString('base64') } }] };
      const unknownKey = await codec('decode', foreign);
      expect({ status: unknownKey.status, body: await json(unknownKey) }).toEqual({
        status: 400,
        body: { error: { code: 'codec_error', message: 'payload encrypted with key "k9", which is not in STORYLOOM_PAYLOAD_KEYS' } },
      });
      expect((await json(await codec('decode', { nope: 1 }))).error).toEqual({ code: 'invalid_request', message: 'body.payloads is required' });
    } finally {
      await withCodec.close();
    }
  });
});

describe('limits, CORS, logs and listening', () => {
  it('rate-limits per token (429 in the error shape); health checks are not limited', async () => {
    const limited = await startTestApi({ ...apiOptions(), api: { rateLimitPerMinute: 3 } });
    try {
      const codes = [];
      for (let i = 0; i < 4; i++) codes.push((await limited.call('/api/runs/none')).status);
      expect(codes).toEqual([404, 404, 404, 429]);
      expect((await json(await limited.call('/api/runs/none'))).error.code).toBe('rate_limited');
      for (let i = 0; i < 5; i++) expect((await fetch(`${limited.url}/healthz`)).status).toBe(200);
      // Guessed tokens count against the address: the fourth guess is throttled, not answered.
      const guesses = [];
      for (let i = 0; i < 4; i++) guesses.push((await fetch(`${limited.url}/api/runs/none`, { headers: { authorization: `Bearer guess-${i}` } })).status);
      expect(guesses).toEqual([401, 401, 401, 429]);
      // On a path no route matches too (its 401-or-404 would answer a guess): the same address, already over.
      const unrouted = await fetch(`${limited.url}/api/no-such-route`, { headers: { authorization: 'Bearer guess-4' } });
      expect({ status: unrouted.status, code: (await json(unrouted)).error.code }).toEqual({ status: 429, code: 'rate_limited' });
    } finally {
      await limited.close();
    }
  });

  it('sends CORS headers only for the configured origins', async () => {
    const origin = 'https://app.example.com';
    const off = await api.call('/api/scripts?limit=1', { headers: { origin } });
    expect(off.headers.get('access-control-allow-origin')).toBeNull();
    const withCors = await startTestApi({ ...apiOptions(), api: { corsOrigins: [origin] } });
    try {
      const on = await withCors.call('/api/scripts?limit=1', { headers: { origin } });
      expect(on.headers.get('access-control-allow-origin')).toBe(origin);
      const other = await withCors.call('/api/scripts?limit=1', { headers: { origin: 'https://evil.example.com' } });
      expect(other.headers.get('access-control-allow-origin')).toBeNull();
    } finally {
      await withCors.close();
    }
  });

  it('logs one debug line per request, without tokens, bodies or query strings', async () => {
    const lines: string[] = [];
    const sink = new Writable({
      write(chunk: Buffer, _enc, done) {
        lines.push(chunk.toString());
        done();
      },
    });
    const logged = await startTestApi({ ...apiOptions(), logTo: sink, logLevel: 'debug' });
    try {
      const secretText = 'INT. SECRET LAIR - NIGHT';
      await logged.call('/api/scripts?title=Hidden%20Title', { method: 'POST', headers: { 'content-type': 'text/plain' }, body: `${secretText}\n\nA door.\n` });
      await logged.call('/api/scripts?limit=1');
      await fetch(`${logged.url}/api/scripts`, { headers: { authorization: 'Bearer not-the-token' } });
      await waitFor(() => lines.filter((l) => l.includes('"msg":"request"')).length >= 3);
      const text = lines.join('');
      expect(text).not.toContain(TEST_TOKEN);
      expect(text).not.toContain('not-the-token');
      expect(text).not.toContain('SECRET LAIR');
      expect(text).not.toContain('Hidden');
      const first = JSON.parse(lines.find((l) => l.includes('"msg":"request"'))!);
      expect(first).toMatchObject({ level: 'debug', component: 'api', method: 'POST', path: '/api/scripts', status: 201 });
    } finally {
      await logged.close();
    }
  });

  it('writes no line for a request at info, the default level', async () => {
    const lines: string[] = [];
    const sink = new Writable({
      write(chunk: Buffer, _enc, done) {
        lines.push(chunk.toString());
        done();
      },
    });
    const logged = await startTestApi({ ...apiOptions(), logTo: sink, logLevel: 'info' });
    try {
      expect((await logged.call('/api/scripts?limit=1')).status).toBe(200);
      expect((await logged.call('/api/no-such-route')).status).toBe(404);
      // The response is sent before onResponse runs: give it a moment to (not) write.
      await new Promise((r) => setTimeout(r, 100));
      // Fastify's one "Server listening" line at start is the only one.
      expect(lines.filter((l) => !l.includes('Server listening'))).toEqual([]);
    } finally {
      await logged.close();
    }
  });

  it('without tokens, refuses to listen on anything but loopback and says so, naming the setting used (--host or STORYLOOM_API_HOST)', async () => {
    expect(() => assertListenAllowed({ host: '0.0.0.0', tokens: [] })).toThrow(/without tokens the API listens on loopback only/);
    expect(() => assertListenAllowed({ host: '127.0.0.1', tokens: [] })).not.toThrow();
    expect(() => assertListenAllowed({ host: '0.0.0.0', tokens: ['t'] })).not.toThrow();
    const errors: string[] = [];
    const spy = jest.spyOn(console, 'error').mockImplementation((m: string) => void errors.push(m));
    const saved = { tokens: process.env.STORYLOOM_API_TOKENS, host: process.env.STORYLOOM_API_HOST };
    delete process.env.STORYLOOM_API_TOKENS;
    delete process.env.STORYLOOM_API_HOST;
    const refusal = async (argv: string[]) => {
      errors.length = 0;
      expect(await main(argv)).toBe(2);
      return errors.join('\n');
    };
    try {
      const byFlag = await refusal(['serve', '--host', '0.0.0.0', '--port', '0']);
      expect(byFlag).toContain('storyloom serve: --host 0.0.0.0 with no STORYLOOM_API_TOKENS: without tokens the API listens on loopback only');
      expect(byFlag).not.toContain('STORYLOOM_API_HOST');
      process.env.STORYLOOM_API_HOST = '0.0.0.0';
      expect(await refusal(['serve', '--port', '0'])).toContain('storyloom serve: STORYLOOM_API_HOST=0.0.0.0 with no STORYLOOM_API_TOKENS');
    } finally {
      spy.mockRestore();
      for (const [name, value] of [['STORYLOOM_API_TOKENS', saved.tokens], ['STORYLOOM_API_HOST', saved.host]] as const) {
        if (value === undefined) delete process.env[name];
        else process.env[name] = value;
      }
    }
  });

  it('without a codec token, keeps the codec (/codec/decode) on loopback and says so', async () => {
    expect(() => assertCodecListenAllowed('0.0.0.0', undefined)).toThrow(/no STORYLOOM_CODEC_TOKEN: anyone who can reach it could decrypt payloads/);
    expect(() => assertCodecListenAllowed('::1', undefined)).not.toThrow();
    expect(() => assertCodecListenAllowed('0.0.0.0', 'codec-token')).not.toThrow();
    const errors: string[] = [];
    const spy = jest.spyOn(console, 'error').mockImplementation((m: string) => void errors.push(m));
    const saved = { keys: process.env.STORYLOOM_PAYLOAD_KEYS, token: process.env.STORYLOOM_CODEC_TOKEN, apiTokens: process.env.STORYLOOM_API_TOKENS };
    process.env.STORYLOOM_PAYLOAD_KEYS = TEST_PAYLOAD_KEYS;
    process.env.STORYLOOM_API_TOKENS = TEST_TOKEN;
    delete process.env.STORYLOOM_CODEC_TOKEN;
    try {
      // The standalone codec server, and the API process that hosts the same routes (tokens set for /api).
      expect(await main(['codec-server', '--host', '0.0.0.0', '--port', '0'])).toBe(2);
      expect(await main(['serve', '--host', '0.0.0.0', '--port', '0'])).toBe(2);
    } finally {
      spy.mockRestore();
      for (const [name, value] of [['STORYLOOM_PAYLOAD_KEYS', saved.keys], ['STORYLOOM_CODEC_TOKEN', saved.token], ['STORYLOOM_API_TOKENS', saved.apiTokens]] as const) {
        if (value === undefined) delete process.env[name];
        else process.env[name] = value;
      }
    }
    expect(errors.filter((e) => /would listen on 0.0.0.0 with no STORYLOOM_CODEC_TOKEN/.test(e))).toHaveLength(2);
  });
});
