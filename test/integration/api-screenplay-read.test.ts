/**
 * Reading stored screenplays back over HTTP, against the dev server, Postgres and the simulator:
 * a screenplay generated through the API is read at the URL its stream's `done` names (the text
 * its deltas add up to, as Fountain or JSON), its story and the story list show it; stories saved
 * through the repository pin the figures, the CLI export's bytes, a story with no version, the
 * Accept negotiation, paging and the 400 / 401 / 404 answers.
 */
import { randomUUID } from 'node:crypto';
import { ScreenplayRepository, type SaveVersionInput } from '../../src/db/repositories/screenplay.repository';
import { readSse, startTestApi, TEST_TOKEN, type TestApi } from '../helpers/api';
import { cliEnvironment, runCli } from '../helpers/cli';
import { queueFor, startApp, testConfig, useTestStack, type RunningApp } from '../helpers/harness';
import { CREW, HARBOUR_PLOT, importCrew } from '../helpers/personas';

const stack = useTestStack('api-screenplay-read', { simulator: { latency: { default: { fixedMs: 5 }, byPurpose: { screenplay: { fixedMs: 50, perOutputTokenMs: 1 } } } } });
let api: TestApi;
let repo: ScreenplayRepository;
beforeAll(async () => {
  await importCrew(stack.app.services.db);
  api = await startTestApi({ config: stack.app.config, db: stack.app.services.db, client: stack.env.client });
  repo = new ScreenplayRepository(stack.app.services.db);
});
afterAll(async () => {
  await api?.close();
});

const json = async (res: Response) => (await res.json()) as Record<string, any>;
const auth = { authorization: `Bearer ${TEST_TOKEN}` };
const asJson = { accept: 'application/json' };
/** Titles unique to this run (other files write stories into the same database). */
const unique = (title: string) => `${title} ${randomUUID().slice(0, 8)}`;
const ISO = expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
/** The export's rule: a file ends with a newline. */
const asExported = (text: string) => (text.endsWith('\n') ? text : `${text}\n`);

/** A screenplay with no newline at its end, so the export's rule shows. */
const LIGHTHOUSE = 'INT. LIGHTHOUSE - NIGHT\n\nMARA QUILL\nKeep the lamp lit.\n\nSTRANGER\nWho for?';

/** A version saved as the run saves one (`stats` as given: a hand-made version may record none). */
function version(storyId: string, title: string, saveKey: string, over: Partial<SaveVersionInput> = {}): SaveVersionInput {
  return {
    saveKey,
    storyId,
    title,
    plot: 'A keeper waits for a ship that never comes.',
    fountain: LIGHTHOUSE,
    provider: 'openai',
    model: 'gpt-4o',
    truncated: false,
    continuations: 0,
    stats: {},
    cast: [],
    ...over,
  };
}

describe('a screenplay generated over HTTP', () => {
  it('reads back at the URL its `done` event names: the text its deltas add up to, as Fountain and as JSON; its story and the list show it', async () => {
    // An API on a queue no worker polls yet: the run waits until the stream is open, so the client hears every delta.
    const queue = queueFor('api-screenplay-read-held');
    const held = await startTestApi({ config: { ...stack.app.config, temporal: { ...stack.app.config.temporal, taskQueue: queue } }, db: stack.app.services.db, client: stack.env.client });
    let worker: Promise<RunningApp> | undefined;
    try {
      const title = unique('Read Back Over HTTP');
      const started = await held.call('/api/screenplays/generate', {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ plot: HARBOUR_PLOT, personas: CREW.slice(0, 2), title, variants: 2, useCache: false }),
      });
      expect(started.status).toBe(202);
      const run = await json(started);
      const { events } = await readSse(`${held.url}${run.urls.stream}`, {
        headers: auth,
        onOpen: () => {
          worker = startApp(stack.env, testConfig(stack.sim), 'api-screenplay-read-held', {}, queue);
        },
        until: (e) => e.event === 'final',
      });
      const final = events.at(-1)!;
      expect(final).toMatchObject({ event: 'final', data: { status: 'COMPLETED' } });
      const result = (final.data as { result: { storyId: string; variants: { variant: number; version: number; truncated: boolean; outputTokens: number; inputTokens: number }[] } }).result;
      const { storyId } = result;

      // Each `done` names the story and the saved version's URL, and comes before the final event.
      const dones = events.filter((e) => e.event === 'done').map((e) => e.data as { variant: number; version: number; storyId: string; url: string });
      expect([...dones].sort((a, b) => a.variant - b.variant)).toEqual(
        result.variants.map((v) => ({ variant: v.variant, version: v.version, truncated: v.truncated, storyId, url: `/api/screenplays/${storyId}/versions/${v.version}` })),
      );

      for (const done of dones) {
        const text = events
          .filter((e) => e.event === 'delta' && (e.data as { variant: number }).variant === done.variant)
          .map((e) => (e.data as { text: string }).text)
          .join('');
        const figures = result.variants.find((v) => v.variant === done.variant)!;

        const plain = await api.call(done.url);
        expect(plain.status).toBe(200);
        expect(plain.headers.get('content-type')).toBe('text/plain; charset=utf-8');
        expect(plain.headers.get('vary')).toBe('Accept');
        expect(await plain.text()).toBe(asExported(text));

        const asked = await api.call(done.url, { headers: asJson });
        expect(asked.headers.get('content-type')).toBe('application/json; charset=utf-8');
        expect(await json(asked)).toEqual({
          storyId,
          title,
          version: done.version,
          createdAt: ISO,
          provider: expect.any(String),
          model: expect.any(String),
          inputTokens: figures.inputTokens,
          outputTokens: figures.outputTokens,
          cached: false,
          truncated: false,
          continuations: 0,
          scenes: expect.any(Number),
          costUsd: expect.any(Number),
          workflowId: run.workflowId,
          scriptId: null,
          cast: expect.arrayContaining([expect.objectContaining({ persona: CREW[0] }), expect.objectContaining({ persona: CREW[1] })]),
          url: done.url,
          text,
        });
      }

      // The story: its plot, the personas cast, its versions without their text.
      const story = await json(await api.call(`/api/screenplays/${storyId}`));
      expect(story).toEqual({ id: storyId, title, plot: HARBOUR_PLOT.trim(), createdAt: ISO, updatedAt: ISO, personas: [...CREW.slice(0, 2)].sort(), versions: expect.any(Array) });
      expect(story.versions.map((v: { version: number }) => v.version)).toEqual([1, 2]);
      for (const v of story.versions) {
        expect(v).not.toHaveProperty('text');
        expect(v).toMatchObject({ workflowId: run.workflowId, cached: false, url: `/api/screenplays/${storyId}/versions/${v.version}` });
        expect(v).toEqual(await json(await api.call(v.url, { headers: asJson })).then(({ storyId: _s, title: _t, text: _x, ...rest }) => rest));
      }

      // `latest` is version 2; the list shows the story with it and its cast.
      expect(await json(await api.call(`/api/screenplays/${storyId}/versions/latest`, { headers: asJson }))).toMatchObject({ version: 2 });
      const listed = (await json(await api.call('/api/screenplays?limit=200'))).stories.find((s: { id: string }) => s.id === storyId);
      expect(listed).toEqual({
        id: storyId,
        title,
        versions: 2,
        updatedAt: ISO,
        latestVersion: 2,
        latestCreatedAt: story.versions[1].createdAt,
        cast: story.versions[1].cast,
        url: `/api/screenplays/${storyId}`,
      });
    } finally {
      await held.close();
      await (await worker)?.stop();
    }
  });
});

describe('stories saved through the repository', () => {
  let storyId: string;
  let title: string;
  beforeAll(async () => {
    storyId = randomUUID();
    title = unique('The Lighthouse');
    const [mara] = await repo.loadPersonas(['Mara Quill']);
    // Version 1 as a run saves one (a workflow id holding "/"); version 2 by hand, with no figures and no run.
    await repo.saveVersion(
      version(storyId, title, 'screenplay-made/elsewhere/0b3f7c1e-run/0', {
        stats: { inputTokens: 700, outputTokens: 42, cached: true, scenes: 1, costUsd: 0 },
        cast: [{ character: 'MARA QUILL', personaId: mara.id }, { character: 'STRANGER', personaId: null }],
      }),
    );
    await repo.saveVersion(version(storyId, title, `hand-made-${storyId}`, { fountain: `${LIGHTHOUSE}\n\nEXT. JETTY - DAWN\n`, truncated: true, continuations: 2, provider: 'anthropic', model: 'claude-sonnet-4-6' }));
  });

  it('answers the story with each version\'s figures (null where none were recorded) and the run that saved it', async () => {
    const res = await api.call(`/api/screenplays/${storyId}`);
    expect(res.status).toBe(200);
    expect(await json(res)).toEqual({
      id: storyId,
      title,
      plot: 'A keeper waits for a ship that never comes.',
      createdAt: ISO,
      updatedAt: ISO,
      personas: ['Mara Quill'],
      versions: [
        {
          version: 1,
          createdAt: ISO,
          provider: 'openai',
          model: 'gpt-4o',
          inputTokens: 700,
          outputTokens: 42,
          cached: true,
          truncated: false,
          continuations: 0,
          scenes: 1,
          costUsd: 0,
          workflowId: 'screenplay-made/elsewhere',
          scriptId: null,
          cast: [{ character: 'MARA QUILL', persona: 'Mara Quill' }, { character: 'STRANGER', persona: null }],
          url: `/api/screenplays/${storyId}/versions/1`,
        },
        {
          version: 2,
          createdAt: ISO,
          provider: 'anthropic',
          model: 'claude-sonnet-4-6',
          inputTokens: null,
          outputTokens: null,
          cached: null,
          truncated: true,
          continuations: 2,
          scenes: null,
          costUsd: null,
          workflowId: null,
          scriptId: null,
          cast: [],
          url: `/api/screenplays/${storyId}/versions/2`,
        },
      ],
    });
    // An upper-case id is the same UUID.
    expect((await json(await api.call(`/api/screenplays/${storyId.toUpperCase()}`))).id).toBe(storyId);
  });

  it('serves a version as the bytes `storyloom screenplays export` writes, and as JSON with the saved text exactly', async () => {
    const plain = await api.call(`/api/screenplays/${storyId}/versions/1`);
    const body = await plain.text();
    expect(body).toBe(`${LIGHTHOUSE}\n`);

    const restore = cliEnvironment(stack.env, stack.app, stack.sim);
    const written: string[] = [];
    const stdout = jest.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => (written.push(String(chunk)), true));
    try {
      expect((await runCli('screenplays', 'export', storyId, '--version', '1')).code).toBe(0);
    } finally {
      stdout.mockRestore();
      restore();
    }
    expect(written.join('')).toBe(body);

    expect(await json(await api.call(`/api/screenplays/${storyId}/versions/1`, { headers: asJson }))).toMatchObject({ storyId, title, version: 1, text: LIGHTHOUSE });
    expect(await json(await api.call(`/api/screenplays/${storyId}/versions/latest`, { headers: asJson }))).toMatchObject({ version: 2, truncated: true, text: `${LIGHTHOUSE}\n\nEXT. JETTY - DAWN\n` });
    expect(await (await api.call(`/api/screenplays/${storyId}/versions/latest`)).text()).toBe(`${LIGHTHOUSE}\n\nEXT. JETTY - DAWN\n`);
  });

  it.each([
    [undefined, 'text'],
    ['*/*', 'text'],
    ['text/plain', 'text'],
    ['application/json', 'json'],
    ['application/*', 'json'],
    ['application/json, text/plain, */*', 'json'],
    ['text/plain, application/json', 'text'],
    ['application/json;q=0.5, text/plain', 'text'],
    ['text/plain;q=0.2, application/json', 'json'],
    ['application/json;q=0.5, */*', 'text'],
    ['text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8', 'text'],
  ])('Accept %s answers %s', async (accept, expected) => {
    const res = await api.call(`/api/screenplays/${storyId}/versions/1`, { headers: accept === undefined ? {} : { accept } });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe(expected === 'json' ? 'application/json; charset=utf-8' : 'text/plain; charset=utf-8');
  });

  it('answers a story with no version yet: in the list and its page with none, 404 for any version of it', async () => {
    const bare = randomUUID();
    const bareTitle = unique('No Version Yet');
    // What a save committed step by step (the benchmark's "before" row) can leave when it stops half-way.
    await stack.app.services.db.query('INSERT INTO screenplay_stories (id, title, plot) VALUES ($1, $2, $3)', [bare, bareTitle, 'Nothing yet.']);
    expect(await json(await api.call(`/api/screenplays/${bare}`))).toMatchObject({ id: bare, personas: [], versions: [] });
    const listed = (await json(await api.call('/api/screenplays?limit=200'))).stories.find((s: { id: string }) => s.id === bare);
    expect(listed).toMatchObject({ versions: 0, latestVersion: null, latestCreatedAt: null, cast: [] });
    for (const [which, says] of [
      ['latest', 'has no version yet'],
      ['1', 'has no version 1'],
    ]) {
      const res = await api.call(`/api/screenplays/${bare}/versions/${which}`);
      expect(res.status).toBe(404);
      expect(await json(res)).toEqual({ error: { code: 'not_found', message: `Story "${bareTitle}" ${says}: GET /api/screenplays/${bare} lists its versions.` } });
    }
  });

  it('moves a story\'s updatedAt when a version or a new plot is written, not when a cached reply the story already holds is saved again', async () => {
    const id = randomUUID();
    const storyTitle = unique('Kept In Place');
    const updatedAt = async () => (await json(await api.call(`/api/screenplays/${id}`))).updatedAt as string;
    await repo.saveVersion(version(id, storyTitle, `kept-${id}-1`));
    const first = await updatedAt();
    // now() is the transaction's start: the next save starts later than the last.
    const tick = () => new Promise((r) => setTimeout(r, 20));
    // The same text again, as a run answered by the cache saves it: that version, nothing written.
    await tick();
    expect(await repo.saveVersion(version(id, storyTitle, `kept-${id}-2`, { reuseSameText: true }))).toMatchObject({ version: 1, created: false });
    expect(await updatedAt()).toBe(first);
    // A new version moves it, and so does a new plot.
    await tick();
    expect(await repo.saveVersion(version(id, storyTitle, `kept-${id}-3`, { fountain: `${LIGHTHOUSE}\n\nEXT. JETTY - DAWN\n` }))).toMatchObject({ version: 2, created: true });
    const second = await updatedAt();
    expect(second > first).toBe(true);
    await tick();
    expect(await repo.saveVersion(version(id, storyTitle, `kept-${id}-4`, { reuseSameText: true, plot: 'The ship comes after all.' }))).toMatchObject({ version: 1, created: false });
    expect((await updatedAt()) > second).toBe(true);
  });

  it('refuses a malformed story id or version with 400, answers 404 for what is not there and 401 without a token', async () => {
    const nobody = randomUUID();
    const cases: [string, number, { code: string; message: string }][] = [
      ['/api/screenplays/not-a-uuid', 400, { code: 'invalid_request', message: 'params.storyId must be a UUID' }],
      ['/api/screenplays/not-a-uuid/versions/1', 400, { code: 'invalid_request', message: 'params.storyId must be a UUID' }],
      [`/api/screenplays/${nobody}`, 404, { code: 'not_found', message: `No story ${nobody}: GET /api/screenplays lists them.` }],
      [`/api/screenplays/${nobody}/versions/1`, 404, { code: 'not_found', message: `No story ${nobody}: GET /api/screenplays lists them.` }],
      [`/api/screenplays/${nobody}/versions/latest`, 404, { code: 'not_found', message: `No story ${nobody}: GET /api/screenplays lists them.` }],
      [`/api/screenplays/${storyId}/versions/3`, 404, { code: 'not_found', message: `Story "${title}" has no version 3: GET /api/screenplays/${storyId} lists its versions.` }],
      ...['0', '-1', '1.5', 'two', 'Latest', '01', '2147483648', '99999999999'].map(
        (v): [string, number, { code: string; message: string }] => [
          `/api/screenplays/${storyId}/versions/${v}`,
          400,
          { code: 'invalid_request', message: 'params.version must be a version number (1 to 2147483647) or "latest"' },
        ],
      ),
    ];
    for (const [path, status, error] of cases) {
      const res = await api.call(path, { headers: asJson });
      expect({ path, status: res.status, body: await json(res) }).toEqual({ path, status, body: { error } });
    }
    // The same error shape when the client asked for text.
    const textual = await api.call(`/api/screenplays/${storyId}/versions/3`);
    expect(textual.headers.get('content-type')).toBe('application/json; charset=utf-8');
    for (const path of ['/api/screenplays', `/api/screenplays/${storyId}`, `/api/screenplays/${storyId}/versions/1`]) {
      const res = await api.call(path, { headers: { authorization: 'Bearer wrong' } });
      expect({ path, status: res.status }).toEqual({ path, status: 401 });
    }
  });
});

describe('GET /api/screenplays', () => {
  it('pages through the stories newest first, each once, with total; refuses a bad limit or offset', async () => {
    const mine: string[] = [];
    for (let i = 0; i < 5; i++) {
      const id = randomUUID();
      await repo.saveVersion(version(id, unique(`Paged ${i}`), `paged-${id}`));
      mine.push(id);
    }
    const ids = (page: Record<string, any>) => (page.stories as { id: string }[]).map((s) => s.id);
    // Other test files write stories into this database meanwhile: a walk counts only when the
    // whole list was the same before and after it.
    for (let tries = 1; ; tries++) {
      const before = await json(await api.call('/api/screenplays?limit=200'));
      const total = before.total as number;
      expect(total).toBeGreaterThanOrEqual(5);
      const walked: string[] = [];
      const totals: number[] = [];
      const sizes: number[] = [];
      for (let offset = 0; offset < Math.min(total, 200); offset += 2) {
        const page = await json(await api.call(`/api/screenplays?limit=2&offset=${offset}`));
        totals.push(page.total);
        sizes.push(page.stories.length);
        walked.push(...ids(page));
      }
      const after = await json(await api.call('/api/screenplays?limit=200'));
      if (after.total === total && JSON.stringify(ids(after)) === JSON.stringify(ids(before))) {
        expect(totals.every((t) => t === total)).toBe(true);
        expect(sizes.every((n) => n <= 2)).toBe(true);
        expect(walked).toEqual(ids(before));
        // Newest first: the five saved here, last saved first.
        expect(ids(before).filter((id) => mine.includes(id))).toEqual([...mine].reverse());
        expect(await json(await api.call(`/api/screenplays?offset=${total}`))).toEqual({ total, stories: [] });
        break;
      }
      if (tries === 5) throw new Error('the story list changed during every one of 5 walks');
    }
    // The default page is 50 (all of them when fewer).
    const firstPage = await json(await api.call('/api/screenplays'));
    expect(firstPage.stories.length).toBe(Math.min(50, firstPage.total));

    const refusals: [string, string][] = [
      ['limit=0', 'querystring.limit must be >= 1'],
      ['limit=201', 'querystring.limit must be <= 200'],
      ['limit=ten', 'querystring.limit must be a whole number written in digits'],
      ['offset=-1', 'querystring.offset must be >= 0'],
      ['offset=2147483648', 'querystring.offset must be <= 2147483647'],
      ['all=true', 'querystring: unknown field "all"'],
    ];
    for (const [query, message] of refusals) {
      const res = await api.call(`/api/screenplays?${query}`);
      expect({ query, status: res.status, body: await json(res) }).toEqual({ query, status: 400, body: { error: { code: 'invalid_request', message } } });
    }
  });
});

it('documents the read routes in the OpenAPI output', async () => {
  const doc = await json(await fetch(`${api.url}/openapi.json`));
  const list = doc.paths['/api/screenplays'].get;
  expect(list.tags).toEqual(['screenplays']);
  expect(list.parameters.map((p: { name: string }) => p.name)).toEqual(['limit', 'offset']);
  expect(Object.keys(list.responses['200'].content['application/json'].schema.properties)).toEqual(['total', 'stories']);
  const story = doc.paths['/api/screenplays/{storyId}'].get;
  expect(story.parameters).toEqual([expect.objectContaining({ name: 'storyId', in: 'path', required: true })]);
  expect(Object.keys(story.responses)).toEqual(['200', '400', '401', '404', '414', '429', '503']);
  const text = doc.paths['/api/screenplays/{storyId}/versions/{version}'].get;
  expect(Object.keys(text.responses['200'].content)).toEqual(['text/plain', 'application/json']);
  expect(Object.keys(text.responses['200'].content['application/json'].schema.properties)).toContain('text');
  expect(doc.paths['/api/screenplays/{workflowId}/stream'].get.summary).toContain('`storyId`, `url`');
});
