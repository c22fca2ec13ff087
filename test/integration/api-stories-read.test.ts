/**
 * The HTTP API's story reads over real HTTP against Postgres: `GET /api/stories/:id` (a full id
 * in any case or a unique start of one, 400 for a malformed or ambiguous one, 404 for none or a
 * pending story) and `GET /api/stories/search` (the CLI's matching, limit, refusals, and never
 * taken for a story id). Stories are written through the repository, as a run writes them.
 * Other test files write stories into the same database meanwhile: every assertion is about
 * this file's stories, never about counts of all.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { NewsRepository, type ClusterWrite } from '../../src/db/repositories/news.repository';
import { syntheticNews } from '../../src/domain/news/synthetic-articles';
import { DAY_MS, SYNTHESIS_PROMPT_VERSION } from '../../src/shared/stories';
import { startTestApi, type TestApi } from '../helpers/api';
import { useTestStack } from '../helpers/harness';

const stack = useTestStack('api-stories-read');
let api: TestApi;
const json = async (res: Response) => (await res.json()) as Record<string, any>;
const get = async (path: string) => {
  const res = await api.call(path);
  return { status: res.status, body: await json(res) };
};

/** A word no other story holds: this file's stories are found by it. */
const marker = `qz${randomBytes(5).toString('hex').replace(/\d/g, (d) => 'ghijklmnop'[Number(d)])}`;
/** A word only the first story's summary holds. */
const summaryWord = `${marker}summ`;
const MODEL = 'test-model';
const day = Date.UTC(2031, 0, 1) + Math.floor(Math.random() * 3000) * DAY_MS;
const STORIES = 17;

interface Made {
  id: string;
  headline: string;
  articleIds: number[];
}
const made: Made[] = [];
let pendingId: string;
let articleRows: { id: number; title: string; url: string; sourceName: string; publishedAt: Date }[];

beforeAll(async () => {
  api = await startTestApi({ config: stack.app.config, db: stack.app.services.db, client: stack.env.client });
  const db = stack.app.services.db;
  const repo = new NewsRepository(db);
  const articles = syntheticNews({ articles: STORIES * 2 + 2, clusters: 3, dayMs: day, salt: `read-${marker}` });
  await repo.importArticles(articles);
  const rows: { id: string; title: string; url: string; sourceName: string; publishedAt: Date }[] = await db.query(
    `SELECT id, title, url, source_name AS "sourceName", published_at AS "publishedAt" FROM articles WHERE url = ANY($1) ORDER BY url`,
    [articles.map((a) => a.url)],
  );
  articleRows = rows.map((r) => ({ ...r, id: Number(r.id) }));
  const cluster = (i: number, ids: number[], synthesis: ClusterWrite['synthesis']): ClusterWrite => ({
    storyHash: `read-${marker}-${i}`,
    articleIds: ids,
    topic: i === 0 ? 'Labour' : null,
    windowStart: day + i * 60_000,
    windowEnd: day + i * 60_000 + 3_600_000,
    synthesis,
  });
  // Written one by one, as the seed did (writeStoryAlone): each current at once.
  for (let i = 0; i < STORIES; i++) {
    const ids = [articleRows[2 * i].id, articleRows[2 * i + 1].id];
    const headline = `Harbour ${marker} story ${i}`;
    await repo.writeStoryAlone(MODEL, SYNTHESIS_PROMPT_VERSION, cluster(i, ids, {
      headline,
      summary: i === 0 ? `Dockers walked out at dawn; ${summaryWord} was the word on the pier.` : `Story ${i} of the harbour.`,
      keyPoints: [`Point one of ${i}`, `Point two of ${i}`],
      citedArticleIds: [ids[0]],
    }));
    const [{ id }] = await repo.storiesByHash([`read-${marker}-${i}`], MODEL, SYNTHESIS_PROMPT_VERSION);
    made.push({ id, headline, articleIds: ids });
  }
  // A run's earlier write: pending, never shown or searched until its last write.
  const pendingIds = [articleRows[2 * STORIES].id, articleRows[2 * STORIES + 1].id];
  await repo.writeStories({
    model: MODEL,
    promptVersion: SYNTHESIS_PROMPT_VERSION,
    made: [cluster(STORIES, pendingIds, { headline: `Pending ${marker}`, summary: 'Not yet.', keyPoints: ['None'], citedArticleIds: pendingIds })],
    keptHashes: [],
  });
  [{ id: pendingId }] = await repo.storiesByHash([`read-${marker}-${STORIES}`], MODEL, SYNTHESIS_PROMPT_VERSION);
});
afterAll(async () => {
  await api?.close();
});

describe('GET /api/stories/:id', () => {
  it('answers the story: synthesis, window, status and its articles (cited ones marked)', async () => {
    const story = made[0];
    const { status, body } = await get(`/api/stories/${story.id}`);
    expect(status).toBe(200);
    const [a, b] = story.articleIds.map((id) => articleRows.find((r) => r.id === id)!);
    expect(body).toEqual({
      id: story.id,
      headline: story.headline,
      summary: `Dockers walked out at dawn; ${summaryWord} was the word on the pier.`,
      keyPoints: ['Point one of 0', 'Point two of 0'],
      citedArticleIds: [a.id],
      topic: 'Labour',
      windowStart: new Date(day).toISOString(),
      windowEnd: new Date(day + 3_600_000).toISOString(),
      articleCount: 2,
      status: 'current',
      supersededBy: null,
      supersededAt: null,
      storyHash: `read-${marker}-0`,
      model: MODEL,
      promptVersion: SYNTHESIS_PROMPT_VERSION,
      createdAt: expect.stringMatching(/^\d{4}-\d\d-\d\dT/),
      updatedAt: expect.stringMatching(/^\d{4}-\d\d-\d\dT/),
      // Oldest first, as `stories show` lists them.
      articles: [a, b]
        .sort((x, y) => x.publishedAt.getTime() - y.publishedAt.getTime() || x.id - y.id)
        .map((r) => ({ id: r.id, title: r.title, sourceName: r.sourceName, url: r.url, publishedAt: r.publishedAt.toISOString(), cited: r.id === a.id })),
    });
  });

  it('takes the id in capitals and a unique start of it, as `stories show` does', async () => {
    const story = made[1];
    expect((await get(`/api/stories/${story.id.toUpperCase()}`)).body.id).toBe(story.id);
    const prefix = await get(`/api/stories/${story.id.slice(0, 8)}`);
    expect({ status: prefix.status, id: prefix.body.id }).toEqual({ status: 200, id: story.id });
  });

  it('answers 400 ambiguous_id, with the first few matches and how many, for a start several ids share', async () => {
    // Of 17 ids two start with the same hex digit: their common start names both.
    const [x, y] = made.flatMap((p, i) => made.slice(i + 1).map((q) => [p.id, q.id])).find(([p, q]) => p[0] === q[0])!;
    let common = 0;
    while (x[common] === y[common]) common++;
    const prefix = x.slice(0, common);
    const { status, body } = await get(`/api/stories/${prefix}`);
    expect(status).toBe(400);
    expect(body.error).toMatchObject({ code: 'ambiguous_id', message: `"${prefix}" is the start of ${body.error.total} story ids; give more of the one you mean.` });
    expect(body.error.total).toBeGreaterThanOrEqual(2);
    expect(body.error.matches.length).toBe(Math.min(5, body.error.total));
    for (const m of body.error.matches) expect(m).toEqual(expect.objectContaining({ id: expect.stringMatching(new RegExp(`^${prefix}`)), headline: expect.any(String), status: expect.any(String) }));
  });

  it('answers 404 for no such story and for a pending one, 400 for a malformed id', async () => {
    expect(await get(`/api/stories/${randomUUID()}`)).toEqual({ status: 404, body: { error: { code: 'not_found', message: expect.stringMatching(/^No story /) } } });
    expect((await get(`/api/stories/${pendingId}`)).status).toBe(404);
    const cases: [string, string][] = [
      ['not-a-story', 'params.id must be a story id or the start of one (hex digits and dashes)'],
      ['zz', 'params.id must be a story id or the start of one (hex digits and dashes)'],
      ['%20', 'params.id must be a story id or the start of one (hex digits and dashes)'],
      [`${made[0].id}0`, 'params.id must NOT have more than 36 characters'],
    ];
    for (const [bad, message] of cases) {
      expect({ bad, ...(await get(`/api/stories/${bad}`)) }).toEqual({ bad, status: 400, body: { error: { code: 'invalid_request', message } } });
    }
  });

  it('needs the token, as the other routes', async () => {
    expect((await api.call(`/api/stories/${made[0].id}`, { headers: { authorization: 'Bearer wrong' } })).status).toBe(401);
    expect((await api.call(`/api/stories/search?q=${marker}`, { headers: { authorization: 'Bearer wrong' } })).status).toBe(401);
  });
});

describe('GET /api/stories/search', () => {
  it('finds stories by their words (headline, summary), current ones, never pending ones; limit caps them', async () => {
    const all = await get(`/api/stories/search?q=${marker}&limit=500`);
    expect(all.status).toBe(200);
    expect(all.body.stories.map((s: { id: string }) => s.id).sort()).toEqual(made.map((s) => s.id).sort());
    expect(all.body.stories.map((s: { id: string }) => s.id)).not.toContain(pendingId);
    // The list's shape (GET /api/stories), nothing more.
    const first = made.find((m) => m.id === all.body.stories[0].id)!;
    const i = made.indexOf(first);
    expect(all.body.stories[0]).toEqual({
      id: first.id, headline: first.headline, topic: i === 0 ? 'Labour' : null,
      windowStart: new Date(day + i * 60_000).toISOString(), windowEnd: new Date(day + i * 60_000 + 3_600_000).toISOString(), articleCount: 2, status: 'current',
    });
    // A word only one summary holds: full text over the summary, not only the headline.
    const bySummary = await get(`/api/stories/search?q=${summaryWord}`);
    expect(bySummary.body.stories.map((s: { id: string }) => s.id)).toEqual([made[0].id]);
    // Web search syntax, as the CLI: a phrase, and words that must all be there.
    expect((await get(`/api/stories/search?q=${encodeURIComponent(`"harbour ${marker} story 3"`)}`)).body.stories.map((s: { id: string }) => s.id)).toContain(made[3].id);
    expect((await get(`/api/stories/search?q=${encodeURIComponent(`${marker} nothingelsehasthisword`)}`)).body.stories).toEqual([]);
    expect((await get(`/api/stories/search?q=${marker}&limit=2`)).body.stories).toHaveLength(2);
    // The default limit is the CLI's (20).
    expect((await get(`/api/stories/search?q=${marker}`)).body.stories).toHaveLength(STORIES);
    // "%" is a character, not a wildcard (it matched every story): no headline holds it.
    for (const q of ['%', '%%']) expect((await get(`/api/stories/search?q=${encodeURIComponent(q)}`)).body.stories).toEqual([]);
  });

  it('finds a story by the words of its latest synthesis: the stored search document follows a rewrite', async () => {
    const story = made[5];
    const [before, after] = [`${marker}tide`, `${marker}gale`];
    const db = stack.app.services.db;
    await db.query(`UPDATE stories SET summary = $2, key_points = $3 WHERE id = $1`, [story.id, `The ${before} came in.`, JSON.stringify(['Calm'])]);
    expect((await get(`/api/stories/search?q=${before}`)).body.stories.map((s: { id: string }) => s.id)).toEqual([story.id]);
    await db.query(`UPDATE stories SET key_points = $2 WHERE id = $1`, [story.id, JSON.stringify([`A ${after} is coming`])]);
    expect((await get(`/api/stories/search?q=${after}`)).body.stories.map((s: { id: string }) => s.id)).toEqual([story.id]);
    await db.query(`UPDATE stories SET summary = $2 WHERE id = $1`, [story.id, 'Story 5 of the harbour.']);
    expect((await get(`/api/stories/search?q=${before}`)).body.stories).toEqual([]);
  });

  it('puts current stories before superseded ones, and shows a superseded story with what took its place', async () => {
    const [old, newer] = [made[15], made[16]];
    await stack.app.services.db.query(`UPDATE stories SET status = 'superseded', superseded_at = now(), superseded_by = $2 WHERE id = $1`, [old.id, newer.id]);
    const found = (await get(`/api/stories/search?q=${marker}&limit=500`)).body.stories as { id: string; status: string }[];
    expect(found.at(-1)).toMatchObject({ id: old.id, status: 'superseded' });
    expect(found.slice(0, -1).every((s) => s.status === 'current')).toBe(true);
    expect((await get(`/api/stories/${old.id}`)).body).toMatchObject({ status: 'superseded', supersededBy: newer.id, supersededAt: expect.any(String) });
  });

  it('refuses a missing, empty or blank q and a limit out of range (400), and is never read as a story id', async () => {
    const cases: [string, string, string][] = [
      ['', 'invalid_request', 'querystring.q is required'],
      ['?q=', 'invalid_request', 'querystring.q must NOT have fewer than 1 characters'],
      ['?q=%20%20', 'bad_request', 'querystring.q must not be blank'],
      [`?q=${marker}&limit=0`, 'invalid_request', 'querystring.limit must be >= 1'],
      [`?q=${marker}&limit=501`, 'invalid_request', 'querystring.limit must be <= 500'],
      [`?q=${marker}&limit=ten`, 'invalid_request', 'querystring.limit must be a whole number written in digits'],
      [`?q=${marker}&sort=new`, 'invalid_request', 'querystring: unknown field "sort"'],
      [`?q=${'a'.repeat(1001)}`, 'invalid_request', 'querystring.q must NOT have more than 1000 characters'],
    ];
    for (const [query, code, message] of cases) {
      expect({ query, ...(await get(`/api/stories/search${query}`)) }).toEqual({ query, status: 400, body: { error: { code, message } } });
    }
  });
});

it('the OpenAPI document has both routes, tagged, with their parameters', async () => {
  const doc = await json(await fetch(`${api.url}/openapi.json`));
  const byId = doc.paths['/api/stories/{id}'].get;
  const search = doc.paths['/api/stories/search'].get;
  expect([byId.tags, search.tags]).toEqual([['stories'], ['stories']]);
  expect(byId.summary).toMatch(/^One story/);
  expect(byId.parameters).toEqual([expect.objectContaining({ in: 'path', name: 'id', schema: expect.objectContaining({ type: 'string', maxLength: 36 }) })]);
  expect(search.parameters.map((p: { name: string }) => p.name).sort()).toEqual(['limit', 'q']);
  expect(Object.keys(byId.responses).sort()).toEqual(['200', '400', '401', '404', '414', '429', '503']);
});
