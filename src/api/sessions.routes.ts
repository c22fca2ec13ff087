/**
 * Story sessions and the seed's performance endpoints: `POST /api/sessions/:id/turns` (a turn as
 * the session workflow's `takeTurn` Update, started with the first turn; with `Accept:
 * text/event-stream` the reply's deltas as Server-Sent Events, then the turn's result), `GET
 * /api/sessions` and `GET /api/sessions/:id` (what `sessions list|show` print), `POST
 * /api/sessions/:id/end` (`sessions end`), `GET /optimization/performance/metrics` and `POST
 * /optimization/performance/reset` in the seed's shape, and the prompt settings changed at
 * runtime: `GET|POST /optimization/configure`, `GET /optimization/presets`, `POST
 * /optimization/presets/:name/apply` (`sessions configure`).
 */
import { WorkflowUpdateFailedError } from '@temporalio/client';
import { ApplicationFailure } from '@temporalio/common';
import { randomUUID } from 'node:crypto';
import { sendTurn } from '../cli/session-client';
import { subscribeToStream } from '../db/stream-channel';
import { ScriptCatalogRepository } from '../db/repositories/script-catalog.repository';
import { SessionsRepository, type SessionSummary } from '../db/repositories/sessions.repository';
import type { SessionTurn } from '../db/entities';
import {
  effectivePromptSettings,
  findPreset,
  presetChange,
  PROMPT_SETTING_LIMITS,
  SEED_ONLY_SETTINGS,
  SESSION_PRESET_NAMES,
  SESSION_PRESETS,
  type PromptSettings,
  type PromptSettingsOverride,
} from '../domain/sessions/settings';
import { OperationError } from '../operations/context';
import { endSession } from '../operations/end-session';
import { MAX_LIST_OFFSET, SESSION_LIST_LIMIT } from '../shared/list-limits';
import { MAX_TURN_INPUT_CHARS, SESSION_ENDED, sessionTitleProblem, turnInputProblem, turnStreamKey } from '../shared/sessions';
import { ApiError, errorSchema, toErrorAnswer, UUID_PATTERN } from './errors';
import { bearerSecurity, type ApiRoutes } from './routes';

const statsSchema = { type: 'object', additionalProperties: true } as const;

/** A session's id: a UUID, either case (the same session: ids are compared in lower case). */
const sessionIdParams = { type: 'object', required: ['id'], properties: { id: { type: 'string', pattern: UUID_PATTERN } } } as const;

/** `GET /api/sessions/:id`: the last turns shown (`?turns=`), and the last memories (as `sessions show`). */
const SESSION_TURNS_LIMIT = { default: 50, max: 500 } as const;
const SESSION_MEMORIES_SHOWN = 10;

const errors = { 400: errorSchema, 401: errorSchema, 404: errorSchema } as const;

const sessionSummarySchema = {
  type: 'object',
  properties: {
    id: { type: 'string' },
    title: { type: 'string' },
    scriptId: { type: ['string', 'null'] },
    status: { type: 'string', enum: ['active', 'ended'] },
    turns: { type: 'integer', description: 'Turns taken' },
    createdAt: { type: 'string' },
    updatedAt: { type: 'string' },
  },
} as const;

/** A turn's tool call: the shape of the turn's answer (`POST /api/sessions/:id/turns`). */
const toolCallSchema = {
  type: 'object',
  properties: { id: { type: 'string' }, name: { type: 'string' }, kind: { type: 'string' }, step: { type: 'integer' }, ok: { type: 'boolean' }, durationMs: { type: 'number' } },
} as const;

const turnSchema = {
  type: 'object',
  properties: {
    turnNumber: { type: 'integer' },
    text: { type: 'string', description: "The player's text" },
    reply: { type: ['string', 'null'], description: 'null until the turn is taken, or when it failed' },
    status: { type: 'string', enum: ['running', 'completed', 'failed'] },
    error: { type: ['string', 'null'] },
    toolCalls: { type: 'array', items: toolCallSchema },
    metrics: { type: ['object', 'null'], additionalProperties: true, description: "The turn's figures (as its answer's metrics, with stepLimitReached and tokens); null until it ends" },
    startedAt: { type: 'string' },
    finishedAt: { type: ['string', 'null'] },
  },
} as const;

const sessionDetailSchema = {
  type: 'object',
  properties: {
    ...sessionSummarySchema.properties,
    endedAt: { type: ['string', 'null'] },
    world: { type: 'object', additionalProperties: true },
    characters: { type: 'array', items: { type: 'object', properties: { name: { type: 'string' }, description: { type: 'string' }, traits: { type: 'array', items: { type: 'string' } } } } },
    relationships: { type: 'array', items: { type: 'object', properties: { source: { type: 'string' }, target: { type: 'string' }, kind: { type: 'string' } } } },
    memories: { type: 'array', items: { type: 'object', properties: { id: { type: 'integer' }, text: { type: 'string' }, turnNumber: { type: ['integer', 'null'] } } } },
    recentTurns: { type: 'array', items: turnSchema },
  },
} as const;

const sessionItem = (s: SessionSummary) => ({ ...s, createdAt: s.createdAt.toISOString(), updatedAt: s.updatedAt.toISOString() });

/** The prompt settings in snake_case, as the seed named them. */
const settingsSchema = {
  type: 'object',
  properties: { max_context_tokens: { type: 'integer' }, max_turn_history: { type: 'integer' } },
} as const;

const sourceSchema = { type: 'string', enum: ['environment', 'override'] } as const;

/** `GET|POST /optimization/configure` and a preset's apply: what prompts use now, and where each value comes from. */
const configureAnswerSchema = {
  type: 'object',
  properties: {
    status: { type: 'string' },
    config: { ...settingsSchema, description: "What every session's next model step uses" },
    sources: { type: 'object', properties: { max_context_tokens: sourceSchema, max_turn_history: sourceSchema } },
    environment: { ...settingsSchema, description: "This server's MAX_CONTEXT_TOKENS and MAX_TURN_HISTORY: what a setting without an override takes" },
    updated_at: { type: ['string', 'null'], description: 'When the override last changed (null: never set)' },
  },
} as const;

const snake = (s: PromptSettings) => ({ max_context_tokens: s.maxContextTokens, max_turn_history: s.maxTurnHistory });

function configureAnswer(environment: PromptSettings, override: PromptSettingsOverride) {
  const effective = effectivePromptSettings(environment, override);
  return {
    status: 'success',
    config: snake(effective),
    sources: { max_context_tokens: effective.sources.maxContextTokens, max_turn_history: effective.sources.maxTurnHistory },
    environment: snake(environment),
    updated_at: override.updatedAt?.toISOString() ?? null,
  };
}

const CONFIGURE_FIELDS = 'give max_context_tokens and/or max_turn_history (a number sets it, null resets it to the environment\'s value)';

function turnItem(t: SessionTurn) {
  const finished = t.status !== 'running' && Object.keys(t.timings).length > 0;
  return {
    turnNumber: t.turnNumber,
    text: t.input,
    reply: t.reply,
    status: t.status,
    error: t.error,
    toolCalls: t.toolCalls.map(({ id, name, kind, step, ok, durationMs }) => ({ id, name, kind, step, ok, durationMs })),
    metrics: finished ? t.timings : null,
    startedAt: t.startedAt.toISOString(),
    finishedAt: t.finishedAt?.toISOString() ?? null,
  };
}

export const sessionRoutes: ApiRoutes = async (app, { ctx }) => {
  app.post<{ Params: { id: string }; Body: { text: string; title?: string; scriptId?: string } }>(
    '/api/sessions/:id/turns',
    {
      schema: {
        summary: "One turn of a story session (the session workflow's takeTurn Update, with start): the reply, tool calls and figures",
        description:
          "An id no session has yet starts one (its id is the client's UUID; title and scriptId are read then). With `Accept: text/event-stream` " +
          'the answer is Server-Sent Events: `delta` ({ step, text }) as the reply is written (a `discard` ({ step }) when a step\'s text came with tool calls), ' +
          'then `result` (the JSON below) or `error` ({ code, message }).',
        tags: ['sessions'],
        security: bearerSecurity,
        params: sessionIdParams,
        body: {
          type: 'object',
          required: ['text'],
          additionalProperties: false,
          properties: {
            text: { type: 'string', minLength: 1, maxLength: MAX_TURN_INPUT_CHARS },
            title: { type: 'string', minLength: 1, maxLength: 200, description: "A new session's title (default: Untitled story)" },
            scriptId: { type: 'string', pattern: UUID_PATTERN, description: 'Ties a new session to an ingested script' },
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
          404: errorSchema,
          409: errorSchema,
          422: errorSchema,
        },
      },
    },
    async (request, reply) => {
      // The schema took its type and length: what is left (blank text) is a bad request, as a blank title is.
      const problem = turnInputProblem(request.body);
      if (problem) throw new ApiError(400, 'bad_request', problem);
      const titleProblem = request.body.title === undefined ? undefined : sessionTitleProblem(request.body.title);
      if (titleProblem) throw new ApiError(400, 'bad_request', `title ${titleProblem}; nothing was started.`);
      const db = await ctx.db();
      // One id, one workflow: a UUID in capitals is the same session as in lower case (the workflow id is made from the text).
      const sessionId = request.params.id.toLowerCase();
      const found = await new SessionsRepository(db).getSession(sessionId);
      const session = found ?? { id: sessionId, title: request.body.title ?? 'Untitled story', scriptId: request.body.scriptId?.toLowerCase() ?? null, status: 'new' };
      if (session.status === 'ended') throw new ApiError(409, 'session_ended', `Session ${session.id} has ended; start a new one.`);
      // Title and script are a new session's (as `play --session` refuses --title and --script): a
      // later turn that names others would be silently ignored; the same ones (a retried first turn) pass.
      if (found) {
        const { title, scriptId } = request.body;
        if ((title !== undefined && title !== found.title) || (scriptId !== undefined && scriptId.toLowerCase() !== (found.scriptId ?? '').toLowerCase())) {
          throw new ApiError(400, 'bad_request', `Session ${found.id} exists: its title and script were set when it started ("${found.title}"); leave title and scriptId out of its turns.`);
        }
      }
      // A new session's script must exist (as `storyloom play --script` checks): refused before the session starts.
      if (!found && session.scriptId && !(await new ScriptCatalogRepository(db).get(session.scriptId))) {
        throw new ApiError(404, 'not_found', `No script ${session.scriptId}: nothing was started.`);
      }
      const client = await ctx.client();
      const updateId = randomUUID();
      // A session not stored yet may still have started (another first turn in flight): what this
      // request gave it goes with the turn, for the run to check.
      const given = { ...(request.body.title !== undefined ? { title: request.body.title } : {}), ...(request.body.scriptId !== undefined ? { scriptId: session.scriptId } : {}) };
      const newSession = !found && Object.keys(given).length ? given : undefined;
      const take = () =>
        sendTurn(client, { sessionId: session.id, title: session.title, scriptId: session.scriptId, taskQueue: ctx.config.temporal.taskQueue, text: request.body.text, updateId, searchAttributes: true, newSession });
      const failure = (err: unknown) => {
        if (!(err instanceof WorkflowUpdateFailedError)) return err;
        // Another first turn started the session under another title or script meanwhile.
        if (err.cause instanceof ApplicationFailure && err.cause.type === 'SessionMismatch') return new ApiError(400, 'bad_request', err.cause.message);
        // It ended meanwhile (after this request found it active), as an ended session is refused before sending.
        if (err.cause instanceof ApplicationFailure && err.cause.type === SESSION_ENDED) return new ApiError(409, 'session_ended', err.cause.message);
        // The run refused or failed the turn; the session goes on.
        return new ApiError(422, 'turn_failed', err.cause?.message ?? err.message);
      };

      if (!String(request.headers.accept ?? '').includes('text/event-stream')) {
        try {
          return await take();
        } catch (err) {
          throw failure(err);
        }
      }
      // Server-Sent Events: the reply's deltas from the turn's stream channel, then the result.
      const headers = { ...reply.getHeaders(), 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-cache, no-transform', connection: 'keep-alive', 'x-accel-buffering': 'no' };
      reply.hijack();
      const res = reply.raw;
      res.writeHead(200, headers as Record<string, string>);
      const send = (event: string, data: unknown) => res.write(`event: ${event}\ndata: ${JSON.stringify(data)}\n\n`);
      let replyDone = false;
      const subscription = await subscribeToStream(ctx.config.databaseUrl, turnStreamKey(session.id, updateId), (e) => {
        if (e.type === 'delta') send('delta', { step: e.variant, text: e.text });
        else if (e.type === 'restart' || (e.type === 'start' && e.attempt > 1)) send('discard', { step: e.variant });
        else if (e.type === 'done') replyDone = true;
      }).catch(() => undefined);
      try {
        const result = await take();
        // NOTIFY may trail the Update's answer: the last deltas go out before the result (which has the whole reply anyway).
        for (let waited = 0; subscription && !replyDone && waited < 1000; waited += 20) await new Promise((r) => setTimeout(r, 20));
        send('result', result);
      } catch (err) {
        // As the error handler answers (src/api/errors.ts): a refusal says why, a failure only that it happened; the log has the details.
        const { status, body } = toErrorAnswer(failure(err), request);
        if (status === 503) request.log.warn({ code: body.error.code, reason: (err as Error).message }, 'turn failed: a dependency is down');
        else if (status >= 500) request.log.error({ err, code: body.error.code }, 'turn failed');
        send('error', body.error);
      } finally {
        await subscription?.close();
        res.end();
      }
    },
  );

  /** The session of a path's id (any case), or 404. */
  const sessionOr404 = async (rawId: string) => {
    const session = await new SessionsRepository(await ctx.db()).getSession(rawId.toLowerCase());
    if (!session) throw new ApiError(404, 'not_found', `No session ${rawId.toLowerCase()}.`);
    return session;
  };

  app.get<{ Querystring: { limit: number; offset: number } }>(
    '/api/sessions',
    {
      schema: {
        summary: 'Story sessions, newest first, a page at a time (total: how many in all)',
        tags: ['sessions'],
        security: bearerSecurity,
        querystring: {
          type: 'object',
          additionalProperties: false,
          properties: {
            limit: { type: 'integer', minimum: 1, maximum: SESSION_LIST_LIMIT.max, default: SESSION_LIST_LIMIT.default },
            offset: { type: 'integer', minimum: 0, maximum: MAX_LIST_OFFSET, default: 0 },
          },
        },
        response: { 200: { type: 'object', properties: { total: { type: 'integer' }, sessions: { type: 'array', items: sessionSummarySchema } } }, 400: errorSchema, 401: errorSchema },
      },
    },
    async (request) => {
      const { total, sessions } = await new SessionsRepository(await ctx.db()).pageSessions(request.query);
      return { total, sessions: sessions.map(sessionItem) };
    },
  );

  app.get<{ Params: { id: string }; Querystring: { turns: number } }>(
    '/api/sessions/:id',
    {
      schema: {
        summary: 'One story session: title, script, status, world state, characters, relationships, recent memories and its last turns with their tool calls',
        description: `\`recentTurns\`: the last \`turns\` turns (default ${SESSION_TURNS_LIMIT.default}), oldest first, a turn still being taken included (\`running\`); \`memories\`: the last ${SESSION_MEMORIES_SHOWN}, newest first.`,
        tags: ['sessions'],
        security: bearerSecurity,
        params: sessionIdParams,
        querystring: {
          type: 'object',
          additionalProperties: false,
          properties: { turns: { type: 'integer', minimum: 1, maximum: SESSION_TURNS_LIMIT.max, default: SESSION_TURNS_LIMIT.default } },
        },
        response: { 200: sessionDetailSchema, ...errors },
      },
    },
    async (request) => {
      const view = await new SessionsRepository(await ctx.db()).sessionView(await sessionOr404(request.params.id), { turns: request.query.turns, memories: SESSION_MEMORIES_SHOWN });
      const { session } = view;
      return {
        ...sessionItem(session),
        endedAt: session.endedAt?.toISOString() ?? null,
        world: session.world,
        characters: view.characters.map(({ name, description, traits }) => ({ name, description, traits })),
        relationships: view.relationships,
        memories: view.memories,
        recentTurns: view.turns.map(turnItem),
      };
    },
  );

  app.post<{ Params: { id: string } }>(
    '/api/sessions/:id/end',
    {
      schema: {
        summary: "End a story session (its run's `end` Update): turns sent before the end are still taken",
        description:
          'As `storyloom sessions end`: `outcome` is `ended`, or `ending` with `pending` turns sent before the end still being taken (the session ends after them). ' +
          'A session that has ended is a 409 `conflict`; one whose run is gone (never played, or closed) is marked ended. ' +
          'No worker taking the request within 15 s is a 504 `run_unresponsive` (the server keeps it: a worker that starts later may still apply it).',
        tags: ['sessions'],
        security: bearerSecurity,
        params: sessionIdParams,
        response: {
          200: {
            type: 'object',
            properties: {
              sessionId: { type: 'string' },
              title: { type: 'string' },
              outcome: { type: 'string', enum: ['ended', 'ending'] },
              turns: { type: 'integer', description: 'Turns taken when the end was asked' },
              pending: { type: 'integer', description: 'Turns sent before the end and still being taken' },
              message: { type: 'string' },
            },
          },
          ...errors,
          409: errorSchema,
          503: errorSchema,
          504: errorSchema,
        },
      },
    },
    async (request) => {
      const ended = await endSession(ctx, await sessionOr404(request.params.id));
      if (ended.outcome === 'already_ended') throw new OperationError('conflict', `${ended.message} Nothing to end.`);
      return ended;
    },
  );

  app.get<{ Querystring: { session_id?: string } }>(
    '/optimization/performance/metrics',
    {
      schema: {
        summary: 'Performance of LLM calls, tools, tool batches and turns since the last reset (the seed shape)',
        tags: ['optimization'],
        security: bearerSecurity,
        querystring: { type: 'object', additionalProperties: false, properties: { session_id: { type: 'string', pattern: UUID_PATTERN } } },
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
      new SessionsRepository(await ctx.db()).performanceMetrics({ sessionId: request.query.session_id?.toLowerCase(), enabled: ctx.config.sessions.performanceTracking }),
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

  const environment = (): PromptSettings => ({ maxContextTokens: ctx.config.sessions.maxContextTokens, maxTurnHistory: ctx.config.sessions.maxTurnHistory });
  const APPLIES =
    "A change applies to every session's next model step. A session's background summaries follow its run's max_turn_history, read when the run started: " +
    'the new value there from its next run (it continues as new every STORYLOOM_SESSION_TURNS_PER_RUN turns); meanwhile older turns the summary has not reached are one-line extracts. ' +
    "`environment` is this server's; a worker fills a setting without an override from its own.";

  app.get(
    '/optimization/configure',
    {
      schema: {
        summary: 'The prompt settings of story sessions (max_context_tokens, max_turn_history): the values used and where each comes from',
        description: APPLIES,
        tags: ['optimization'],
        security: bearerSecurity,
        response: { 200: configureAnswerSchema, 401: errorSchema },
      },
    },
    async () => configureAnswer(environment(), await new SessionsRepository(await ctx.db()).sessionSettingsOverride()),
  );

  app.post<{ Body: { max_context_tokens?: number | null; max_turn_history?: number | null } }>(
    '/optimization/configure',
    {
      schema: {
        summary: "Change the prompt settings of story sessions at runtime (the seed's body): a number overrides the environment's value, null resets it to it",
        description: `${APPLIES} Fields left out keep their value; repeating a change changes nothing. The seed's other fields (${Object.keys(SEED_ONLY_SETTINGS).join(', ')}) are refused with what storyloom does instead.`,
        tags: ['optimization'],
        security: bearerSecurity,
        body: {
          type: 'object',
          additionalProperties: false,
          properties: {
            max_context_tokens: {
              type: ['integer', 'null'],
              minimum: PROMPT_SETTING_LIMITS.maxContextTokens.min,
              maximum: PROMPT_SETTING_LIMITS.maxContextTokens.max,
              description: "The prompt's budget in tokens (MAX_CONTEXT_TOKENS); null: the environment's",
            },
            max_turn_history: {
              type: ['integer', 'null'],
              minimum: PROMPT_SETTING_LIMITS.maxTurnHistory.min,
              maximum: PROMPT_SETTING_LIMITS.maxTurnHistory.max,
              description: "Recent turns carried in full (MAX_TURN_HISTORY); older ones are the story so far. null: the environment's",
            },
          },
        },
        response: { 200: configureAnswerSchema, 400: errorSchema, 401: errorSchema },
      },
      // Before the schema (which would only say "unknown field"): the seed's other settings are
      // answered with what storyloom does instead, and an empty body with what to send.
      preValidation: async (request) => {
        const body = request.body;
        if (body === undefined || body === null || (typeof body === 'object' && !Array.isArray(body) && !Object.keys(body).length)) {
          throw new ApiError(400, 'invalid_request', `body: ${CONFIGURE_FIELDS}`);
        }
        if (typeof body !== 'object' || Array.isArray(body)) return;
        const seedOnly = Object.keys(body).find((k) => Object.hasOwn(SEED_ONLY_SETTINGS, k));
        if (seedOnly) throw new ApiError(400, 'invalid_request', `body.${seedOnly}: not a storyloom setting; ${SEED_ONLY_SETTINGS[seedOnly]}. Only max_context_tokens and max_turn_history can be set.`);
      },
    },
    async (request) => {
      const { max_context_tokens: maxContextTokens, max_turn_history: maxTurnHistory } = request.body;
      const override = await new SessionsRepository(await ctx.db()).setSessionSettingsOverride({ maxContextTokens, maxTurnHistory });
      request.log.info({ max_context_tokens: maxContextTokens, max_turn_history: maxTurnHistory }, 'session prompt settings changed');
      return configureAnswer(environment(), override);
    },
  );

  app.get(
    '/optimization/presets',
    {
      schema: {
        summary: 'The named presets of the prompt settings (fast, balanced, thorough) and the values each sets',
        tags: ['optimization'],
        security: bearerSecurity,
        response: {
          200: {
            type: 'object',
            properties: {
              presets: {
                type: 'object',
                additionalProperties: {
                  type: 'object',
                  properties: {
                    description: { type: 'string' },
                    ...settingsSchema.properties,
                    clears_override: { type: 'boolean', description: "true: applying it resets both settings to the environment's values (those shown are this server's)" },
                  },
                },
              },
            },
          },
          401: errorSchema,
        },
      },
    },
    async () => ({
      presets: Object.fromEntries(
        SESSION_PRESET_NAMES.map((name) => {
          const preset = SESSION_PRESETS[name];
          return [name, { description: preset.description, ...snake(preset.settings ?? environment()), clears_override: preset.settings === null }];
        }),
      ),
    }),
  );

  app.post<{ Params: { name: string } }>(
    '/optimization/presets/:name/apply',
    {
      schema: {
        summary: 'Apply a preset of the prompt settings: fast and thorough set both, balanced clears the override',
        description: APPLIES,
        tags: ['optimization'],
        security: bearerSecurity,
        params: { type: 'object', required: ['name'], properties: { name: { type: 'string', minLength: 1, maxLength: 100 } } },
        response: {
          200: { ...configureAnswerSchema, properties: { ...configureAnswerSchema.properties, preset: { type: 'string' }, description: { type: 'string' } } },
          401: errorSchema,
          404: {
            ...errorSchema,
            properties: { error: { ...errorSchema.properties.error, properties: { ...errorSchema.properties.error.properties, presets: { type: 'array', items: { type: 'string' } } } } },
          },
        },
      },
    },
    async (request, reply) => {
      const found = findPreset(request.params.name);
      if (!found) {
        const names = SESSION_PRESET_NAMES;
        return reply.code(404).send({ error: { code: 'not_found', message: `No preset "${request.params.name}": the presets are ${names.join(', ')}.`, presets: names } });
      }
      const override = await new SessionsRepository(await ctx.db()).setSessionSettingsOverride(presetChange(found.preset));
      request.log.info({ preset: found.name }, 'session prompt settings preset applied');
      return { ...configureAnswer(environment(), override), preset: found.name, description: found.preset.description };
    },
  );
};
