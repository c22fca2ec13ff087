/**
 * The HTTP API's endpoints of the other jobs, over real HTTP against the dev server, Postgres and
 * the simulator: news stories (start, 409, SSE to the end, list) and story sessions (turns as an
 * Update with start, the seed's performance metrics and reset).
 */
import { randomUUID } from 'node:crypto';
import { NewsRepository } from '../../src/db/repositories/news.repository';
import { syntheticNews } from '../../src/domain/news/synthetic-articles';
import { DAY_MS, resolveScope, storiesWorkflowId } from '../../src/shared/stories';
import { generateStories } from '../../src/workflows';
import { readSse, startTestApi, TEST_TOKEN, type TestApi } from '../helpers/api';
import { useTestStack } from '../helpers/harness';
import { withMetricsWindow } from '../helpers/metrics-window';
import { waitFor } from '../helpers/wait';

const stack = useTestStack('api-jobs');
let api: TestApi;
beforeAll(async () => {
  api = await startTestApi({ config: stack.app.config, db: stack.app.services.db, client: stack.env.client, llm: async () => stack.app.services.llm });
});
afterAll(async () => {
  await api?.close();
});

const json = async (res: Response) => (await res.json()) as Record<string, any>;
const post = (path: string, body: unknown) => api.call(path, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });

describe('stories', () => {
  it('starts a generateStories run (202), refuses the same scope while it runs (409), streams it to the end and lists the stories', async () => {
    const day = Date.UTC(2032, 0, 1) + Math.floor(Math.random() * 3000) * 10 * DAY_MS;
    await new NewsRepository(stack.app.services.db).importArticles(syntheticNews({ articles: 12, clusters: 3, dayMs: day, salt: `api-${day}` }));
    stack.sim.configure({ latency: { byPurpose: { synthesis: { fixedMs: 200 } } } });
    const from = new Date(day).toISOString();
    const to = new Date(day + DAY_MS).toISOString();
    const started = await post('/api/stories/generate', { from, to, concurrency: 2 });
    expect(started.status).toBe(202);
    const run = await json(started);
    expect(run.workflowId).toMatch(/^stories-/);
    expect(run.scope).toEqual({ fromMs: day, toMs: day + DAY_MS, topic: null });

    const second = await post('/api/stories/generate', { from, to });
    expect(second.status).toBe(409);
    expect(await json(second)).toEqual({ error: { code: 'already_running', message: expect.any(String), workflowId: run.workflowId, webUi: expect.stringContaining(`/workflows/${run.workflowId}`), urls: run.urls } });

    const { events } = await readSse(`${api.url}${run.urls.events}`, { headers: { authorization: `Bearer ${TEST_TOKEN}` }, until: (e) => e.event === 'final' });
    expect(events.at(-1)).toMatchObject({ event: 'final', data: { status: 'COMPLETED', result: { status: 'completed', clusters: 3, stories: { created: 3 } } } });
    // The run's input carries a similarity given: near 1, each of the day's articles is a cluster of its own.
    const tightDay = day + 5 * DAY_MS;
    await new NewsRepository(stack.app.services.db).importArticles(syntheticNews({ articles: 5, clusters: 2, dayMs: tightDay, salt: `api-tight-${tightDay}` }));
    const tight = await json(await post('/api/stories/generate', { from: new Date(tightDay).toISOString(), to: new Date(tightDay + DAY_MS).toISOString(), similarityThreshold: 0.999 }));
    const tightEnd = await readSse(`${api.url}${tight.urls.events}`, { headers: { authorization: `Bearer ${TEST_TOKEN}` }, until: (e) => e.event === 'final' });
    expect(tightEnd.events.at(-1)).toMatchObject({ data: { status: 'COMPLETED', result: { clusters: 5 } } });
    expect(events.some((e) => e.event === 'progress')).toBe(true);

    const status = await json(await api.call(run.urls.status));
    expect(status).toMatchObject({ type: 'generateStories', status: 'COMPLETED' });

    // Every page: other test files write stories into this database, hundreds at a time, newer ones too.
    const listed: { windowStart: string }[] = [];
    for (let offset = 0, total = 1; offset < total; offset += 500) {
      const page = await json(await api.call(`/api/stories?limit=500&offset=${offset}`));
      total = page.total;
      listed.push(...page.stories);
    }
    const inDay = listed.filter((s) => Date.parse(s.windowStart) >= day && Date.parse(s.windowStart) < day + DAY_MS);
    expect(inDay).toHaveLength(3);
    expect(inDay[0]).toEqual(expect.objectContaining({ headline: expect.any(String), status: 'current', articleCount: expect.any(Number) }));

    // Pages: total counts every listed story; offset walks through them, each once, in order.
    // Other test files write stories into this database meanwhile: a walk counts only when the
    // whole list was the same before and after it.
    const ids = (page: Record<string, unknown>) => (page.stories as { id: string }[]).map((s) => s.id);
    for (let tries = 1; ; tries++) {
      const before = await json(await api.call('/api/stories?limit=500'));
      const total = before.total as number;
      expect(total).toBeGreaterThanOrEqual(3);
      const firstPage = await json(await api.call('/api/stories?limit=2'));
      const walked: string[] = [];
      for (let offset = 0; offset < Math.min(total, 500); offset += 2) {
        const page = await json(await api.call(`/api/stories?limit=2&offset=${offset}`));
        walked.push(...ids(page));
      }
      const after = await json(await api.call('/api/stories?limit=500'));
      if (after.total === total && JSON.stringify(ids(after)) === JSON.stringify(ids(before))) {
        expect(firstPage.total).toBe(total);
        expect(walked).toEqual(ids(before));
        expect((await json(await api.call(`/api/stories?offset=${total}`))).stories).toEqual([]);
        break;
      }
      if (tries === 5) throw new Error('the story list changed during every one of 5 walks');
    }
  });

  it('steers a stories run as an ingestion is steered: pause, concurrency and resume each answer { workflowId, action, state }', async () => {
    const day = Date.UTC(2040, 0, 1) + Math.floor(Math.random() * 3000) * 10 * DAY_MS;
    await new NewsRepository(stack.app.services.db).importArticles(syntheticNews({ articles: 8, clusters: 2, dayMs: day, salt: `api-steer-${day}` }));
    stack.sim.configure({ latency: { byPurpose: { synthesis: { fixedMs: 1500 } } } });
    try {
      const run = await json(await post('/api/stories/generate', { from: new Date(day).toISOString(), to: new Date(day + DAY_MS).toISOString(), concurrency: 1 }));
      const { workflowId } = run;
      const steer = async (url: string, method: string, body?: unknown) => {
        const res = await api.call(url, body === undefined ? { method } : { method, headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
        return { status: res.status, body: await json(res) };
      };
      expect(await steer(run.urls.pause, 'POST')).toEqual({ status: 200, body: { workflowId, action: 'pause', state: { paused: true, concurrency: { synthesis: 1 } } } });
      expect(await steer(run.urls.concurrency, 'PATCH', { synthesis: 3 })).toEqual({ status: 200, body: { workflowId, action: 'concurrency', state: { paused: true, concurrency: { synthesis: 3 } } } });
      expect(await steer(run.urls.resume, 'POST')).toEqual({ status: 200, body: { workflowId, action: 'resume', state: { paused: false, concurrency: { synthesis: 3 } } } });
      expect(await steer(run.urls.cancel, 'POST')).toEqual({ status: 202, body: { workflowId, action: 'cancel' } });
      const { events } = await readSse(`${api.url}${run.urls.events}`, { headers: { authorization: `Bearer ${TEST_TOKEN}` }, until: (e) => e.event === 'final' });
      expect(events.at(-1)).toMatchObject({ event: 'final', data: { status: 'CANCELLED' } });
    } finally {
      stack.sim.configure({ latency: null });
    }
  });

  it('GET /api/runs/:id of a stories run that continued as new gives the job\'s start (its first run\'s), while it runs and once it ends, as `stories status` reads the first run', async () => {
    const day = Date.UTC(2045, 0, 1) + Math.floor(Math.random() * 3000) * 10 * DAY_MS;
    // A topic each: 12 clusters, 12 syntheses, so at 4 a run the job makes 3 runs.
    const news = syntheticNews({ articles: 12, clusters: 4, dayMs: day, salt: `api-continued-${day}` }).map((a, i) => ({ ...a, topic: `Topic ${i}` }));
    await new NewsRepository(stack.app.services.db).importArticles(news);
    const scope = { fromMs: day, toMs: day + DAY_MS };
    const workflowId = storiesWorkflowId(resolveScope(scope, Date.now()));
    stack.sim.configure({ latency: { byPurpose: { synthesis: { fixedMs: 300 } } } });
    try {
      const handle = await stack.env.client.workflow.start(generateStories, { taskQueue: stack.app.taskQueue, workflowId, args: [{ scope, concurrency: 2, synthesesPerRun: 4 }] });
      const firstStart = (await stack.env.client.workflow.getHandle(workflowId, handle.firstExecutionRunId).describe()).startTime.toISOString();
      const status = async () => json(await api.call(`/api/runs/${workflowId}`));
      await waitFor(async () => (await handle.describe()).runId !== handle.firstExecutionRunId, 30_000, 'the run continued as new');
      const running = await status();
      expect(running.runId).not.toBe(handle.firstExecutionRunId);
      expect({ status: running.status, startTime: running.startTime }).toEqual({ status: 'RUNNING', startTime: firstStart });
      await handle.result();
      const last = await handle.describe();
      expect(last.startTime.toISOString()).not.toBe(firstStart);
      // The shared snapshot of a moment ago is not what is asked for: a fresh one.
      await waitFor(async () => (await status()).status === 'COMPLETED', 10_000, 'the API sees the run completed');
      const ended = await status();
      expect({ runId: ended.runId, startTime: ended.startTime, closeTime: ended.closeTime }).toEqual({ runId: last.runId, startTime: firstStart, closeTime: last.closeTime!.toISOString() });
    } finally {
      stack.sim.configure({ latency: null });
    }
  });

  it('refuses a bad scope or field with 400 naming it', async () => {
    expect(await json(await post('/api/stories/generate', { since: 'forever' }))).toEqual({
      error: { code: 'bad_request', message: 'body.since: takes a duration like 30m, 24h or 7d; got "forever"' },
    });
    expect(await json(await post('/api/stories/generate', { concurrency: 0 }))).toEqual({ error: { code: 'invalid_request', message: 'body.concurrency must be >= 1' } });
    expect(await json(await post('/api/stories/generate', { similarityThreshold: 0 }))).toEqual({ error: { code: 'invalid_request', message: 'body.similarityThreshold must be > 0' } });
    expect(await json(await post('/api/stories/generate', { similarityThreshold: 1.5 }))).toEqual({ error: { code: 'invalid_request', message: 'body.similarityThreshold must be <= 1' } });
    expect(await json(await api.call('/api/stories?all=maybe'))).toEqual({ error: { code: 'invalid_request', message: 'querystring.all must be boolean' } });
  });

  it('refuses an empty from, to or since and a blank topic (400) rather than running over the default scope', async () => {
    const cases: [Record<string, string>, string][] = [
      [{ from: '' }, 'body.from must NOT have fewer than 1 characters'],
      [{ from: '2026-03-02', to: '' }, 'body.to must NOT have fewer than 1 characters'],
      [{ since: '' }, 'body.since must NOT have fewer than 1 characters'],
      [{ since: '24h', topic: '' }, 'body.topic must NOT have fewer than 1 characters'],
      [{ since: '24h', topic: '   ' }, 'body.topic is empty: give a value or leave it out'],
    ];
    for (const [body, message] of cases) {
      const res = await post('/api/stories/generate', body);
      expect({ body, status: res.status, code: (await json(res)).error }).toEqual({ body, status: 400, code: { code: expect.any(String), message } });
    }
  });
});

describe('sessions and performance metrics', () => {
  it('takes turns as Updates (the first starts the session) and serves the seed metrics and reset', async () => {
    const sessionId = randomUUID();
    const first = await post(`/api/sessions/${sessionId}/turns`, { text: 'I climb the stairs of the lighthouse', title: 'The Lighthouse' });
    expect(first.status).toBe(200);
    const turn1 = await json(first);
    expect(turn1).toMatchObject({ sessionId, turnNumber: 1, stepLimitReached: false });
    expect(turn1.reply.length).toBeGreaterThan(0);
    expect(turn1.toolCalls.length).toBeGreaterThan(0);
    const turn2 = await json(await post(`/api/sessions/${sessionId}/turns`, { text: 'I light the lamp', title: 'The Lighthouse' }));
    expect(turn2.turnNumber).toBe(2);
    // A later turn cannot rename the session or tie it to a script (it was ignored): 400, no turn taken.
    const renamed = await post(`/api/sessions/${sessionId}/turns`, { text: 'I leave', title: 'Another Story' });
    expect({ status: renamed.status, body: await json(renamed) }).toEqual({
      status: 400,
      body: { error: { code: 'bad_request', message: `Session ${sessionId} exists: its title and script were set when it started ("The Lighthouse"); leave title and scriptId out of its turns.` } },
    });
    expect((await post(`/api/sessions/${sessionId}/turns`, { text: 'I leave', scriptId: randomUUID() })).status).toBe(400);

    // Accept: text/event-stream: the reply's deltas as they are written, then the result.
    const streamed = await api.call(`/api/sessions/${sessionId}/turns`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'text/event-stream' },
      body: JSON.stringify({ text: 'I ring the bell' }),
    });
    expect(streamed.headers.get('content-type')).toContain('text/event-stream');
    const frames = (await streamed.text()).split('\n\n').filter(Boolean).map((f) => {
      const [, event, data] = /^event: (\w+)\ndata: (.*)$/s.exec(f)!;
      return { event, data: JSON.parse(data) };
    });
    const result = frames[frames.length - 1];
    expect(result).toMatchObject({ event: 'result', data: { turnNumber: 3 } });
    const deltas = frames.filter((f) => f.event === 'delta');
    expect(deltas.length).toBeGreaterThan(0);
    expect(deltas.map((f) => f.data.text).join('')).toBe(result.data.reply);

    expect(await json(await post(`/api/sessions/${sessionId}/turns`, { text: '' }))).toEqual({ error: { code: 'invalid_request', message: 'body.text must NOT have fewer than 1 characters' } });
    expect(await json(await post('/api/sessions/not-a-uuid/turns', { text: 'hello' }))).toEqual({ error: { code: 'invalid_request', message: 'params.id must be a UUID' } });
    // The same UUID in capitals is the same session (one workflow), not a second one.
    const upper = await json(await post(`/api/sessions/${sessionId.toUpperCase()}/turns`, { text: 'I look out to sea' }));
    expect(upper).toMatchObject({ sessionId, turnNumber: 4 });

    const metrics = await json(await api.call(`/optimization/performance/metrics?session_id=${sessionId}`));
    expect(metrics).toMatchObject({ status: 'success', session_id: sessionId, enabled: true });
    expect(Object.keys(metrics.metrics).length).toBeGreaterThan(0);
    const counted = Object.values(metrics.metrics as Record<string, { count: number }>).reduce((a, s) => a + s.count, 0);
    expect(counted).toBeGreaterThan(0);

    await withMetricsWindow(stack.app.services.db, async () => {
      const reset = await json(await api.call('/optimization/performance/reset', { method: 'POST' }));
      expect(reset).toEqual({ status: 'success', window: { id: expect.any(Number), started_at: expect.any(String) } });
      const after = await json(await api.call('/optimization/performance/metrics'));
      expect(after.window.id).toBe(reset.window.id);
    });
  });
});
