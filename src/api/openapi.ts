/**
 * What the OpenAPI document says beyond each route's own schema, so that it says what the routes
 * really do: the answers every route of a kind can give whatever its handler does (a protected
 * route's 401 and 429, a body's 400, 413 and 415, a path segment's 414, a dependency's 503), and
 * which request bodies may be left out (@fastify/swagger marks every body required).
 */
import type { FastifyInstance, RouteOptions } from 'fastify';
import { errorSchema } from './errors';

declare module 'fastify' {
  interface FastifyContextConfig {
    /** The route's JSON body may be left out (optionalJsonBody). */
    optionalBody?: boolean;
  }
}

/** Route options that mark a JSON body as optional: no body is `{}` (the defaults); the document says `required: false`. */
export const optionalJsonBody = {
  config: { optionalBody: true },
  preValidation: async (request: { body: unknown }) => {
    // No body is the defaults; a JSON null is a body, refused by the schema.
    if (request.body === undefined) request.body = {};
  },
};

const PROTECTED = /^\/(api|optimization)(\/|$)/;
const CODEC = /^\/codec\//;
const WITH_BODY = new Set(['POST', 'PUT', 'PATCH']);

const DESCRIPTIONS: Record<string, string> = {
  400: 'Bad request: the path, query or body breaks the schema (`invalid_request`), or is refused for another reason (`bad_request`)',
  401: 'No valid bearer token (`unauthorized`; when STORYLOOM_API_TOKENS is set, or STORYLOOM_CODEC_TOKEN for /codec)',
  413: 'The body is over this route\'s limit (`payload_too_large`)',
  414: 'A path segment is over 2,000 characters (`uri_too_long`)',
  415: 'A Content-Type this route does not take (`unsupported_media_type`)',
  429: 'Rate limit (`rate_limited`), per token',
  503: 'Temporal or Postgres cannot be reached (`temporal_unavailable`, `database_unavailable`)',
};

/**
 * The statuses a route answers whatever its handler does, from its definition: 400 for a schema
 * (or a body, which may not be JSON), 413 and 415 for a method that takes a body, 414 for a path
 * parameter, for a protected route (/api, /optimization) 401, 429 and 503 (each reads
 * Postgres or Temporal), and for a codec route 401 (its own token).
 */
export function routeStatuses(route: Pick<RouteOptions, 'method' | 'url' | 'schema'>): number[] {
  const methods = [route.method].flat();
  const schema = route.schema ?? {};
  const statuses = new Set<number>();
  const takesBody = methods.some((m) => WITH_BODY.has(m));
  if (schema.params || schema.querystring || schema.body || takesBody) statuses.add(400);
  if (takesBody) [413, 415].forEach((s) => statuses.add(s));
  if (/[:*]/.test(route.url ?? '')) statuses.add(414);
  if (PROTECTED.test(route.url ?? '')) [401, 429, 503].forEach((s) => statuses.add(s));
  // The codec routes take their own token (STORYLOOM_CODEC_TOKEN).
  if (CODEC.test(route.url ?? '')) statuses.add(401);
  return [...statuses].sort((a, b) => a - b);
}

/** `/api/scripts/:id` → `/api/scripts/{id}`, as the document names paths. */
const openapiPath = (url: string) => url.replace(/:(\w+)/g, '{$1}');

/**
 * Adds each route's statuses (routeStatuses) to its response schemas (its own schema for a status
 * wins), and remembers the routes whose body is optional. Install before the routes are registered.
 */
export function installOpenApiAnswers(app: FastifyInstance): { optionalBodies: Set<string> } {
  const optionalBodies = new Set<string>();
  app.addHook('onRoute', (route) => {
    const schema = route.schema as (Record<string, unknown> & { hide?: boolean; response?: Record<string, unknown> }) | undefined;
    if (!schema || schema.hide) return;
    const generic = Object.fromEntries(routeStatuses(route).map((s) => [s, { ...errorSchema, description: DESCRIPTIONS[s] }]));
    route.schema = { ...schema, response: { ...generic, ...schema.response } };
    if (route.config?.optionalBody) {
      for (const method of [route.method].flat()) optionalBodies.add(`${method.toLowerCase()} ${openapiPath(route.url)}`);
    }
  });
  return { optionalBodies };
}

/** The document with the optional request bodies said to be so (swagger's transformObject). */
export function markOptionalBodies<T extends { paths?: object }>(doc: T, optionalBodies: Set<string>): T {
  const paths = (doc.paths ?? {}) as Record<string, Record<string, { requestBody?: { required?: boolean } } | undefined> | undefined>;
  for (const [path, methods] of Object.entries(paths)) {
    for (const [method, operation] of Object.entries(methods ?? {})) {
      if (operation?.requestBody && optionalBodies.has(`${method} ${path}`)) operation.requestBody.required = false;
    }
  }
  return doc;
}
