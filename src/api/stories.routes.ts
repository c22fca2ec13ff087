/**
 * News stories: `POST /api/stories/generate` (a generateStories run, 202), `GET /api/stories`,
 * `GET /api/stories/search` and `GET /api/stories/:id` (what `stories list|search|show` print).
 */
import { AmbiguousStoryIdError, isStoryIdOrPrefix, NewsRepository, STORY_ID_FORM, type StoryListItem } from '../db/repositories/news.repository';
import { OperationError } from '../operations/context';
import { parseModelChoice } from '../operations/model-choice';
import { StoriesAlreadyRunningError, startStories, storyScopeFrom, type ScopeRefusals } from '../operations/start-stories';
import { MAX_LIST_OFFSET, STORY_LIST_LIMIT, STORY_SEARCH_LIMIT } from '../shared/list-limits';
import { DEFAULT_STORY_FLAGS, DEFAULT_SYNTHESIS_CONCURRENCY, MAX_SYNTHESIS_CONCURRENCY, type StoryFlags } from '../shared/stories';
import { ApiError, errorSchema } from './errors';
import { optionalJsonBody } from './openapi';
import { alreadyRunningSchema, bearerSecurity, sendAlreadyRunning, sendStarted, startedRunSchema, type ApiRoutes } from './routes';

interface GenerateBody {
  since?: string;
  from?: string;
  to?: string;
  topic?: string;
  flags?: Partial<StoryFlags>;
  concurrency?: number;
  batch?: boolean;
  similarityThreshold?: number;
  model?: string;
}

/** The API's names for the scope's fields (`body.from`), and its refusal (400). */
const API_SCOPE: ScopeRefusals = {
  name: (field) => `body.${field}`,
  refuse: (message) => new OperationError('bad_request', message),
  // "--from takes an ISO 8601 date …" → "body.from: takes an ISO 8601 date …".
  refuseParsed: (field, message) => new OperationError('bad_request', `body.${field}: ${message.replace(/^--\S+ /, '')}`),
};

const storySchema = {
  type: 'object',
  properties: {
    id: { type: 'string' },
    headline: { type: 'string' },
    topic: { type: ['string', 'null'] },
    windowStart: { type: 'string' },
    windowEnd: { type: 'string' },
    articleCount: { type: 'integer' },
    status: { type: 'string' },
  },
} as const;

/** A story as listed: its time window in ISO 8601. */
function storyItem(s: StoryListItem) {
  const { id, headline, topic, windowStart, windowEnd, articleCount, status } = s;
  return { id, headline, topic, windowStart: new Date(windowStart).toISOString(), windowEnd: new Date(windowEnd).toISOString(), articleCount, status };
}

/** The longest text a story search takes (far past any real query; keeps a request from sending megabytes to Postgres). */
const STORY_SEARCH_TEXT_MAX = 1000;

const storyDetailSchema = {
  type: 'object',
  properties: {
    ...storySchema.properties,
    summary: { type: 'string' },
    keyPoints: { type: 'array', items: { type: 'string' } },
    citedArticleIds: { type: 'array', items: { type: 'integer' } },
    supersededBy: { type: ['string', 'null'], description: 'A superseded story: the current one that took most of its articles' },
    supersededAt: { type: ['string', 'null'] },
    storyHash: { type: 'string' },
    model: { type: 'string' },
    promptVersion: { type: 'string' },
    createdAt: { type: 'string' },
    updatedAt: { type: 'string' },
    articles: {
      type: 'array',
      items: {
        type: 'object',
        properties: {
          id: { type: 'integer' },
          title: { type: 'string' },
          sourceName: { type: ['string', 'null'] },
          url: { type: ['string', 'null'] },
          publishedAt: { type: 'string' },
          cited: { type: 'boolean', description: 'The synthesis cites it' },
        },
      },
    },
  },
} as const;

/** The 400 of an id prefix several stories' ids start with: the first few (newest first) and how many. */
const ambiguousIdSchema = {
  type: 'object',
  properties: {
    error: {
      type: 'object',
      properties: { code: { type: 'string' }, message: { type: 'string' }, total: { type: 'integer' }, matches: { type: 'array', items: storySchema } },
    },
  },
} as const;

export const storiesRoutes: ApiRoutes = async (app, { ctx }) => {
  app.post<{ Body: GenerateBody }>(
    '/api/stories/generate',
    {
      // No body is the defaults (the document says the body is optional).
      ...optionalJsonBody,
      schema: {
        summary: 'Cluster articles into stories and synthesise them (202 with the run; 409 when the same scope runs)',
        tags: ['stories'],
        security: bearerSecurity,
        body: {
          type: 'object',
          additionalProperties: false,
          properties: {
            // An empty string is refused, not read as "not given" (which would start a run over another scope).
            since: { type: 'string', minLength: 1, description: 'A duration like 30m, 24h, 7d (default 24h)' },
            from: { type: 'string', minLength: 1, description: 'ISO date or date-time' },
            to: { type: 'string', minLength: 1, description: 'ISO date or date-time' },
            topic: { type: 'string', minLength: 1, maxLength: 200 },
            flags: { type: 'object', additionalProperties: false, properties: Object.fromEntries(Object.keys(DEFAULT_STORY_FLAGS).map((k) => [k, { type: 'boolean' }])) },
            concurrency: { type: 'integer', minimum: 1, maximum: MAX_SYNTHESIS_CONCURRENCY, description: `Syntheses in flight (default ${DEFAULT_SYNTHESIS_CONCURRENCY})` },
            batch: { type: 'boolean' },
            model: { type: 'string', minLength: 3, maxLength: 200, description: 'provider:model for the syntheses, e.g. openai:gpt-4o (default: STORYLOOM_MODEL_SYNTHESIS); stories are reused per model' },
            similarityThreshold: { type: 'number', exclusiveMinimum: 0, maximum: 1, description: 'The cosine similarity an article needs with a cluster to join it (default 0.5; higher: more, tighter clusters)' },
          },
        },
        response: {
          202: startedRunSchema({
            scope: { type: 'object', properties: { fromMs: { type: 'number' }, toMs: { type: 'number' }, topic: { type: ['string', 'null'] } } },
          }),
          409: alreadyRunningSchema,
          400: errorSchema,
          401: errorSchema,
        },
      },
    },
    async (request, reply) => {
      const body = request.body ?? {};
      const input = {
        scope: storyScopeFrom(body, API_SCOPE),
        flags: { ...DEFAULT_STORY_FLAGS, ...body.flags },
        concurrency: body.concurrency ?? DEFAULT_SYNTHESIS_CONCURRENCY,
        ...(body.batch ? { batch: true } : {}),
        ...(body.similarityThreshold !== undefined ? { similarityThreshold: body.similarityThreshold } : {}),
        ...(body.model !== undefined ? { model: parseModelChoice('body.model', body.model) } : {}),
      };
      try {
        const { workflowId, scope, handle } = await startStories(ctx, input);
        return sendStarted(reply, ctx, { workflowId, runId: handle.firstExecutionRunId }, { scope });
      } catch (err) {
        if (!(err instanceof StoriesAlreadyRunningError)) throw err;
        return sendAlreadyRunning(reply, ctx, err);
      }
    },
  );

  app.get<{ Querystring: { all: boolean; limit: number; offset: number } }>(
    '/api/stories',
    {
      schema: {
        summary: 'Current stories, newest first (all=true: superseded ones too), a page at a time (total: how many in all)',
        tags: ['stories'],
        security: bearerSecurity,
        querystring: {
          type: 'object',
          additionalProperties: false,
          properties: {
            all: { type: 'boolean', default: false },
            limit: { type: 'integer', minimum: 1, maximum: STORY_LIST_LIMIT.max, default: STORY_LIST_LIMIT.default },
            offset: { type: 'integer', minimum: 0, maximum: MAX_LIST_OFFSET, default: 0 },
          },
        },
        response: { 200: { type: 'object', properties: { total: { type: 'integer' }, stories: { type: 'array', items: storySchema } } }, 400: errorSchema, 401: errorSchema },
      },
    },
    async (request) => {
      const { all, limit, offset } = request.query;
      const { total, stories } = await new NewsRepository(await ctx.db()).pageStories({ all, limit, offset });
      return { total, stories: stories.map(storyItem) };
    },
  );

  // A static path: the router matches it before `/api/stories/:id` (never a story id "search").
  app.get<{ Querystring: { q: string; limit: number } }>(
    '/api/stories/search',
    {
      schema: {
        summary: 'Stories matching q: full text (English stemming) over headline, summary and key points, or q within the headline; current ones first',
        description: 'As `storyloom stories search`: superseded stories are found too (after the current ones), pending ones never.',
        tags: ['stories'],
        security: bearerSecurity,
        querystring: {
          type: 'object',
          required: ['q'],
          additionalProperties: false,
          properties: {
            q: { type: 'string', minLength: 1, maxLength: STORY_SEARCH_TEXT_MAX, description: 'Words, "a phrase", -excluded (web search syntax)' },
            limit: { type: 'integer', minimum: 1, maximum: STORY_SEARCH_LIMIT.max, default: STORY_SEARCH_LIMIT.default },
          },
        },
        response: { 200: { type: 'object', properties: { stories: { type: 'array', items: storySchema } } }, 400: errorSchema, 401: errorSchema },
      },
    },
    async (request) => {
      // A blank q finds nothing by its words but every headline holding it (ILIKE): refused, as `stories search " "` is.
      if (!request.query.q.trim()) throw new OperationError('bad_request', 'querystring.q must not be blank');
      const found = await new NewsRepository(await ctx.db()).searchStories(request.query.q, request.query.limit);
      return { stories: found.map(storyItem) };
    },
  );

  app.get<{ Params: { id: string } }>(
    '/api/stories/:id',
    {
      schema: {
        summary: 'One story: headline, summary, key points, time window, status and its articles (cited ones marked)',
        description:
          'The id is a story id or, as `storyloom stories show` takes it, a unique start of one (any case). A start several ids share is a 400 ' +
          '`ambiguous_id` listing the first few (`matches`, newest first) and how many (`total`). Superseded stories are shown too (with `supersededBy`).',
        tags: ['stories'],
        security: bearerSecurity,
        params: {
          type: 'object',
          required: ['id'],
          properties: { id: { type: 'string', minLength: 1, maxLength: 36, description: 'A story id or the start of one: hex digits and dashes, any case' } },
        },
        response: { 200: storyDetailSchema, 400: ambiguousIdSchema, 401: errorSchema, 404: errorSchema },
      },
    },
    async (request, reply) => {
      const { id } = request.params;
      // Checked by the handler rather than as a schema `pattern`, so the refusal says what an id is instead of quoting the pattern.
      if (!isStoryIdOrPrefix(id)) throw new ApiError(400, 'invalid_request', `params.id must be ${STORY_ID_FORM}`);
      let story;
      try {
        story = await new NewsRepository(await ctx.db()).storyWithArticles(id);
      } catch (err) {
        if (!(err instanceof AmbiguousStoryIdError)) throw err;
        const message = `"${id}" is the start of ${err.total} story ids; give more of the one you mean.`;
        return reply.code(400).send({ error: { code: 'ambiguous_id', message, total: err.total, matches: err.matches.map(storyItem) } });
      }
      if (!story) throw new ApiError(404, 'not_found', `No story ${id}.`);
      const cited = new Set(story.citedArticleIds);
      const iso = (d: Date | null) => (d === null ? null : new Date(d).toISOString());
      return {
        ...story,
        ...storyItem(story),
        supersededAt: iso(story.supersededAt),
        createdAt: iso(story.createdAt),
        updatedAt: iso(story.updatedAt),
        articles: story.articles.map((a) => ({ ...a, publishedAt: new Date(a.publishedAt).toISOString(), cited: cited.has(a.id) })),
      };
    },
  );
};
