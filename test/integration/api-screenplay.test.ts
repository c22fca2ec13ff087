/**
 * The HTTP API's screenplay endpoints over real HTTP, against the dev server, Postgres and the
 * simulator: `POST /api/screenplays/generate` (202, validation), its text stream (deltas reach an
 * SSE client while the run is writing and add up to the saved versions), the run's stored report,
 * and `GET /api/personas/contexts` in one statement on the wire (404 with the closest names).
 */
import { createDataSource } from '../../src/db/data-source';
import { ScreenplayRepository } from '../../src/db/repositories/screenplay.repository';
import { startPgCounter, wireDelta, type PgCounter } from '../../bench/pg-counter';
import { readSse, startTestApi, TEST_TOKEN, type SseEvent, type TestApi } from '../helpers/api';
import { queueFor, startApp, testConfig, testDatabaseUrl, useTestStack, type RunningApp } from '../helpers/harness';
import { CREW, HARBOUR_PLOT, importCrew } from '../helpers/personas';

const stack = useTestStack('api-screenplay', { simulator: { latency: { default: { fixedMs: 5 }, byPurpose: { screenplay: { fixedMs: 50, perOutputTokenMs: 2 } } } } });
let api: TestApi;
beforeAll(async () => {
  await importCrew(stack.app.services.db);
  api = await startTestApi({ config: stack.app.config, db: stack.app.services.db, client: stack.env.client });
});
afterAll(async () => {
  await api?.close();
});

const json = async (res: Response) => (await res.json()) as Record<string, any>;
const post = (target: TestApi, body: unknown) =>
  target.call('/api/screenplays/generate', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
const auth = { authorization: `Bearer ${TEST_TOKEN}` };
const PLOT = 'A ferry crosses in fog.';

describe('POST /api/screenplays/generate and its text stream', () => {
  it('streams each variant\'s text while the run writes it; the deltas add up to the saved versions; then the final event and the report', async () => {
    // An API on a queue no worker polls yet: the run waits until the client's stream is open, so it hears every delta.
    const queue = queueFor('api-screenplay-held');
    const held = await startTestApi({ config: { ...stack.app.config, temporal: { ...stack.app.config.temporal, taskQueue: queue } }, db: stack.app.services.db, client: stack.env.client });
    let worker: Promise<RunningApp> | undefined;
    try {
      const started = await post(held, { plot: HARBOUR_PLOT, personas: CREW.slice(0, 3), title: 'Streamed Over HTTP', variants: 2, useCache: false });
      expect(started.status).toBe(202);
      const run = await json(started);
      expect(run).toMatchObject({ workflowId: expect.stringMatching(/^screenplay-/), runId: expect.any(String), storyId: null, webUi: expect.stringContaining(run.workflowId) });
      expect(run.urls).toMatchObject({ status: `/api/runs/${run.workflowId}`, events: `/api/runs/${run.workflowId}/events`, stream: `/api/screenplays/${run.workflowId}/stream` });
      expect(started.headers.get('location')).toBe(run.urls.status);

      const arrivals: (SseEvent & { at: number })[] = [];
      const { status, events } = await readSse(`${held.url}${run.urls.stream}`, {
        headers: auth,
        onOpen: () => {
          worker = startApp(stack.env, testConfig(stack.sim), 'api-screenplay-held', {}, queue);
        },
        onEvent: (e) => arrivals.push({ ...e, at: Date.now() }),
        until: (e) => e.event === 'final',
      });
      expect(status).toBe(200);
      const final = events.at(-1)!;
      expect(final).toMatchObject({ event: 'final', id: expect.stringMatching(/:final$/), data: { status: 'COMPLETED', result: { title: 'Streamed Over HTTP' } } });
      const result = (final.data as { result: { storyId: string; variants: { variant: number; version: number }[] } }).result;
      expect(result.variants).toHaveLength(2);

      // Deltas arrived while the run was still writing: well before it closed.
      const closedAt = (await stack.env.client.workflow.getHandle(run.workflowId).describe()).closeTime!.getTime();
      const deltas = arrivals.filter((e) => e.event === 'delta');
      expect(deltas.length).toBeGreaterThan(4);
      expect(deltas[0].at).toBeLessThan(closedAt);
      expect(deltas[0].id).toBeUndefined();
      expect(events.some((e) => e.event === 'progress')).toBe(true);
      expect(events.filter((e) => e.event === 'done').map((e) => (e.data as { variant: number }).variant).sort()).toEqual([0, 1]);

      const repo = new ScreenplayRepository(stack.app.services.db);
      for (const v of result.variants) {
        const mine = deltas.filter((e) => (e.data as { variant: number }).variant === v.variant).map((e) => e.data as { seq: number; text: string });
        expect(mine.map((d) => d.seq)).toEqual(mine.map((_, i) => i));
        const saved = await repo.version(result.storyId, v.version);
        expect(mine.map((d) => d.text).join('')).toBe(saved!.fountain);
      }

      // The run's report, stored like the other jobs'.
      const report = await json(await api.call(run.urls.report));
      expect(report).toMatchObject({ workflowId: run.workflowId, kind: 'generateScreenplay', status: 'completed', screenplay: { storyId: result.storyId, variants: 2, personaQueries: 1 } });
      expect(report.llm.find((l: { purpose: string }) => l.purpose === 'screenplay')).toMatchObject({ providerCalls: 2 });
      expect(held.ctx.streams.size).toBe(0);
    } finally {
      await held.close();
      await (await worker)?.stop();
    }
  });

  it('makes a new version of a story given its id; an unknown persona is a 404 before anything starts, and a run that meets one fails at once, the stream saying so', async () => {
    const first = await json(await post(api, { plot: HARBOUR_PLOT, personas: ['Juno Park'], title: 'Versioned Over HTTP' }));
    const done = await readSse(`${api.url}${first.urls.stream}`, { headers: auth, until: (e) => e.event === 'final' });
    const storyId = (done.events.at(-1)!.data as { result: { storyId: string } }).result.storyId;

    const second = await post(api, { plot: HARBOUR_PLOT, personas: ['Juno Park', 'Old Harlan'], storyId, maxTokens: 4000, model: 'anthropic:claude-sonnet-4-6' });
    expect(second.status).toBe(202);
    const again = await json(second);
    expect(again.storyId).toBe(storyId);
    const { events } = await readSse(`${api.url}${again.urls.stream}`, { headers: auth, until: (e) => e.event === 'final' });
    expect(events.at(-1)!.data).toMatchObject({ status: 'COMPLETED', result: { storyId, variants: [{ version: 2 }] } });

    // Only the story: its plot, and the personas of its latest run in their order.
    const third = await json(await post(api, { storyId, useCache: false }));
    const thirdRun = await readSse(`${api.url}${third.urls.stream}`, { headers: auth, until: (e) => e.event === 'final' });
    expect(thirdRun.events.at(-1)!.data).toMatchObject({ status: 'COMPLETED', result: { storyId, variants: [{ version: 3 }] } });
    const [run] = await stack.app.services.db.query('SELECT plot, personas FROM screenplay_runs WHERE workflow_id = $1', [third.workflowId]);
    expect(run.plot).toBe(HARBOUR_PLOT.trim());
    expect(run.personas.map((p: { name: string }) => p.name)).toEqual(['Juno Park', 'Old Harlan']);

    const marker = `unknown persona ${Date.now()}`;
    const refused = await post(api, { plot: `${HARBOUR_PLOT}\n${marker}`, personas: ['Juno Parks'] });
    expect(refused.status).toBe(404);
    expect(await json(refused)).toEqual({
      error: { code: 'not_found', message: 'no persona "Juno Parks" (closest: "Juno Park"). See `storyloom personas list`.', unknown: [{ name: 'Juno Parks', closest: ['Juno Park'] }] },
    });
    const stored = await stack.app.services.db.query(`SELECT count(*)::int AS n FROM screenplay_requests WHERE plot LIKE '%' || $1`, [marker]);
    expect(stored[0].n).toBe(0);

    // A run that meets an unknown persona anyway (started by another client, the plot in its input) fails at once.
    const unknown = await stack.env.client.workflow.start('generateScreenplay', {
      taskQueue: stack.app.taskQueue,
      workflowId: `screenplay-${Date.now()}-unknown-persona`,
      args: [{ plot: HARBOUR_PLOT, personaNames: ['Juno Parks'] }],
    });
    const failed = await readSse(`${api.url}/api/screenplays/${unknown.workflowId}/stream`, { headers: auth, until: (e) => e.event === 'final' });
    // The type a client branches on is the failure's (the activity's UnknownPersona), not its wrapper's class.
    expect(failed.events.at(-1)!.data).toMatchObject({ status: 'FAILED', error: { type: 'UnknownPersona', message: expect.stringContaining('no persona "Juno Parks" (closest: "Juno Park")') } });
    expect(failed.events.some((e) => e.event === 'delta')).toBe(false);
  });

  it.each([
    [{ personas: ['Juno Park'] }, 'body.plot is required (a new version of a story, with "storyId", takes its plot)'],
    [{ plot: PLOT }, 'body.personas is required (a new version of a story, with "storyId", takes its personas)'],
    [{ plot: PLOT, personas: [] }, 'body.personas must NOT have fewer than 1 items'],
    [{ plot: PLOT, personas: ['Juno Park', 'Juno Park'] }, 'body.personas must NOT have duplicate items (items ## 1 and 0 are identical)'],
    // The same name once trimmed, as `storyloom generate --persona` refuses it.
    [{ plot: PLOT, personas: ['Juno Park', ' Juno Park '] }, 'body.personas: "Juno Park" is named twice'],
    [{ plot: PLOT, personas: ['Juno Park'], title: '   ' }, 'body.title must not be blank (leave it out for the default title)'],
    [{ plot: PLOT, personas: ['Juno Park'], title: 'x'.repeat(201) }, 'body.title must NOT have more than 200 characters'],
    [{ plot: PLOT, personas: ['Juno Park'], title: 'Two\nlines' }, 'body.title must be one line (no line break, tab or other control character)'],
    [{ plot: PLOT, personas: ['Juno Park'], variants: 11 }, 'body.variants must be <= 10'],
    [{ plot: PLOT, personas: ['Juno Park'], maxTokens: 10 }, 'body.maxTokens must be >= 256'],
    [{ plot: PLOT, personas: ['Juno Park'], colour: 'red' }, 'body: unknown field "colour"'],
    [{ plot: '   ', personas: ['Juno Park'] }, 'body.plot is empty'],
    [{ plot: 'A ferry\u0000crosses.', personas: ['Juno Park'] }, 'body.plot is not UTF-8 text (found a NUL byte at offset 7)'],
    [{ plot: PLOT, personas: ['Juno Park'], model: 'mistral:big' }, 'body.model must look like <provider>:<model>'],
  ])('refuses %j with 400: %s', async (body, message) => {
    const res = await post(api, body);
    expect(res.status).toBe(400);
    expect((await json(res)).error.message).toContain(message);
  });

  it('answers 404 for an unknown story, for a stream of no run or of a run of another job, and 401 without a token', async () => {
    const noStory = await post(api, { plot: HARBOUR_PLOT, personas: ['Juno Park'], storyId: 'no-such-story' });
    expect(noStory.status).toBe(404);
    expect((await json(noStory)).error.message).toContain('No story "no-such-story"');
    expect((await api.call('/api/screenplays/screenplay-nope/stream')).status).toBe(404);
    const other = await stack.env.client.workflow.start('smokeTest', { taskQueue: stack.app.taskQueue, workflowId: `smoke-${Date.now()}`, args: [{ prompt: 'hi', useCache: true }] });
    const notScreenplay = await api.call(`/api/screenplays/${other.workflowId}/stream`);
    expect(notScreenplay.status).toBe(404);
    expect((await json(notScreenplay)).error.message).toContain('is not a screenplay run (it is smokeTest)');
    await other.result();
    expect((await api.call('/api/screenplays/generate', { method: 'POST', headers: { authorization: 'Bearer wrong', 'content-type': 'application/json' }, body: '{}' })).status).toBe(401);
  });
});

describe('GET /api/personas/contexts', () => {
  let counter: PgCounter;
  let counted: TestApi;
  let db: ReturnType<typeof createDataSource>;
  beforeAll(async () => {
    // An API whose every statement goes through a wire counter.
    const url = new URL(testDatabaseUrl());
    counter = await startPgCounter({ host: url.hostname, port: Number(url.port || 5432) });
    url.host = `127.0.0.1:${counter.port}`;
    db = createDataSource(url.toString(), { poolSize: 2 });
    await db.initialize();
    counted = await startTestApi({ config: stack.app.config, db, client: stack.env.client });
  });
  afterAll(async () => {
    await counted?.close();
    await db?.destroy();
    await counter?.close();
  });

  async function measured(path: string) {
    const before = counter.counts();
    const res = await counted.call(path);
    return { status: res.status, body: await json(res), wire: wireDelta(before, counter.counts()) };
  }

  it('answers every asked persona\'s context, in the order asked, with one statement', async () => {
    await measured('/api/personas/contexts?names=Juno%20Park'); // the pool's connection opened
    const { status, body, wire } = await measured(`/api/personas/contexts?names=${encodeURIComponent('Old Harlan, Mara Quill,Juno Park')}`);
    expect(status).toBe(200);
    expect(body.personas.map((p: { name: string }) => p.name)).toEqual(['Old Harlan', 'Mara Quill', 'Juno Park']);
    expect(body.personas[0]).toEqual({ name: 'Old Harlan', description: expect.any(String), context: expect.any(String), voiceNotes: expect.any(Array) });
    expect(wire.statements).toBe(1);
  });

  it('answers 404 for unknown names with the closest existing ones, as the run refuses them (one name-only query more)', async () => {
    const { status, body, wire } = await measured(`/api/personas/contexts?names=${encodeURIComponent('Juno Parks,Mara Quill,Tobias Wrenn')}`);
    expect(status).toBe(404);
    expect(body.error).toEqual({
      code: 'not_found',
      message: 'no persona "Juno Parks" (closest: "Juno Park"); no persona "Tobias Wrenn" (closest: "Tobias Wren"). See `storyloom personas list`.',
      unknown: [{ name: 'Juno Parks', closest: ['Juno Park'] }, { name: 'Tobias Wrenn', closest: ['Tobias Wren'] }],
    });
    expect(wire.statements).toBe(2);
  });

  it('refuses a persona named twice (names compared trimmed) with 400, as generating a screenplay refuses the same names', async () => {
    const names = ['Old Harlan', 'Mara Quill', ' Old Harlan'];
    const contexts = await api.call(`/api/personas/contexts?names=${encodeURIComponent(names.join(','))}`);
    expect({ status: contexts.status, body: await json(contexts) }).toEqual({ status: 400, body: { error: { code: 'bad_request', message: 'querystring.names: "Old Harlan" is named twice' } } });
    const generate = await api.call('/api/screenplays/generate', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ plot: 'A ferry crosses in fog.', personas: names }) });
    expect({ status: generate.status, body: await json(generate) }).toEqual({ status: 400, body: { error: { code: 'bad_request', message: 'body.personas: "Old Harlan" is named twice' } } });
  });

  it('refuses a missing or empty names list with 400', async () => {
    expect((await json(await api.call('/api/personas/contexts'))).error.message).toBe('querystring.names is required');
    expect((await json(await api.call('/api/personas/contexts?names=,%20,'))).error.message).toBe('querystring.names lists no name');
  });
});

it('documents both endpoints in the OpenAPI output', async () => {
  const doc = await json(await fetch(`${api.url}/openapi.json`));
  const generate = doc.paths['/api/screenplays/generate'].post;
  // Plot and personas are required of a new story only (a new version takes its story's): the handler says so.
  expect(generate.requestBody.content['application/json'].schema.required).toBeUndefined();
  expect(Object.keys(generate.requestBody.content['application/json'].schema.properties)).toEqual(['plot', 'personas', 'title', 'storyId', 'maxTokens', 'variants', 'model', 'useCache']);
  expect(doc.paths['/api/screenplays/{workflowId}/stream'].get.summary).toContain('`delta`');
  expect(doc.paths['/api/personas/contexts'].get.parameters).toEqual([expect.objectContaining({ name: 'names', in: 'query', required: true })]);
});
