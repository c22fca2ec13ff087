/**
 * Story sessions and the seed's performance endpoints: `POST /api/sessions/:id/turns` (a turn as
 * the session workflow's `takeTurn` Update, started with the first turn), `GET
 * /optimization/performance/metrics` and `POST /optimization/performance/reset` in the seed's shape.
 */
import { WorkflowUpdateFailedError } from '@temporalio/client';
import { sendTurn } from '../cli/session-client';
import { SessionsRepository } from '../db/repositories/sessions.repository';
import { MAX_TURN_INPUT_CHARS, turnInputProblem } from '../shared/sessions';
import { ApiError, errorSchema } from './errors';
import { bearerSecurity, type ApiRoutes } from './routes';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

const statsSchema = { type: 'object', additionalProperties: true } as const;

export const sessionRoutes: ApiRoutes = async (app, { ctx }) => {
  app.post<{ Params: { id: string }; Body: { text: string; title?: string; scriptId?: string } }>(
    '/api/sessions/:id/turns',
    {
      schema: {
        summary: "One turn of a story session (the session workflow's takeTurn Update, with start): the reply, tool calls and figures",
        description: 'An id no session has yet starts one (its id is the client\'s UUID; title and scriptId are read then).',
        tags: ['sessions'],
        security: bearerSecurity,
        params: { type: 'object', required: ['id'], properties: { id: { type: 'string', pattern: UUID.source } } },
        body: {
          type: 'object',
          required: ['text'],
          additionalProperties: false,
          properties: {
            text: { type: 'string', minLength: 1, maxLength: MAX_TURN_INPUT_CHARS },
            title: { type: 'string', minLength: 1, maxLength: 200, description: "A new session's title (default: Untitled story)" },
            scriptId: { type: 'string', pattern: UUID.source, description: 'Ties a new session to an ingested script' },
          },
        },
        response: {
          200: {
            type: 'object',
            properties: {
              sessionId: { type: 'string' },
              turnNumber: { type: 'integer' },
              reply: { type: 'string' },
              toolCalls: { type: 'array', items: { type: 'object', additionalProperties: true } },
              metrics: { type: 'object', additionalProperties: true },
              stepLimitReached: { type: 'boolean' },
            },
          },
          400: errorSchema,
          401: errorSchema,
          409: errorSchema,
          422: errorSchema,
        },
      },
    },
    async (request) => {
      const problem = turnInputProblem(request.body);
      if (problem) throw new ApiError(400, 'invalid_request', problem);
      const found = await new SessionsRepository(await ctx.db()).getSession(request.params.id);
      const session = found ?? { id: request.params.id, title: request.body.title ?? 'Untitled story', scriptId: request.body.scriptId ?? null, status: 'new' };
      if (session.status === 'ended') throw new ApiError(409, 'session_ended', `Session ${session.id} has ended; start a new one.`);
      try {
        return await sendTurn(await ctx.client(), {
          sessionId: session.id,
          title: session.title,
          scriptId: session.scriptId,
          taskQueue: ctx.config.temporal.taskQueue,
          text: request.body.text,
        });
      } catch (err) {
        // The run refused or failed the turn; the session goes on.
        if (err instanceof WorkflowUpdateFailedError) throw new ApiError(422, 'turn_failed', err.cause?.message ?? err.message);
        throw err;
      }
    },
  );

  app.get<{ Querystring: { session_id?: string } }>(
    '/optimization/performance/metrics',
    {
      schema: {
        summary: 'Performance of LLM calls, tools, tool batches and turns since the last reset (the seed shape)',
        tags: ['optimization'],
        security: bearerSecurity,
        querystring: { type: 'object', additionalProperties: false, properties: { session_id: { type: 'string', pattern: UUID.source } } },
        response: {
          200: {
            type: 'object',
            properties: {
              status: { type: 'string' },
              window: { type: 'object', properties: { id: { type: 'integer' }, started_at: { type: 'string' } } },
              session_id: { type: ['string', 'null'] },
              enabled: { type: 'boolean' },
              metrics: { type: 'object', additionalProperties: statsSchema },
            },
          },
          400: errorSchema,
          401: errorSchema,
        },
      },
    },
    async (request) =>
      new SessionsRepository(await ctx.db()).performanceMetrics({ sessionId: request.query.session_id, enabled: ctx.config.sessions.performanceTracking }),
  );

  app.post(
    '/optimization/performance/reset',
    {
      schema: {
        summary: 'Start a new measurement window (nothing is deleted)',
        tags: ['optimization'],
        security: bearerSecurity,
        response: {
          200: { type: 'object', properties: { status: { type: 'string' }, window: { type: 'object', properties: { id: { type: 'integer' }, started_at: { type: 'string' } } } } },
          401: errorSchema,
        },
      },
    },
    async () => {
      const window = await new SessionsRepository(await ctx.db()).resetMetrics();
      return { status: 'success', window: { id: window.id, started_at: window.startedAt.toISOString() } };
    },
  );
};
