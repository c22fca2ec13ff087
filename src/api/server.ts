/**
 * The HTTP API (`storyloom serve`): starts workflows and returns at once, streams their progress,
 * forwards steering and cancellation. It never runs a job's LLM calls; workers do. It holds no job
 * state: every answer comes from Temporal and Postgres, so API processes scale out and restart freely.
 *
 * Each job adds one routes file (src/api/<job>.routes.ts) to API_ROUTES.
 */
import cors from '@fastify/cors';
import rateLimit from '@fastify/rate-limit';
import swagger from '@fastify/swagger';
import Fastify, { LogController, type FastifyBaseLogger, type FastifyError, type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import { ConfigError, type ApiConfig } from '../config';
import { bearerToken, installAuth, isLoopbackHost, needsToken, rateLimitKey, tokenMatches } from './auth';
import { AesGcmPayloadCodec } from '../security/payload-codec';
import { codecRoutes } from './codec.routes';
import { ApiContext, type ApiDeps } from './context';
import { ApiError, installErrorHandlers, MAX_PARAM_LENGTH, sendError, toErrorAnswer } from './errors';
import { healthRoutes } from './health.routes';
import { installOpenApiAnswers, markOptionalBodies } from './openapi';
import { ingestionRoutes } from './ingestions.routes';
import type { ApiRoutes } from './routes';
import { runRoutes } from './runs.routes';
import { personasRoutes } from './personas.routes';
import { screenplaysRoutes } from './screenplays.routes';
import { scriptRoutes } from './scripts.routes';
import { sessionRoutes } from './sessions.routes';
import { storiesRoutes } from './stories.routes';
import { validatorCompiler } from './validation';
import { listenRefusalMessage, type ListenSettings } from '../shared/listen-refusal';
import { storableTextProblem } from '../shared/storable-text';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { STATUS_CODES } from 'node:http';
import type { Socket } from 'node:net';

/** Every job's routes: one entry per routes file. */
export const API_ROUTES: ApiRoutes[] = [healthRoutes, scriptRoutes, ingestionRoutes, runRoutes, storiesRoutes, sessionRoutes, screenplaysRoutes, personasRoutes];

/** Where the API's host came from, named in a refusal: the environment or `serve --host`. */
export type ApiHostSource = 'STORYLOOM_API_HOST' | '--host';

/** Without tokens the API serves the local machine only; anything else is refused with the reason. */
export function assertListenAllowed(api: Pick<ApiConfig, 'host' | 'tokens'>, hostFrom: ApiHostSource = 'STORYLOOM_API_HOST'): void {
  if (api.tokens.length || isLoopbackHost(api.host)) return;
  throw new ConfigError(
    `${hostFrom === '--host' ? `--host ${api.host}` : `STORYLOOM_API_HOST=${api.host}`} with no STORYLOOM_API_TOKENS: without tokens the API listens on loopback only (127.0.0.1, ::1). ` +
      'Set STORYLOOM_API_TOKENS (comma-separated bearer tokens) to listen on other addresses.',
  );
}

export const API_LISTEN_SETTINGS: ListenSettings = { command: 'storyloom serve', port: '--port or STORYLOOM_API_PORT', host: '--host or STORYLOOM_API_HOST' };

/**
 * A port someone else holds, or an address this host does not have: a setting to change (exit 2,
 * naming it), not a failure of the server; undefined for any other error.
 */
export function listenRefusal(err: unknown, host: string, port: number, settings: ListenSettings = API_LISTEN_SETTINGS): ConfigError | undefined {
  const message = listenRefusalMessage(err, host, port, settings);
  return message === undefined ? undefined : new ConfigError(message);
}

/**
 * Fastify options every server of ours takes (the API, the standalone codec server): path
 * segments up to MAX_PARAM_LENGTH, and the router's own refusals (a malformed %-escape, a segment
 * over the limit) in the API's error shape.
 */
export const ROUTER_OPTIONS = {
  routerOptions: { maxParamLength: MAX_PARAM_LENGTH },
  frameworkErrors: (err: Error, request: unknown, reply: unknown) => {
    const { status, body } = toErrorAnswer(err, request as FastifyRequest);
    void sendError(reply as FastifyReply, status, body.error.code, body.error.message);
  },
  clientErrorHandler: answerClientError,
};

/**
 * What Node's HTTP parser refuses before any route sees it (a request line or headers over its
 * 16 KB, malformed HTTP), answered in the API's error shape rather than Fastify's default one.
 */
function answerClientError(err: NodeJS.ErrnoException, socket: Socket): void {
  if (err.code === 'ECONNRESET' || socket.destroyed) return;
  const [status, code, message] =
    err.code === 'HPE_HEADER_OVERFLOW'
      ? [431, 'headers_too_large', `The request line and headers are larger than the server reads (16 KB): a path segment takes at most ${MAX_PARAM_LENGTH} characters, a query less than the rest.`]
      : err.code === 'ERR_HTTP_REQUEST_TIMEOUT'
        ? [408, 'request_timeout', 'The request did not arrive in time.']
        : [400, 'bad_request', 'The request is not valid HTTP.'];
  const body = JSON.stringify({ error: { code, message } });
  if (socket.writable) {
    socket.write(`HTTP/1.1 ${status} ${STATUS_CODES[status]}\r\nContent-Length: ${Buffer.byteLength(body)}\r\nContent-Type: application/json; charset=utf-8\r\nConnection: close\r\n\r\n${body}`);
  }
  socket.destroy(err);
}

/**
 * How every server of ours reads requests and answers errors: bodies validated as sent (no type
 * coercion) with unknown fields refused (validation.ts), errors in `{ error: { code, message } }`
 * (errors.ts), and JSON routes taking JSON only — a text/plain body is a 415 like any other type
 * (the upload route registers its own parsers), and an empty body sent as application/json is no
 * body, so the routes whose body is optional (or that take none, e.g. pause) answer as without
 * the header.
 */
export function installRequestConventions(app: FastifyInstance): void {
  app.setValidatorCompiler(validatorCompiler);
  installErrorHandlers(app);
  app.removeContentTypeParser(['text/plain', 'application/json']);
  const jsonParser = app.getDefaultJsonParser('error', 'error');
  app.addContentTypeParser('application/json', { parseAs: 'string' }, (request, body, done) => {
    if (body === '') return done(null, undefined);
    const text = String(body);
    return jsonParser(request, text, (err, parsed) => (err ? done(forbiddenKeysRefusal(err, text), undefined) : done(null, parsed)));
  });
}

/**
 * Fastify's JSON parser (secure-json-parse) refuses a `__proto__` key and a `constructor` key
 * holding `prototype` with the error it gives broken JSON: JSON that parses is refused for such a
 * key, and says so. Any other parse error goes on as Fastify gave it.
 */
function forbiddenKeysRefusal(err: Error, text: string): Error {
  if ((err as FastifyError).code !== 'FST_ERR_CTP_INVALID_JSON_BODY') return err;
  try {
    JSON.parse(text);
  } catch {
    return err;
  }
  return new ApiError(400, 'bad_request', 'The JSON body holds a "__proto__" key, or a "constructor" key holding "prototype": such keys are not allowed.');
}

declare module 'fastify' {
  interface FastifyContextConfig {
    /** Request values (`body.plot`) the route checks itself (U+0000, surrogates), with a message of its own. */
    ownTextChecks?: string[];
  }
}

/**
 * Where in a parsed request value a string cannot be stored as given (`body.personas[1] holds …`),
 * if anywhere. A walk with a stack of its own, to TEXT_CHECK_DEPTH levels: a body of thousands of
 * nested arrays must not overflow the call stack (no route takes values that deep; its schema
 * refuses them).
 */
function badText(root: unknown, rootPath: string, skip: ReadonlySet<string>): string | undefined {
  const stack: [unknown, string, number][] = [[root, rootPath, 0]];
  while (stack.length) {
    const [value, path, depth] = stack.pop()!;
    if (skip.has(path)) continue;
    if (typeof value === 'string') {
      const problem = storableTextProblem(value);
      if (problem) return `${path} ${problem}`;
    } else if (depth < TEXT_CHECK_DEPTH && Array.isArray(value)) {
      for (let i = value.length - 1; i >= 0; i--) stack.push([value[i], `${path}[${i}]`, depth + 1]);
    } else if (depth < TEXT_CHECK_DEPTH && value && typeof value === 'object' && !Buffer.isBuffer(value)) {
      for (const [key, v] of Object.entries(value).reverse()) {
        const problem = storableTextProblem(key);
        if (problem) return `${path} has a key that ${problem}`;
        stack.push([v, `${path}.${key}`, depth + 1]);
      }
    }
  }
  return undefined;
}

const TEXT_CHECK_DEPTH = 32;

const rateLimited = (max: number, ttlMs: number) =>
  new ApiError(429, 'rate_limited', `Rate limit: ${max} requests per minute per token (or per address, without a valid one); try again in ${Math.ceil(ttlMs / 1000)} s.`);

/**
 * The release serving the API, as its OpenAPI document says: storyloom's package.json, the first
 * found above this file (dist/, src/ and the benchmark's build sit at different depths).
 */
const APP_VERSION = (() => {
  for (let dir = __dirname; dir !== dirname(dir); dir = dirname(dir)) {
    try {
      const pkg = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as { name?: string; version?: string };
      if (pkg.name === 'storyloom' && pkg.version) return pkg.version;
    } catch {
      // No package.json here: look further up.
    }
  }
  return 'unknown';
})();

/** Builds the API (routes, auth, limits, OpenAPI) without listening. */
export async function buildApiServer(deps: ApiDeps): Promise<{ app: FastifyInstance; ctx: ApiContext }> {
  const { api } = deps.config;
  const ctx = new ApiContext(deps);
  const app = Fastify({
    loggerInstance: deps.logger.child({ component: 'api' }) as FastifyBaseLogger,
    // One debug line per request from onResponse below (no headers, no bodies, no query strings).
    logController: new LogController({ disableRequestLogging: true }),
    bodyLimit: api.jsonBodyLimitBytes,
    forceCloseConnections: true,
    ...ROUTER_OPTIONS,
  });
  // At debug: per-request lines would drown info; failures log on their own (errors.ts).
  app.addHook('onResponse', async (request, reply) => {
    request.log.debug(
      { method: request.method, path: request.url.split('?')[0], route: request.routeOptions.url, status: reply.statusCode, ms: Math.round(reply.elapsedTime) },
      'request',
    );
  });
  installRequestConventions(app);

  const tokenDigests = api.tokens.map((t) => createHash('sha256').update(t).digest());
  // Per token (valid ones only; anything else counts against the address), on /api and /optimization.
  await app.register(rateLimit, {
    max: api.rateLimitPerMinute,
    timeWindow: 60_000,
    keyGenerator: (request) => {
      const token = bearerToken(request);
      return token && (!tokenDigests.length || tokenMatches(tokenDigests, token)) ? rateLimitKey(request) : `ip:${request.ip}`;
    },
    allowList: (request) => !needsToken(request),
    errorResponseBuilder: (_request, context) => rateLimited(context.max, context.ttl),
  });
  // Postgres cannot store U+0000 (and stores a lone surrogate as U+FFFD): a value holding one is
  // refused here, naming it, before a route reads it (it was a 500, a run that failed after its
  // calls were paid, or a persona stored under a name no one can give).
  // A route that checks some text itself, with a message of its own, names it in `config.ownTextChecks`.
  app.addHook('preValidation', async (request) => {
    const own = new Set(request.routeOptions.config?.ownTextChecks ?? []);
    for (const [part, value] of [['params', request.params], ['query', request.query], ['body', request.body]] as const) {
      const problem = badText(value, part, own);
      if (problem) throw new ApiError(400, 'bad_request', `${problem}.`);
    }
  });
  const countUnrouted = app.createRateLimit();
  installAuth(app, api.tokens, async (request) => {
    const counted = await countUnrouted(request);
    if (!counted.isAllowed && counted.isExceeded) throw rateLimited(counted.max, counted.ttl);
  });
  if (api.corsOrigins.length) {
    await app.register(cors, {
      origin: api.corsOrigins,
      methods: ['GET', 'POST', 'PATCH', 'OPTIONS'],
      allowedHeaders: ['Authorization', 'Content-Type', 'Last-Event-ID'],
      maxAge: 600,
    });
  }
  // Before the routes: each route's generic answers go into its schema as it is added.
  const { optionalBodies } = installOpenApiAnswers(app);
  await app.register(swagger, {
    transformObject: (doc) => ('openapiObject' in doc ? markOptionalBodies(doc.openapiObject, optionalBodies) : doc.swaggerObject),
    openapi: {
      openapi: '3.0.3',
      info: { title: 'storyloom API', version: APP_VERSION, description: 'Start, watch and steer storyloom jobs. Errors: { "error": { "code", "message" } }.' },
      components: { securitySchemes: { bearerAuth: { type: 'http', scheme: 'bearer' } } },
    },
  });
  for (const routes of API_ROUTES) await app.register(routes, { ctx });
  // Payload encryption on: the codec server (/codec/encode, /codec/decode) for the Web UI, with its own token and CORS.
  if (deps.config.payloadKeys) {
    await app.register(codecRoutes, {
      codec: new AesGcmPayloadCodec(deps.config.payloadKeys),
      token: deps.config.codecServer.token,
      corsOrigins: deps.config.codecServer.corsOrigins,
    });
  }
  app.get('/openapi.json', { schema: { hide: true } }, async () => app.swagger());
  await app.ready();
  return { app, ctx };
}
