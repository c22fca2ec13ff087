/**
 * Every error answers `{ "error": { "code", "message" } }` with its status: refusals say why,
 * failures say only that they happened (the log has the details; no stack, no SQL in a response).
 */
import { ServiceError, WorkflowNotFoundError } from '@temporalio/client';
import { ApplicationFailure } from '@temporalio/common';
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { UsageError } from '../cli/temporal-client';
import { OperationError, type OperationErrorCode } from '../operations/context';
import { DatabaseUnreachableError, SchemaBehindError } from '../db/data-source';
import { RunUnresponsiveError } from '../operations/steer-run';
import { LlmFailureType, RATE_LIMIT_LLM_FAILURES } from '../shared/failure-types';

export class ApiError extends Error {
  constructor(
    readonly statusCode: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

export interface ErrorBody {
  error: { code: string; message: string };
}

/** The JSON schema of an error answer (for the OpenAPI document). */
export const errorSchema = {
  type: 'object',
  required: ['error'],
  properties: {
    error: {
      type: 'object',
      required: ['code', 'message'],
      properties: { code: { type: 'string' }, message: { type: 'string' } },
    },
  },
} as const;

/**
 * The longest path segment the router takes (a workflow id, percent-encoded): Fastify's default,
 * 100, would refuse workflow ids the routes' schemas allow (up to 400 characters).
 */
export const MAX_PARAM_LENGTH = 2000;

/** gRPC status UNAVAILABLE: the server cannot be reached. */
const GRPC_UNAVAILABLE = 14;

/**
 * Errors of a Postgres that cannot be used: socket errors; 57P03: cannot connect now; 3D000: no
 * such database; 28P01 / 28000: the password or the user refused (GET /readyz says which).
 */
const POSTGRES_DOWN = new Set(['ECONNREFUSED', 'ENOTFOUND', 'ETIMEDOUT', 'ECONNRESET', 'EHOSTUNREACH', '57P03', '3D000', '28P01', '28000']);

const OPERATION_STATUS: Record<OperationErrorCode, number> = {
  bad_request: 400,
  not_found: 404,
  conflict: 409,
  payload_too_large: 413,
  unsupported_media_type: 415,
};

interface ValidationIssue {
  instancePath: string;
  message?: string;
  keyword: string;
  params: Record<string, unknown>;
}

/** "body.concurrency.summaries must be <= 200": the field by its path, and the reason. */
/** A UUID in a schema (`pattern`), either case: a refusal says "must be a UUID", not the pattern. */
export const UUID_PATTERN = '^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$';

function validationMessage(err: FastifyError): string {
  const issue = err.validation?.[0] as ValidationIssue | undefined;
  if (!issue) return err.message;
  const where = [err.validationContext, ...issue.instancePath.split('/').filter(Boolean)].join('.');
  if (issue.keyword === 'additionalProperties') return `${where}: unknown field "${String(issue.params.additionalProperty)}"`;
  if (issue.keyword === 'required') return `${where}.${String(issue.params.missingProperty)} is required`;
  if (issue.keyword === 'pattern' && issue.params.pattern === UUID_PATTERN) return `${where} must be a UUID`;
  // Ajv says "must be integer,null".
  if (issue.keyword === 'type' && String(issue.params.type).includes(',')) return `${where} must be ${String(issue.params.type).split(',').join(' or ')}`;
  return `${where} ${issue.message ?? 'is invalid'}`;
}

const FASTIFY_CODES: Record<string, string> = {
  FST_ERR_CTP_BODY_TOO_LARGE: 'payload_too_large',
  FST_REQ_FILE_TOO_LARGE: 'payload_too_large',
  FST_ERR_CTP_INVALID_MEDIA_TYPE: 'unsupported_media_type',
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: 'bad_request',
  FST_ERR_CTP_EMPTY_JSON_BODY: 'bad_request',
  FST_INVALID_MULTIPART_CONTENT_TYPE: 'unsupported_media_type',
};

/** Maps any error to its status and body. */
export function toErrorAnswer(err: unknown, request?: FastifyRequest): { status: number; body: ErrorBody; retryAfterS?: number } {
  const answer = (status: number, code: string, message: string) => ({ status, body: { error: { code, message } } });
  if (err instanceof ApiError) return answer(err.statusCode, err.code, err.message);
  if (err instanceof OperationError) return answer(OPERATION_STATUS[err.code], err.code, err.message);
  if (err instanceof WorkflowNotFoundError) return answer(404, 'not_found', `No workflow ${err.workflowId}.`);
  if (err instanceof RunUnresponsiveError) return answer(504, 'run_unresponsive', err.message);
  // connectClient's refusal: Temporal cannot be reached.
  if (err instanceof UsageError && /Temporal server/.test(err.message)) return answer(503, 'temporal_unavailable', 'Temporal cannot be reached.');
  if (err instanceof ServiceError && (err.cause as { code?: number } | undefined)?.code === GRPC_UNAVAILABLE) {
    return answer(503, 'temporal_unavailable', 'Temporal cannot be reached.');
  }
  if (POSTGRES_DOWN.has(String((err as { code?: unknown }).code))) return answer(503, 'database_unavailable', 'Postgres cannot be reached.');
  if (err instanceof DatabaseUnreachableError) return answer(503, 'database_unavailable', 'Postgres cannot be reached.');
  if (err instanceof SchemaBehindError) return answer(503, 'database_unavailable', 'The database lacks migrations of this release: run `storyloom migrate`.');
  // A provider call made in this process (a scene search embeds its query): its kind, said; its
  // text (which may quote the provider, a key's ends included) stays in the API's log.
  if (err instanceof ApplicationFailure && Object.values<string>(LlmFailureType).includes(err.type ?? '')) {
    const type = err.type as LlmFailureType;
    if (RATE_LIMIT_LLM_FAILURES.includes(type)) {
      // The provider's own wait when it said one (its Retry-After), else a second: a client waits before it asks again.
      const waitMs = typeof err.nextRetryDelay === 'number' ? err.nextRetryDelay : 1000;
      return { ...answer(503, 'llm_rate_limited', `The LLM provider is rate limiting or overloaded (${type}): try again shortly.`), retryAfterS: Math.max(1, Math.ceil(waitMs / 1000)) };
    }
    if (type === LlmFailureType.Timeout) return answer(504, 'llm_timeout', 'The LLM provider did not answer in time (LlmTimeout).');
    return answer(502, 'llm_provider_error', `The LLM provider refused or failed the call (${type}); the API log has its answer.`);
  }
  const fe = err as FastifyError;
  if (fe.validation) return answer(400, 'invalid_request', validationMessage(fe));
  if (fe.code === 'FST_ERR_CTP_BODY_TOO_LARGE' || fe.code === 'FST_REQ_FILE_TOO_LARGE') {
    const limit = request?.routeOptions.bodyLimit;
    return answer(413, 'payload_too_large', `The request body is larger than this endpoint's limit${limit ? ` (${limit} bytes)` : ''}: nothing was written.`);
  }
  if (fe.code === 'FST_ERR_CTP_INVALID_MEDIA_TYPE') {
    const type = String(request?.headers['content-type'] ?? 'none').split(';')[0];
    // The upload route takes files; every other route (its own /ingestions among them) takes JSON.
    const accepted = request?.routeOptions.url === '/api/scripts' ? 'a Fountain or FDX file as text/plain, application/xml or application/octet-stream, or multipart/form-data' : 'application/json';
    return answer(415, 'unsupported_media_type', `Content-Type ${type} is not accepted here: send ${accepted}.`);
  }
  // The router's own refusals (frameworkErrors in server.ts): never the path itself, which may be huge.
  if (fe.code === 'FST_ERR_BAD_URL') return answer(400, 'bad_request', 'The path is not a valid URL: a %-escape in it is malformed.');
  if (fe.code === 'FST_ERR_MAX_PARAM_LENGTH') return answer(414, 'uri_too_long', `A path segment is longer than ${MAX_PARAM_LENGTH} characters.`);
  if (fe.code && FASTIFY_CODES[fe.code]) return answer(fe.statusCode ?? 400, FASTIFY_CODES[fe.code], fe.message);
  if (typeof fe.statusCode === 'number' && fe.statusCode >= 400 && fe.statusCode < 500) {
    return answer(fe.statusCode, fe.statusCode === 429 ? 'rate_limited' : 'bad_request', fe.message);
  }
  return answer(500, 'internal', 'The request failed on the server; the API log has the details.');
}

export function sendError(reply: FastifyReply, status: number, code: string, message: string): FastifyReply {
  return reply.code(status).send({ error: { code, message } } satisfies ErrorBody);
}

/** Installs the error and not-found handlers. */
export function installErrorHandlers(app: FastifyInstance): void {
  app.setErrorHandler((err, request, reply) => {
    const { status, body, retryAfterS } = toErrorAnswer(err, request);
    if (retryAfterS !== undefined) void reply.header('retry-after', String(retryAfterS));
    // A dependency down or refusing (Temporal, Postgres, a provider) is a warning; anything else is an error to look into.
    if (status === 503 || status === 502 || (status === 504 && body.error.code === 'llm_timeout')) request.log.warn({ code: body.error.code, reason: (err as Error).message }, 'request failed: a dependency is down or refused it');
    else if (status >= 500) request.log.error({ err, code: body.error.code }, 'request failed');
    return reply.code(status).send(body);
  });
  app.setNotFoundHandler((request, reply) => sendError(reply, 404, 'not_found', `No route ${request.method} ${request.url.split('?')[0]}.`));
}
