/** `POST /api/scripts/:id/ingestions`: starts a script's ingestion and answers at once (202). */
import { DEFAULT_CONCURRENCY, DEFAULT_FLAGS, MAX_CONCURRENCY, type IngestionConcurrency, type IngestionFlags, type IngestionMode } from '../shared/ingestion';
import { ScriptCatalogRepository } from '../db/repositories/script-catalog.repository';
import { IngestionAlreadyRunningError, startIngestion } from '../operations/start-ingestion';
import { ApiError, errorSchema } from './errors';
import { optionalJsonBody } from './openapi';
import { alreadyRunningSchema, bearerSecurity, sendAlreadyRunning, sendStarted, scriptIdParams, startedRunSchema, type ApiRoutes } from './routes';

interface IngestionBody {
  flags?: Partial<IngestionFlags>;
  concurrency?: Partial<IngestionConcurrency>;
  mode?: IngestionMode;
}

const concurrencyProperty = { type: 'integer', minimum: 1, maximum: MAX_CONCURRENCY } as const;

/** The body's schema: every flag, both limits and the mode optional; nothing else allowed. */
export const ingestionBodySchema = {
  type: 'object',
  additionalProperties: false,
  properties: {
    flags: {
      type: 'object',
      additionalProperties: false,
      description: 'Each on by default',
      properties: Object.fromEntries(Object.keys(DEFAULT_FLAGS).map((k) => [k, { type: 'boolean' }])),
    },
    concurrency: {
      type: 'object',
      additionalProperties: false,
      description: `Calls in flight (default summaries ${DEFAULT_CONCURRENCY.summaries}, sheets ${DEFAULT_CONCURRENCY.sheets})`,
      properties: { summaries: concurrencyProperty, sheets: concurrencyProperty },
    },
    mode: { type: 'string', enum: ['full', 'partial'], description: 'Default: partial (what is not current is made, reading the cache); full remakes everything past the cache' },
  },
} as const;

export const ingestionRoutes: ApiRoutes = async (app, { ctx }) => {
  app.post<{ Params: { id: string }; Body: IngestionBody | undefined }>(
    '/api/scripts/:id/ingestions',
    {
      // No body is the defaults (the document says the body is optional).
      ...optionalJsonBody,
      schema: {
        summary: "Start the script's ingestion (202 with the workflow id, Web UI link and run URLs; 409 when one runs)",
        tags: ['ingestions'],
        security: bearerSecurity,
        params: scriptIdParams,
        body: ingestionBodySchema,
        response: {
          202: startedRunSchema({
            mode: { type: 'string' },
            flags: { type: 'object', additionalProperties: { type: 'boolean' } },
            concurrency: { type: 'object', additionalProperties: { type: 'integer' } },
          }),
          409: alreadyRunningSchema,
          400: errorSchema,
          401: errorSchema,
          404: errorSchema,
        },
      },
    },
    async (request, reply) => {
      const id = request.params.id.toLowerCase();
      const script = await new ScriptCatalogRepository(await ctx.db()).get(id);
      if (!script) throw new ApiError(404, 'not_found', `No script ${id}.`);
      try {
        const started = await startIngestion(ctx, script, request.body ?? {});
        const run = { workflowId: started.workflowId, runId: started.firstExecutionRunId };
        return sendStarted(reply, ctx, run, { mode: started.mode, flags: started.flags, concurrency: started.concurrency });
      } catch (err) {
        if (!(err instanceof IngestionAlreadyRunningError)) throw err;
        return sendAlreadyRunning(reply, ctx, err);
      }
    },
  );
};
