/** The shape of a routes file: one Fastify plugin per job, given the API's shared context. */
import type { FastifyPluginAsync, FastifyReply } from 'fastify';
import type { ApiContext } from './context';
import { errorSchema, UUID_PATTERN } from './errors';

export type ApiRoutes = FastifyPluginAsync<{ ctx: ApiContext }>;

/** Common pieces of route schemas. */
export const workflowIdParams = {
  type: 'object',
  required: ['workflowId'],
  properties: { workflowId: { type: 'string', minLength: 1, maxLength: 400 } },
} as const;

/** A script's id: a UUID, either case (the same script: ids are compared in lower case). */
export const scriptIdParams = {
  type: 'object',
  required: ['id'],
  properties: { id: { type: 'string', pattern: UUID_PATTERN, description: "The script's id (a UUID)" } },
} as const;

/** Links to one run, as ApiContext.runUrls makes them (only those the run's workflow answers). */
export const runUrlsSchema = {
  type: 'object',
  properties: Object.fromEntries(['status', 'events', 'pause', 'resume', 'cancel', 'concurrency', 'report', 'stream'].map((k) => [k, { type: 'string' }])),
} as const;

export const bearerSecurity = [{ bearerAuth: [] }];

/** The 202 of a started run: its ids, what the job adds, the Web UI link and the run's URLs. */
export function startedRunSchema(properties: Record<string, unknown>, urls: object = runUrlsSchema) {
  return { type: 'object', properties: { workflowId: { type: 'string' }, runId: { type: 'string' }, ...properties, webUi: { type: 'string' }, urls } } as const;
}

/** Answers a started run (startedRunSchema): 202, Location its status URL. */
export function sendStarted(
  reply: FastifyReply,
  ctx: ApiContext,
  run: { workflowId: string; runId: string },
  properties: Record<string, unknown>,
  urls: Record<string, string> = ctx.runUrls(run.workflowId),
): FastifyReply {
  return reply
    .code(202)
    .header('location', urls.status)
    .send({ workflowId: run.workflowId, runId: run.runId, ...properties, webUi: ctx.webUi(run.workflowId, run.runId), urls });
}

/**
 * A 409 naming a running run: its id, Web UI link and URLs, in the error object as every error's
 * details are (`{ "error": { "code", "message", … } }`).
 */
export function runConflictSchema(code: string, workflowId: string) {
  const { error } = errorSchema.properties;
  return {
    ...errorSchema,
    properties: {
      error: {
        ...error,
        properties: {
          ...error.properties,
          code: { type: 'string', description: code },
          workflowId: { type: 'string', description: workflowId },
          webUi: { type: 'string' },
          urls: runUrlsSchema,
        },
      },
    },
  } as const;
}

/** The 409 of a start refused because the same run is running. */
export const alreadyRunningSchema = runConflictSchema('already_running', 'The running run');

export function sendAlreadyRunning(reply: FastifyReply, ctx: ApiContext, err: { workflowId: string; message: string }): FastifyReply {
  return reply.code(409).send({
    error: { code: 'already_running', message: err.message, workflowId: err.workflowId, webUi: ctx.webUi(err.workflowId), urls: ctx.runUrls(err.workflowId) },
  });
}
