/**
 * Screenplays: `POST /api/screenplays/generate` (a generateScreenplay run, 202) and
 * `GET /api/screenplays/:workflowId/stream`, a Server-Sent Events stream of the run's text as it
 * is written (the deltas the CLI's `generate --wait` prints, relayed from the run's Postgres
 * channel), with the run's progress and its final event.
 */
import { WorkflowNotFoundError } from '@temporalio/client';
import type { StreamEvent } from '../db/stream-channel';
import { MAX_PERSONA_NAME } from '../domain/generation/personas';
import { OperationError } from '../operations/context';
import { decodePlot, MAX_PERSONAS, MAX_PLOT_BYTES, MAX_SCREENPLAY_TITLE_LENGTH, parseScreenplayModel, startScreenplay, UnknownPersonasRefusal } from '../operations/start-screenplay';
import { unknownPersonasSchema } from './personas.routes';
import { DEFAULT_MAX_TOKENS, MAX_VARIANTS } from '../shared/screenplay';
import { ApiError, errorSchema } from './errors';
import type { ApiContext } from './context';
import type { RunEvent } from './run-watch';
import { bearerSecurity, runUrlsSchema, sendStarted, startedRunSchema, workflowIdParams, type ApiRoutes } from './routes';
import { openSse, type SseStream } from './sse';

interface GenerateBody {
  plot: string;
  personas: string[];
  title?: string;
  storyId?: string;
  maxTokens?: number;
  variants?: number;
  model?: string;
  useCache?: boolean;
}

/** How long the final event waits for the `done` of variants still streaming (NOTIFY may trail the result). */
const TRAILING_DELTAS_MS = 2000;

/** A screenplay run's links: the run's own and its text stream. */
export function screenplayUrls(ctx: ApiContext, workflowId: string): Record<string, string> {
  return { ...ctx.runUrls(workflowId), stream: `/api/screenplays/${encodeURIComponent(workflowId)}/stream` };
}

const screenplayUrlsSchema = { type: 'object', properties: { ...runUrlsSchema.properties, stream: { type: 'string' } } } as const;

export const screenplaysRoutes: ApiRoutes = async (app, { ctx }) => {
  app.post<{ Body: GenerateBody }>(
    '/api/screenplays/generate',
    {
      // The plot may be up to MAX_PLOT_BYTES: room for it and the rest of the body.
      bodyLimit: Math.max(ctx.config.api.jsonBodyLimitBytes, MAX_PLOT_BYTES + 16 * 1024),
      schema: {
        summary: 'Generate a screenplay from a plot and personas (202 with the run; its text streams at urls.stream)',
        tags: ['screenplays'],
        security: bearerSecurity,
        body: {
          type: 'object',
          additionalProperties: false,
          required: ['plot', 'personas'],
          properties: {
            plot: { type: 'string', minLength: 1, maxLength: MAX_PLOT_BYTES, description: 'The plot, in prose' },
            personas: {
              type: 'array',
              minItems: 1,
              maxItems: MAX_PERSONAS,
              uniqueItems: true,
              items: { type: 'string', minLength: 1, maxLength: MAX_PERSONA_NAME },
              description: 'Persona names (unknown ones are a 404 with the closest names, as `GET /api/personas/contexts?names=…` answers)',
            },
            title: { type: 'string', minLength: 1, maxLength: MAX_SCREENPLAY_TITLE_LENGTH },
            storyId: { type: 'string', minLength: 1, maxLength: 200, description: 'Make a new version of this story (its id; default: a new story)' },
            maxTokens: { type: 'integer', minimum: 256, maximum: 64_000, description: `Output cap per call (default ${DEFAULT_MAX_TOKENS})` },
            variants: { type: 'integer', minimum: 1, maximum: MAX_VARIANTS, description: 'Versions generated concurrently (default 1)' },
            model: { type: 'string', minLength: 3, maxLength: 200, description: 'provider:model, e.g. openai:gpt-4o (default: STORYLOOM_MODEL_SCREENPLAY)' },
            useCache: { type: 'boolean', description: 'Answer from the LLM response cache when the same request was answered (default true)' },
          },
        },
        response: {
          202: startedRunSchema(
            { storyId: { type: ['string', 'null'], description: 'The story a new version is made of (null: the run makes a new story; its result names it)' } },
            screenplayUrlsSchema,
          ),
          400: errorSchema,
          401: errorSchema,
          // An unknown storyId, or unknown personas (each with the closest names, in `unknown`).
          404: unknownPersonasSchema,
          409: errorSchema,
          413: errorSchema,
        },
      },
    },
    async (request, reply) => {
      const body = request.body;
      // The checks a plot file gets (and an imported screenplay): a NUL character, whitespace only, … are a 400, nothing written.
      const plot = decodePlot(Buffer.from(body.plot, 'utf8'), 'body.plot');
      // As `storyloom generate --title " "` refuses it: a blank title would name a story no title finds.
      if (body.title !== undefined && !body.title.trim()) throw new OperationError('bad_request', 'body.title must not be blank (leave it out for the default title)');
      const personaNames = body.personas.map((p) => p.trim());
      if (personaNames.some((p) => !p)) throw new OperationError('bad_request', 'body.personas: a name is empty');
      // As `storyloom generate` refuses it: names equal once trimmed ("Mara Quill", " Mara Quill") are one persona named twice.
      const twice = personaNames.find((p, i) => personaNames.indexOf(p) !== i);
      if (twice !== undefined) throw new OperationError('bad_request', `body.personas: "${twice}" is named twice`);
      let started;
      try {
        started = await startScreenplay(ctx, {
          plot,
          personaNames,
          title: body.title?.trim() || undefined,
          story: body.storyId,
          maxTokens: body.maxTokens,
          variants: body.variants,
          model: parseScreenplayModel('body.model', body.model),
          useCache: body.useCache,
        });
      } catch (err) {
        // Unknown personas: nothing stored, nothing started; the closest names as `GET /api/personas/contexts` gives them.
        if (!(err instanceof UnknownPersonasRefusal)) throw err;
        return reply.code(404).send({ error: { code: err.code, message: err.message, unknown: err.unknown } });
      }
      const { workflowId, storyId, handle } = started;
      return sendStarted(reply, ctx, { workflowId, runId: handle.firstExecutionRunId }, { storyId: storyId ?? null }, screenplayUrls(ctx, workflowId));
    },
  );

  app.get<{ Params: { workflowId: string } }>(
    '/api/screenplays/:workflowId/stream',
    {
      schema: {
        summary:
          'Server-Sent Events: the screenplay as it is written (`delta` per piece of text; `start`, `restart`, `done`, `failed` per variant), ' +
          "the run's `progress`, then one `final`. Text sent before the client connected is not replayed.",
        tags: ['screenplays'],
        security: bearerSecurity,
        params: workflowIdParams,
        produces: ['text/event-stream'],
        response: { 200: { type: 'string', description: 'text/event-stream' }, 401: errorSchema, 404: errorSchema, 503: errorSchema },
      },
    },
    async (request, reply) => {
      const { workflowId } = request.params;
      let type: string;
      try {
        // A describe only: the progress query waits for a worker, the stream must not (a run queued before any worker streams too).
        type = (await (await ctx.client()).workflow.getHandle(workflowId).describe()).type;
      } catch (err) {
        if (err instanceof WorkflowNotFoundError) throw new ApiError(404, 'not_found', `No workflow ${workflowId}.`);
        throw err;
      }
      if (type !== 'generateScreenplay') throw new ApiError(404, 'not_found', `Workflow ${workflowId} is not a screenplay run (it is ${type}): its events are at /api/runs/:workflowId/events.`);
      const lastEventId = request.headers['last-event-id'];

      // Listening before the response starts: a client that has the headers hears every delta sent after.
      const streaming = new Set<number>();
      const early: StreamEvent[] = [];
      let open: SseStream | undefined;
      const relay = (to: SseStream, event: StreamEvent) => {
        if (event.type === 'start' || event.type === 'delta') streaming.add(event.variant);
        else if (event.type === 'done' || event.type === 'failed') streaming.delete(event.variant);
        // Deltas carry no id: they cannot be resumed (they are not stored until the version is saved).
        const { type: name, ...data } = event;
        to.send({ event: name, data });
      };
      const unlisten = await ctx.streams.watch(workflowId, (event) => (open ? relay(open, event) : early.push(event)));
      const stream = openSse(request, reply);
      open = stream;
      for (const event of early) relay(stream, event);

      let finishing = false;
      const finish = async (event: RunEvent) => {
        finishing = true;
        const deadline = Date.now() + TRAILING_DELTAS_MS;
        while (streaming.size && !stream.closed && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
        stream.send({ id: event.id, event: event.type, data: event.data });
        stream.close();
      };
      const unwatch = ctx.watches.watch(workflowId, (event) => {
        if (finishing) return;
        if (event.type === 'progress') {
          // A reconnecting client already has this state: send only what is newer.
          if (event.id !== lastEventId) stream.send({ id: event.id, event: event.type, data: event.data });
          return;
        }
        finish(event).catch(() => stream.close());
      });
      stream.onClose(() => {
        unwatch();
        unlisten();
      });
    },
  );
};
