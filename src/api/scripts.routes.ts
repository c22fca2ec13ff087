/**
 * Scripts: upload (the same parsing, limits and refusals as `storyloom import`), list, read and
 * search. An upload is a Fountain or FDX file as the raw body or as one multipart file.
 */
import multipart from '@fastify/multipart';
import type { FastifyRequest } from 'fastify';
import { AnalysisRepository } from '../db/repositories/analysis.repository';
import { RunRepository } from '../db/repositories/run.repository';
import { ScriptCatalogRepository } from '../db/repositories/script-catalog.repository';
import { MAX_SCREENPLAY_BYTES } from '../domain/screenplay';
import { OperationError } from '../operations/context';
import { importScreenplayBytes, IngestionRunningError, MAX_SCRIPT_TITLE_CHARS, scriptTitleProblem } from '../operations/import-script';
import { searchScenes } from '../operations/search-scenes';
import { ingestionWorkflowId } from '../shared/ingestion';
import { MAX_LIST_OFFSET, SCENE_SEARCH_LIMIT, SCENE_SEARCH_TEXT_MAX, SCRIPT_LIST_LIMIT } from '../shared/list-limits';
import type { ApiContext } from './context';
import { ApiError, errorSchema, UUID_PATTERN } from './errors';
import { bearerSecurity, runConflictSchema, scriptIdParams, type ApiRoutes } from './routes';

/** The multipart field that carries the screenplay. */
const UPLOAD_FIELD = 'file';

/** Content types taken as a raw screenplay body. */
export const UPLOAD_CONTENT_TYPES = ['text/plain', 'text/x-fountain', 'text/fountain', 'text/xml', 'application/xml', 'application/octet-stream'];

/** The upload's refusals (the statuses every route of its kind answers are added for all: src/api/openapi.ts). */
const errors = { 400: errorSchema, 401: errorSchema, 404: errorSchema, 409: errorSchema, 413: errorSchema, 415: errorSchema };

/**
 * An upload's 409: a title another script has, or the script's ingestion running (then the run's
 * id, Web UI link and URLs, as a start refused with `already_running` carries them).
 */
const uploadConflictSchema = runConflictSchema('conflict', 'The running ingestion of the script (when that is the conflict)');
/** A script's reads. */
const readErrors = { 400: errorSchema, 401: errorSchema, 404: errorSchema };

const scriptSummarySchema = {
  type: 'object',
  properties: {
    id: { type: 'string' },
    title: { type: 'string' },
    format: { type: 'string' },
    sourceName: { type: 'string' },
    scenes: { type: 'integer' },
    characters: { type: 'integer' },
    createdAt: { type: 'string' },
    updatedAt: { type: 'string' },
  },
} as const;

const importResultSchema = {
  type: 'object',
  properties: {
    scriptId: { type: 'string' },
    title: { type: 'string' },
    created: { type: 'boolean' },
    scenes: { type: 'integer' },
    characters: { type: 'integer' },
    changedScenes: { type: 'integer' },
    unchangedScenes: { type: 'integer' },
    removedScenes: { type: 'integer' },
    movedScenes: { type: 'integer' },
    urls: { type: 'object', properties: { script: { type: 'string' }, ingestions: { type: 'string' } } },
  },
} as const;

interface UploadQuery {
  title?: string;
  scriptId?: string;
  fileName?: string;
}

/** The upload's options, in the query or (multipart) as form fields: the most characters each takes. */
const UPLOAD_OPTION_MAX_LENGTH: Record<keyof UploadQuery, number> = { title: MAX_SCRIPT_TITLE_CHARS, scriptId: 100, fileName: 255 };
const FORM_FIELDS = Object.keys(UPLOAD_OPTION_MAX_LENGTH) as (keyof UploadQuery)[];

/** A script id, as the routes' schemas take it (scriptIdParams). */
const SCRIPT_ID = new RegExp(UUID_PATTERN);

/**
 * The uploaded bytes, their name and the import's options: from a raw body and the query, or
 * from a multipart request's one `file` part and its form fields (`title`, `scriptId`,
 * `fileName`, as in the query; one given both ways must agree). Any other part is refused, so
 * nothing sent is silently ignored.
 */
async function uploadedFile(request: FastifyRequest<{ Querystring: UploadQuery }>): Promise<{ bytes: Buffer; fileName: string; options: UploadQuery }> {
  const options: UploadQuery = { ...request.query };
  if (!request.isMultipart()) {
    if (!Buffer.isBuffer(request.body)) {
      throw new ApiError(400, 'bad_request', 'No file: send a Fountain or FDX file as the request body (Content-Type text/plain or application/xml) or as multipart/form-data.');
    }
    return { bytes: request.body, fileName: options.fileName || 'upload', options };
  }
  let file: { bytes: Buffer; name: string } | undefined;
  try {
    file = await readParts(request, options);
  } catch (err) {
    // The plugin's limits (a second file, more fields than the upload takes) are refusals of what
    // was sent, not of its size: a 400 that says what the upload takes.
    const code = (err as { code?: string }).code;
    if (code === 'FST_FILES_LIMIT') throw new ApiError(400, 'bad_request', `The multipart request holds more than one file: send one screenplay as the "${UPLOAD_FIELD}" part; nothing was written.`);
    if (code === 'FST_FIELDS_LIMIT' || code === 'FST_PARTS_LIMIT') {
      throw new ApiError(400, 'bad_request', `The multipart request holds more fields than the upload takes (${FORM_FIELDS.join(', ')}, each once, and the "${UPLOAD_FIELD}" part); nothing was written.`);
    }
    throw err;
  }
  if (!file) throw new ApiError(400, 'bad_request', `The multipart request holds no file: send the screenplay as its "${UPLOAD_FIELD}" part.`);
  // A fileName given names the file (its extension chooses the format): the part's own name is
  // often only what the client library put there ("blob").
  return { bytes: file.bytes, fileName: options.fileName || file.name || 'upload', options };
}

/** The multipart request's file part and form fields (these into `options`). */
async function readParts(request: FastifyRequest<{ Querystring: UploadQuery }>, options: UploadQuery): Promise<{ bytes: Buffer; name: string } | undefined> {
  let file: { bytes: Buffer; name: string } | undefined;
  for await (const part of request.parts({ limits: { fileSize: MAX_SCREENPLAY_BYTES, files: 1, fields: FORM_FIELDS.length } })) {
    if (part.type === 'file') {
      // Only the documented field: a file sent under another name was meant as something else (or mistyped).
      if (part.fieldname !== UPLOAD_FIELD) {
        part.file.resume();
        throw new ApiError(400, 'bad_request', `The multipart request's file is in the field "${part.fieldname}": send the screenplay as its "${UPLOAD_FIELD}" part; nothing was written.`);
      }
      const bytes = await part.toBuffer();
      // Cut at the limit: refused like a raw body over it (the plugin's own check can miss the last chunk).
      if (part.file.truncated) {
        throw new ApiError(413, 'payload_too_large', `${part.filename || 'The file'}: the file is larger than the ${MAX_SCREENPLAY_BYTES / 1024 / 1024} MB limit; nothing was written.`);
      }
      file = { bytes, name: part.filename };
      continue;
    }
    const name = part.fieldname as keyof UploadQuery;
    if (!FORM_FIELDS.includes(name)) {
      throw new ApiError(400, 'bad_request', `The multipart field "${part.fieldname}" is not one this upload takes (${FORM_FIELDS.join(', ')} and the "${UPLOAD_FIELD}" part); nothing was written.`);
    }
    const value = String(part.value);
    if (!value || value.length > UPLOAD_OPTION_MAX_LENGTH[name]) {
      throw new ApiError(400, 'bad_request', `The multipart field "${name}" must be 1 to ${UPLOAD_OPTION_MAX_LENGTH[name]} characters; nothing was written.`);
    }
    // As the query's scriptId (its schema): a malformed id is a 400, as in any path.
    if (name === 'scriptId' && !SCRIPT_ID.test(value)) throw new ApiError(400, 'bad_request', 'The multipart field "scriptId" must be a UUID; nothing was written.');
    if (options[name] !== undefined && options[name] !== value) {
      const first = request.query[name] !== undefined ? `the query's "${options[name]}"` : `"${options[name]}"`;
      throw new ApiError(400, 'bad_request', `"${name}" is given twice, as ${first} and the form's "${value}"; nothing was written.`);
    }
    options[name] = value;
  }
  return file;
}

/** The script of a path's id (any case: ids are stored in lower case), or 404. */
async function scriptOr404(ctx: ApiContext, rawId: string) {
  const id = rawId.toLowerCase();
  const script = await new ScriptCatalogRepository(await ctx.db()).get(id);
  if (!script) throw new ApiError(404, 'not_found', `No script ${id}.`);
  return script;
}

export const scriptRoutes: ApiRoutes = async (app, { ctx }) => {
  // Uploads take raw screenplay bytes or multipart, nothing else (JSON is a 415 here).
  await app.register(async (upload) => {
    upload.removeAllContentTypeParsers();
    upload.addContentTypeParser(UPLOAD_CONTENT_TYPES, { parseAs: 'buffer' }, (_request, body, done) => done(null, body));
    await upload.register(multipart, { throwFileSizeLimit: true });
    upload.post<{ Querystring: UploadQuery }>(
      '/api/scripts',
      {
        bodyLimit: MAX_SCREENPLAY_BYTES,
        schema: {
          summary: 'Upload a Fountain or FDX screenplay (raw body, or multipart: the "file" part, and title, scriptId, fileName as form fields or in the query)',
          description: `The limit is ${MAX_SCREENPLAY_BYTES} bytes. A script with the same title (or scriptId) is updated; nothing is written on any refusal.`,
          tags: ['scripts'],
          security: bearerSecurity,
          consumes: [...UPLOAD_CONTENT_TYPES, 'multipart/form-data'],
          querystring: {
            type: 'object',
            additionalProperties: false,
            properties: {
              title: { type: 'string', minLength: 1, maxLength: UPLOAD_OPTION_MAX_LENGTH.title },
              scriptId: { type: 'string', pattern: UUID_PATTERN, description: 'Update this script (its id, a UUID); it must exist' },
              fileName: { type: 'string', minLength: 1, maxLength: UPLOAD_OPTION_MAX_LENGTH.fileName, description: 'Names the file (its extension chooses the format); for multipart, instead of the part\'s own file name' },
            },
          },
          response: { 200: importResultSchema, 201: importResultSchema, ...errors, 409: uploadConflictSchema },
        },
      },
      async (request, reply) => {
        const uploaded = await uploadedFile(request);
        const { bytes, options } = uploaded;
        // The name only, as `storyloom import` stores a file's: a client's directories ("../../x.fountain") name nothing here.
        const fileName = uploaded.fileName.split(/[\\/]/).pop() || 'upload';
        // As `storyloom import --title` refuses the same titles.
        const titleProblem = options.title === undefined ? undefined : scriptTitleProblem(options.title);
        if (titleProblem) throw new ApiError(400, 'bad_request', `title ${titleProblem}; nothing was written.`);
        let result;
        try {
          result = await importScreenplayBytes(ctx, bytes, fileName, { title: options.title, scriptId: options.scriptId?.toLowerCase(), label: fileName });
        } catch (err) {
          if (!(err instanceof IngestionRunningError)) throw err;
          const { workflowId } = err;
          const urls = ctx.runUrls(workflowId);
          // What to do, said in the API's terms (the CLI's message names its commands).
          const message = `${err.situation} Wait for it (GET ${urls.status}) or cancel it (POST ${urls.cancel}), then upload again.`;
          return reply.code(409).send({ error: { code: 'conflict', message, workflowId, webUi: ctx.webUi(workflowId), urls } });
        }
        const url = `/api/scripts/${result.scriptId}`;
        return reply.code(result.created ? 201 : 200).header('location', url).send({ ...result, urls: { script: url, ingestions: `${url}/ingestions` } });
      },
    );
  });

  app.get<{ Querystring: { limit: number; offset: number } }>(
    '/api/scripts',
    {
      schema: {
        summary: 'Scripts, newest first',
        tags: ['scripts'],
        security: bearerSecurity,
        querystring: {
          type: 'object',
          additionalProperties: false,
          properties: { limit: { type: 'integer', minimum: 1, maximum: SCRIPT_LIST_LIMIT.max, default: SCRIPT_LIST_LIMIT.default }, offset: { type: 'integer', minimum: 0, maximum: MAX_LIST_OFFSET, default: 0 } },
        },
        response: { 200: { type: 'object', properties: { total: { type: 'integer' }, scripts: { type: 'array', items: scriptSummarySchema } } }, 400: errorSchema, 401: errorSchema },
      },
    },
    async (request) => new ScriptCatalogRepository(await ctx.db()).list(request.query.limit, request.query.offset),
  );

  app.get<{ Params: { id: string } }>(
    '/api/scripts/:id',
    {
      schema: {
        summary: 'One script: scenes (with summaries), characters, outline, character sheets, last ingestion',
        tags: ['scripts'],
        security: bearerSecurity,
        params: scriptIdParams,
        response: {
          200: {
            type: 'object',
            properties: {
              ...scriptSummarySchema.properties,
              scenes: { type: 'array', items: { type: 'object', properties: { position: { type: 'integer' }, heading: { type: 'string' }, sceneNumber: { type: ['string', 'null'] }, summary: { type: ['string', 'null'] } } } },
              characters: { type: 'array', items: { type: 'object', properties: { name: { type: 'string' }, scenes: { type: 'integer' } } } },
              outline: { type: ['object', 'null'], properties: { outline: { type: 'string' }, model: { type: 'string' }, sections: { type: 'integer' } } },
              sheets: { type: 'array', items: { type: 'object', properties: { name: { type: 'string' }, sheet: { type: 'object', additionalProperties: true } } } },
              lastIngestion: { type: ['object', 'null'], properties: { workflowId: { type: 'string' }, status: { type: 'string' }, startedAt: { type: 'string' }, result: { type: ['object', 'null'], additionalProperties: true } } },
            },
          },
          ...readErrors,
        },
      },
    },
    async (request) => {
      const script = await scriptOr404(ctx, request.params.id);
      const db = await ctx.db();
      const catalog = new ScriptCatalogRepository(db);
      const analysis = new AnalysisRepository(db);
      const [scenes, characters, outline, sheets, last] = await Promise.all([
        catalog.scenes(script.id),
        catalog.characters(script.id),
        analysis.outline(script.id),
        analysis.sheets(script.id),
        new RunRepository(db).lastIngestionRun(script.id),
      ]);
      return {
        ...script,
        scenes,
        characters,
        outline: outline ?? null,
        sheets,
        lastIngestion: last ? { workflowId: ingestionWorkflowId(script.id), status: last.status, startedAt: last.startedAt.toISOString(), result: last.result } : null,
      };
    },
  );

  app.get<{ Params: { id: string }; Querystring: { q: string; limit: number } }>(
    '/api/scripts/:id/search',
    {
      schema: {
        summary: "Scenes ranked by similarity to q (the scenes' embeddings; the script must be ingested)",
        tags: ['scripts'],
        security: bearerSecurity,
        params: scriptIdParams,
        querystring: {
          type: 'object',
          required: ['q'],
          additionalProperties: false,
          properties: { q: { type: 'string', minLength: 1, maxLength: SCENE_SEARCH_TEXT_MAX }, limit: { type: 'integer', minimum: 1, maximum: SCENE_SEARCH_LIMIT.max, default: SCENE_SEARCH_LIMIT.default } },
        },
        response: {
          200: {
            type: 'object',
            properties: {
              matches: { type: 'array', items: { type: 'object', properties: { score: { type: 'number' }, position: { type: 'integer' }, heading: { type: 'string' }, summary: { type: 'string' } } } },
            },
          },
          ...readErrors,
          // The query's embedding is this request's own provider call: refused or failed (502), rate limited (503 llm_rate_limited, with Retry-After), too slow (504 llm_timeout).
          502: errorSchema,
          503: { ...errorSchema, description: 'Temporal or Postgres cannot be reached, or the provider rate limited the query embedding (`llm_rate_limited`, with Retry-After)' },
          504: errorSchema,
        },
      },
    },
    async (request) => {
      const script = await scriptOr404(ctx, request.params.id);
      if (!request.query.q.trim()) throw new OperationError('bad_request', 'querystring.q must not be blank');
      return { matches: await searchScenes(ctx, await ctx.llm(), script, request.query.q, request.query.limit) };
    },
  );
};
