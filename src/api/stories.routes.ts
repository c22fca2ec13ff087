/** News stories: `POST /api/stories/generate` (a generateStories run, 202) and `GET /api/stories`. */
import { NewsRepository } from '../db/repositories/news.repository';
import { OperationError } from '../operations/context';
import { StoriesAlreadyRunningError, startStories, storyScopeFrom, type ScopeRefusals } from '../operations/start-stories';
import { MAX_LIST_OFFSET, STORY_LIST_LIMIT } from '../shared/list-limits';
import { DEFAULT_STORY_FLAGS, DEFAULT_SYNTHESIS_CONCURRENCY, MAX_SYNTHESIS_CONCURRENCY, type StoryFlags } from '../shared/stories';
import { errorSchema } from './errors';
import { alreadyRunningSchema, bearerSecurity, sendAlreadyRunning, sendStarted, startedRunSchema, type ApiRoutes } from './routes';

interface GenerateBody {
  since?: string;
  from?: string;
  to?: string;
  topic?: string;
  flags?: Partial<StoryFlags>;
  concurrency?: number;
  batch?: boolean;
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

export const storiesRoutes: ApiRoutes = async (app, { ctx }) => {
  app.post<{ Body: GenerateBody }>(
    '/api/stories/generate',
    {
      preValidation: async (request) => {
        request.body ??= {};
      },
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
      return { total, stories: stories.map((s) => ({ ...s, windowStart: new Date(s.windowStart).toISOString(), windowEnd: new Date(s.windowEnd).toISOString() })) };
    },
  );
};
