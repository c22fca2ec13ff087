/**
 * Screenplays: `POST /api/screenplays/generate` (a generateScreenplay run, 202) and
 * `GET /api/screenplays/:workflowId/stream`, a Server-Sent Events stream of the run's text as it
 * is written (the deltas the CLI's `generate --wait` prints, relayed from the run's Postgres
 * channel), with the run's progress and its final event. The stored stories read back as
 * `storyloom screenplays list | show | export` reads them: `GET /api/screenplays` (a page of
 * stories), `GET /api/screenplays/:storyId` (plot, personas, versions without their text) and
 * `GET /api/screenplays/:storyId/versions/:version` (a version's Fountain, or JSON on request).
 */
import { WorkflowNotFoundError } from '@temporalio/client';
import type { FastifyRequest } from 'fastify';
import { ScreenplayRepository, type VersionListing } from '../db/repositories/screenplay.repository';
import type { StreamEvent } from '../db/stream-channel';
import { MAX_PERSONA_NAME } from '../domain/generation/personas';
import { OperationError } from '../operations/context';
import { parseModelChoice } from '../operations/model-choice';
import { decodePlot, MAX_PERSONAS, MAX_PLOT_BYTES, MAX_SCREENPLAY_TITLE_LENGTH, startScreenplay, UnknownPersonasRefusal } from '../operations/start-screenplay';
import { unknownPersonasSchema } from './personas.routes';
import { MAX_LIST_OFFSET, SCREENPLAY_LIST_LIMIT } from '../shared/list-limits';
import { DEFAULT_MAX_TOKENS, MAX_VARIANTS, type VariantResult } from '../shared/screenplay';
import { ApiError, errorSchema, UUID_PATTERN } from './errors';
import type { ApiContext } from './context';
import { withTimeout } from './with-timeout';
import type { RunEvent } from './run-watch';
import { bearerSecurity, runUrlsSchema, sendStarted, startedRunSchema, workflowIdParams, type ApiRoutes } from './routes';
import { openSse, type SseStream } from './sse';
import { oneLineProblem } from '../shared/one-line';

interface GenerateBody {
  plot?: string;
  personas?: string[];
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

/** The most a version number can be (its column is a Postgres integer), as `screenplays show --version` takes it. */
const MAX_VERSION = 2 ** 31 - 1;

/** Where a version's text is read. */
function screenplayVersionUrl(storyId: string, version: number): string {
  return `/api/screenplays/${encodeURIComponent(storyId)}/versions/${version}`;
}

const storyIdParams = {
  type: 'object',
  required: ['storyId'],
  properties: { storyId: { type: 'string', pattern: UUID_PATTERN, description: 'The story id (a UUID: the run\'s result and `done` events name it)' } },
} as const;

const castSchema = {
  type: 'array',
  description: 'Characters of the screenplay, each with the persona written for it (null: none)',
  items: { type: 'object', properties: { character: { type: 'string' }, persona: { type: ['string', 'null'] } } },
} as const;

/** A version without its text: the story's version list and the JSON of one version share it. */
const versionSchemaProperties = {
  version: { type: 'integer' },
  createdAt: { type: 'string' },
  provider: { type: 'string' },
  model: { type: 'string' },
  inputTokens: { type: ['integer', 'null'] },
  outputTokens: { type: ['integer', 'null'] },
  cached: { type: ['boolean', 'null'], description: 'The reply came from the LLM response cache (null: not recorded)' },
  truncated: { type: 'boolean', description: 'Cut at max_tokens after the continuations allowed' },
  continuations: { type: 'integer' },
  scenes: { type: ['integer', 'null'] },
  costUsd: { type: ['number', 'null'] },
  workflowId: { type: ['string', 'null'], description: 'The generateScreenplay run that saved it' },
  scriptId: { type: ['string', 'null'], description: 'The script it was imported as for ingestion' },
  cast: castSchema,
  url: { type: 'string', description: 'Its text' },
} as const;

/** A version's figures as the API answers them (those its stats did not record are null). */
function versionJson(storyId: string, v: VersionListing) {
  const stats = v.stats as Partial<VariantResult>;
  return {
    version: v.version,
    createdAt: v.createdAt.toISOString(),
    provider: v.provider,
    model: v.model,
    inputTokens: stats.inputTokens ?? null,
    outputTokens: stats.outputTokens ?? null,
    cached: stats.cached ?? null,
    truncated: v.truncated,
    continuations: v.continuations,
    scenes: stats.scenes ?? null,
    costUsd: stats.costUsd ?? null,
    workflowId: v.workflowId,
    scriptId: v.scriptId,
    cast: v.cast,
    url: screenplayVersionUrl(storyId, v.version),
  };
}

/** `latest` → undefined (the highest number), a number → itself; anything else is a 400 naming the field. */
function versionParam(raw: string): number | undefined {
  if (raw === 'latest') return undefined;
  if (/^[1-9]\d{0,9}$/.test(raw) && Number(raw) <= MAX_VERSION) return Number(raw);
  throw new ApiError(400, 'invalid_request', `params.version must be a version number (1 to ${MAX_VERSION}) or "latest"`);
}

/** How an Accept header takes `type`: the quality of its most specific matching range, and where that range stands in the header. */
function acceptance(accept: string, type: string): { q: number; at: number } {
  const anyOfKind = `${type.split('/')[0]}/*`;
  let best = { specificity: -1, q: 0, at: Infinity };
  accept.split(',').forEach((range, at) => {
    const [media, ...params] = range.split(';').map((part) => part.trim().toLowerCase());
    const specificity = media === type ? 2 : media === anyOfKind ? 1 : media === '*/*' ? 0 : -1;
    if (specificity <= best.specificity) return;
    const q = params.find((p) => /^q\s*=/.test(p));
    const quality = q === undefined ? 1 : Number(q.slice(q.indexOf('=') + 1));
    best = { specificity, q: Number.isFinite(quality) ? Math.min(Math.max(quality, 0), 1) : 0, at };
  });
  return { q: best.q, at: best.at };
}

/**
 * Whether a request asks for JSON rather than plain text: JSON's quality is higher, or equal and
 * named first (`Accept: application/json, text/plain`). No Accept, `*\/*` or a browser's header
 * gets plain text.
 */
function prefersJson(request: FastifyRequest): boolean {
  const accept = request.headers.accept;
  if (!accept) return false;
  const json = acceptance(accept, 'application/json');
  const text = acceptance(accept, 'text/plain');
  return json.q > text.q || (json.q === text.q && json.q > 0 && json.at < text.at);
}

export const screenplaysRoutes: ApiRoutes = async (app, { ctx }) => {
  app.post<{ Body: GenerateBody }>(
    '/api/screenplays/generate',
    {
      // The plot may be up to MAX_PLOT_BYTES: room for it and the rest of the body.
      bodyLimit: Math.max(ctx.config.api.jsonBodyLimitBytes, MAX_PLOT_BYTES + 16 * 1024),
      // The plot gets a plot file's text checks (a NUL: "looks like a binary file"), not the generic NUL refusal.
      config: { ownTextChecks: ['body.plot'] },
      schema: {
        summary: 'Generate a screenplay from a plot and personas (202 with the run; its text streams at urls.stream)',
        tags: ['screenplays'],
        security: bearerSecurity,
        body: {
          type: 'object',
          additionalProperties: false,
          properties: {
            plot: { type: 'string', minLength: 1, maxLength: MAX_PLOT_BYTES, description: "The plot, in prose (required for a new story; a new version takes its story's by default)" },
            personas: {
              type: 'array',
              minItems: 1,
              maxItems: MAX_PERSONAS,
              uniqueItems: true,
              items: { type: 'string', minLength: 1, maxLength: MAX_PERSONA_NAME },
              description:
                "Persona names (unknown ones are a 404 with the closest names, as `GET /api/personas/contexts?names=…` answers); required for a new story, a new version takes those of its story's latest run by default",
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
      // A new version of a story takes its plot and personas unless given others; a new story needs both.
      if (body.storyId === undefined && body.plot === undefined) throw new OperationError('bad_request', 'body.plot is required (a new version of a story, with "storyId", takes its plot)');
      if (body.storyId === undefined && body.personas === undefined) throw new OperationError('bad_request', 'body.personas is required (a new version of a story, with "storyId", takes its personas)');
      // The checks a plot file gets (and an imported screenplay): a NUL character, whitespace only, … are a 400, nothing written.
      const plot = body.plot === undefined ? undefined : decodePlot(Buffer.from(body.plot, 'utf8'), 'body.plot');
      // As `storyloom generate --title " "` refuses it: a blank title would name a story no title finds.
      if (body.title !== undefined && !body.title.trim()) throw new OperationError('bad_request', 'body.title must not be blank (leave it out for the default title)');
      const notOneLine = body.title === undefined ? undefined : oneLineProblem(body.title);
      if (notOneLine) throw new OperationError('bad_request', `body.title ${notOneLine}`);
      const personaNames = body.personas?.map((p) => p.trim());
      if (personaNames?.some((p) => !p)) throw new OperationError('bad_request', 'body.personas: a name is empty');
      // As `storyloom generate` refuses it: names equal once trimmed ("Mara Quill", " Mara Quill") are one persona named twice.
      const twice = personaNames?.find((p, i) => personaNames.indexOf(p) !== i);
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
          model: parseModelChoice('body.model', body.model),
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
          "the run's `progress`, then one `final`. Text sent before the client connected is not replayed: a `done` names the story and the saved version's URL (`storyId`, `url`).",
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
      let runId: string;
      try {
        // A describe only: the progress query waits for a worker, the stream must not (a run queued before any worker streams too).
        ({ type, runId } = await (await ctx.client()).workflow.getHandle(workflowId).describe());
      } catch (err) {
        if (err instanceof WorkflowNotFoundError) throw new ApiError(404, 'not_found', `No workflow ${workflowId}.`);
        throw err;
      }
      if (type !== 'generateScreenplay') throw new ApiError(404, 'not_found', `Workflow ${workflowId} is not a screenplay run (it is ${type}): its events are at /api/runs/:workflowId/events.`);
      const lastEventId = request.headers['last-event-id'];

      // A `done` names the story its version was saved to, so a client that missed text can read it
      // whole: the run's story, read once, at the first `done` (the run's row is written before any
      // variant starts). Not read in time (Postgres away), the `done` goes as the run sent it.
      let runStory: Promise<string | undefined> | undefined;
      const storyOfRun = async (): Promise<string | undefined> => {
        runStory ??= withTimeout(ctx.db().then((db) => new ScreenplayRepository(db).runStoryId(`${workflowId}/${runId}`)), TRAILING_DELTAS_MS, "the run's story").catch(() => undefined);
        const storyId = await runStory;
        if (storyId === undefined) runStory = undefined;
        return storyId;
      };

      // Listening before the response starts: a client that has the headers hears every delta sent after.
      const streaming = new Set<number>();
      const early: StreamEvent[] = [];
      let open: SseStream | undefined;
      // Events go out in the order sent: those after a `done` wait while it reads the story id.
      let relayed: Promise<void> = Promise.resolve();
      const relay = (to: SseStream, event: StreamEvent) => {
        if (event.type === 'start' || event.type === 'delta') streaming.add(event.variant);
        else if (event.type === 'done' || event.type === 'failed') streaming.delete(event.variant);
        // Deltas carry no id: they cannot be resumed (they are not stored until the version is saved).
        const { type: name, ...data } = event;
        relayed = relayed
          .then(async () => {
            if (event.type !== 'done') return to.send({ event: name, data });
            const storyId = await storyOfRun();
            to.send({ event: name, data: storyId ? { ...data, storyId, url: screenplayVersionUrl(storyId, event.version) } : data });
          })
          .catch(() => undefined);
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
        await relayed;
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

  app.get<{ Querystring: { limit: number; offset: number } }>(
    '/api/screenplays',
    {
      schema: {
        summary: 'Screenplay stories, the most recently written first, a page at a time (total: how many in all), each with its latest version and its cast',
        tags: ['screenplays'],
        security: bearerSecurity,
        querystring: {
          type: 'object',
          additionalProperties: false,
          properties: {
            limit: { type: 'integer', minimum: 1, maximum: SCREENPLAY_LIST_LIMIT.max, default: SCREENPLAY_LIST_LIMIT.default },
            offset: { type: 'integer', minimum: 0, maximum: MAX_LIST_OFFSET, default: 0 },
          },
        },
        response: {
          200: {
            type: 'object',
            properties: {
              total: { type: 'integer' },
              stories: {
                type: 'array',
                items: {
                  type: 'object',
                  properties: {
                    id: { type: 'string' },
                    title: { type: 'string' },
                    versions: { type: 'integer' },
                    updatedAt: { type: 'string' },
                    latestVersion: { type: ['integer', 'null'] },
                    latestCreatedAt: { type: ['string', 'null'] },
                    cast: { ...castSchema, description: "The latest version's characters, each with the persona written for it (null: none)" },
                    url: { type: 'string' },
                  },
                },
              },
            },
          },
          400: errorSchema,
          401: errorSchema,
        },
      },
    },
    async (request) => {
      const { total, stories } = await new ScreenplayRepository(await ctx.db()).pageStories(request.query);
      return {
        total,
        stories: stories.map((s) => ({
          ...s,
          updatedAt: s.updatedAt.toISOString(),
          latestCreatedAt: s.latestCreatedAt?.toISOString() ?? null,
          url: `/api/screenplays/${encodeURIComponent(s.id)}`,
        })),
      };
    },
  );

  app.get<{ Params: { storyId: string } }>(
    '/api/screenplays/:storyId',
    {
      schema: {
        summary: 'One screenplay story: its plot, the personas cast in it, and its versions (figures, cast, the run that made each) without their text',
        tags: ['screenplays'],
        security: bearerSecurity,
        params: storyIdParams,
        response: {
          200: {
            type: 'object',
            properties: {
              id: { type: 'string' },
              title: { type: 'string' },
              plot: { type: 'string' },
              createdAt: { type: 'string' },
              updatedAt: { type: 'string' },
              personas: { type: 'array', items: { type: 'string' }, description: 'The personas cast in any of its versions, by name' },
              versions: { type: 'array', items: { type: 'object', properties: versionSchemaProperties } },
            },
          },
          400: errorSchema,
          401: errorSchema,
          404: errorSchema,
        },
      },
    },
    async (request) => {
      const { storyId } = request.params;
      const repo = new ScreenplayRepository(await ctx.db());
      const [story, versions] = await Promise.all([repo.storyById(storyId), repo.storyVersions(storyId)]);
      if (!story) throw new ApiError(404, 'not_found', `No story ${storyId}: GET /api/screenplays lists them.`);
      const personas = [...new Set(versions.flatMap((v) => v.cast.map((c) => c.persona)).filter((p): p is string => p !== null))].sort((a, b) => a.localeCompare(b));
      return {
        id: story.id,
        title: story.title,
        plot: story.plot,
        createdAt: story.createdAt.toISOString(),
        updatedAt: story.updatedAt.toISOString(),
        personas,
        versions: versions.map((v) => versionJson(story.id, v)),
      };
    },
  );

  app.get<{ Params: { storyId: string; version: string } }>(
    '/api/screenplays/:storyId/versions/:version',
    {
      schema: {
        summary:
          "One version's screenplay: Fountain as text/plain (as `storyloom screenplays export` writes it), " +
          'or its figures and `text` as JSON with `Accept: application/json`; `latest` for the highest version',
        tags: ['screenplays'],
        security: bearerSecurity,
        params: {
          type: 'object',
          required: ['storyId', 'version'],
          properties: { ...storyIdParams.properties, version: { type: 'string', minLength: 1, description: 'A version number (1, 2, …) or `latest`' } },
        },
        produces: ['text/plain', 'application/json'],
        response: {
          200: {
            description: 'The Fountain text, or (Accept: application/json) the version with its text',
            content: {
              'text/plain': { schema: { type: 'string' } },
              'application/json': {
                schema: {
                  type: 'object',
                  properties: { storyId: { type: 'string' }, title: { type: 'string' }, ...versionSchemaProperties, text: { type: 'string', description: 'The saved text, as its deltas add up to' } },
                },
              },
            },
          },
          400: errorSchema,
          401: errorSchema,
          404: errorSchema,
        },
      },
    },
    async (request, reply) => {
      const { storyId } = request.params;
      const wanted = versionParam(request.params.version);
      const repo = new ScreenplayRepository(await ctx.db());
      // The row `screenplays export` writes: the same text, whichever way it is asked for.
      const row = await repo.version(storyId, wanted);
      reply.header('vary', 'Accept');
      if (!row) {
        const story = await repo.storyById(storyId);
        if (!story) throw new ApiError(404, 'not_found', `No story ${storyId}: GET /api/screenplays lists them.`);
        throw new ApiError(404, 'not_found', `Story "${story.title}" has no version ${wanted ?? 'yet'}: GET /api/screenplays/${story.id} lists its versions.`);
      }
      if (!prefersJson(request)) {
        // As the export writes it: a file that ends with a newline.
        return reply.type('text/plain; charset=utf-8').send(row.fountain.endsWith('\n') ? row.fountain : `${row.fountain}\n`);
      }
      const [listing] = await repo.storyVersions(row.storyId, row.version);
      // Its story deleted between the two reads.
      if (!listing) throw new ApiError(404, 'not_found', `No story ${storyId}: GET /api/screenplays lists them.`);
      return reply.type('application/json; charset=utf-8').send({ storyId: row.storyId, title: row.title, ...versionJson(row.storyId, listing), text: row.fountain });
    },
  );
};
