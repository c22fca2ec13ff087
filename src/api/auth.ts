/**
 * Bearer tokens (STORYLOOM_API_TOKENS) on every /api and /optimization route, compared in
 * constant time. With no tokens configured the server listens on loopback only (server.ts), and
 * these routes are open to the local machine.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { ApiError } from './errors';

const LOOPBACK_HOSTS = new Set(['127.0.0.1', '::1', 'localhost', '::ffff:127.0.0.1']);

/** Whether a listen address serves only this machine. */
export function isLoopbackHost(host: string): boolean {
  return LOOPBACK_HOSTS.has(host) || /^127\./.test(host);
}

/** Paths that need a token. */
function isProtectedPath(url: string): boolean {
  return url === '/api' || url.startsWith('/api/') || url === '/optimization' || url.startsWith('/optimization/');
}

/**
 * Whether a request needs a token. Fastify decodes `%xx` before it routes, so `/%61pi/scripts`
 * reaches `/api/scripts`: the route it matched decides, and the path (raw and decoded) for a
 * request that matches none, so an unknown protected path is a 401, not a 404.
 */
export function needsToken(request: FastifyRequest): boolean {
  const route = request.routeOptions.url;
  if (route !== undefined) return isProtectedPath(route);
  const path = request.url.split('?')[0];
  return isProtectedPath(path) || isProtectedPath(decodedPath(path));
}

function decodedPath(path: string): string {
  try {
    return decodeURIComponent(path);
  } catch {
    return path;
  }
}

const digest = (value: string) => createHash('sha256').update(value).digest();

/** Whether `given` is one of `tokens`: every token is compared (equal-length digests), so the time says nothing. */
export function tokenMatches(tokens: readonly Buffer[], given: string): boolean {
  const candidate = digest(given);
  let match = false;
  for (const token of tokens) match = timingSafeEqual(token, candidate) || match;
  return match;
}

/** The bearer token of a request, or undefined. */
export function bearerToken(request: FastifyRequest): string | undefined {
  const header = request.headers.authorization;
  const match = header ? /^Bearer\s+(\S+)\s*$/i.exec(header) : null;
  return match?.[1];
}

/** What the rate limit counts by: the token (by its digest, never the token itself), else the address. */
export function rateLimitKey(request: FastifyRequest): string {
  const token = bearerToken(request);
  return token ? `token:${digest(token).toString('hex').slice(0, 32)}` : `ip:${request.ip}`;
}

/** Answers 401 on protected paths without a valid token (when tokens are configured). */
export function installAuth(app: FastifyInstance, tokens: readonly string[], limitUnrouted?: (request: FastifyRequest) => Promise<void>): void {
  if (!tokens.length) return;
  const digests = tokens.map(digest);
  // preParsing, not onRequest: the rate limit's hooks are the routes' own onRequest hooks, which run
  // after the application's, so a refused token was never counted and guessing was unthrottled.
  // Still before the body is read, so a refused request's body is never parsed.
  app.addHook('preParsing', async (request, reply, payload) => {
    if (request.method === 'OPTIONS' || !needsToken(request)) return payload;
    // A path no route matches has no rate-limit hook of its own, and its 401-or-404 would answer
    // a guessed token: it is counted here.
    if (request.is404) await limitUnrouted?.(request);
    const token = bearerToken(request);
    const refused = !token ? 'This endpoint needs a bearer token: Authorization: Bearer <token>.' : !tokenMatches(digests, token) ? 'The bearer token is not valid.' : undefined;
    if (refused) {
      reply.header('www-authenticate', 'Bearer');
      throw new ApiError(401, 'unauthorized', refused);
    }
    return payload;
  });
}
