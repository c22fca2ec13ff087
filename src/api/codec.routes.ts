/**
 * The codec server (Temporal's remote codec protocol): `POST /codec/encode` and
 * `POST /codec/decode` take and answer `{ "payloads": [{ "metadata": { k: base64 }, "data": base64 }] }`,
 * so the Web UI (Settings → Codec Server endpoint `http://<host>:<port>/codec`) and
 * `temporal workflow show --codec-endpoint … --codec-auth "Bearer …"` show decrypted payloads to
 * whoever holds the token. CORS answers the Web UI's origin only; preflights need no token.
 * Refusals answer the API's error shape, `{ "error": { "code", "message" } }` (401 `unauthorized`,
 * 400 `codec_error`).
 * A Fastify plugin: the API server registers it, `storyloom codec-server` runs it alone.
 */
import type { Payload, PayloadCodec } from '@temporalio/common';
import { timingSafeEqual } from 'node:crypto';
import type { FastifyPluginAsync, FastifyReply, FastifyRequest } from 'fastify';
import { ConfigError } from '../config';
import { isLoopbackHost } from './auth';

export interface CodecRoutesOptions {
  codec: PayloadCodec;
  /** Bearer token every /codec request must carry; undefined = none required (loopback use only). */
  token?: string;
  /** Origins the browser may call from (the Web UI's), e.g. http://127.0.0.1:8233. */
  corsOrigins: string[];
}

interface JsonPayload {
  metadata?: Record<string, string>;
  data?: string;
}

const BODY_SCHEMA = {
  type: 'object',
  required: ['payloads'],
  properties: {
    payloads: {
      type: 'array',
      maxItems: 10_000,
      items: {
        type: 'object',
        properties: {
          metadata: { type: 'object', additionalProperties: { type: 'string' } },
          data: { type: 'string' },
        },
      },
    },
  },
} as const;

const fromJson = (p: JsonPayload): Payload => ({
  metadata: Object.fromEntries(Object.entries(p.metadata ?? {}).map(([k, v]) => [k, Buffer.from(v, 'base64')])),
  data: Buffer.from(p.data ?? '', 'base64'),
});

const toJson = (p: Payload): JsonPayload => ({
  metadata: Object.fromEntries(Object.entries(p.metadata ?? {}).map(([k, v]) => [k, Buffer.from(v ?? new Uint8Array()).toString('base64')])),
  data: Buffer.from(p.data ?? new Uint8Array()).toString('base64'),
});

function tokenMatches(header: string | undefined, token: string): boolean {
  const given = Buffer.from(/^Bearer\s+(.+)$/i.exec(header ?? '')?.[1]?.trim() ?? '');
  const want = Buffer.from(token);
  return given.length === want.length && timingSafeEqual(given, want);
}

/**
 * Without STORYLOOM_CODEC_TOKEN the codec serves the local machine only: /codec/decode open to a
 * network would undo the encryption for anyone who can reach it.
 */
export function assertCodecListenAllowed(host: string, token: string | undefined): void {
  if (token || isLoopbackHost(host)) return;
  throw new ConfigError(
    `the codec server (/codec/decode) would listen on ${host} with no STORYLOOM_CODEC_TOKEN: anyone who can reach it could decrypt payloads. ` +
      'Set STORYLOOM_CODEC_TOKEN, or listen on loopback (127.0.0.1, ::1).',
  );
}

export const codecRoutes: FastifyPluginAsync<CodecRoutesOptions> = async (app, opts) => {
  const allowed = new Set(opts.corsOrigins);

  const cors = (req: FastifyRequest, reply: FastifyReply) => {
    const origin = req.headers.origin;
    if (origin && allowed.has(origin)) {
      reply.header('access-control-allow-origin', origin);
      reply.header('access-control-allow-credentials', 'true');
      reply.header('access-control-allow-methods', 'POST, OPTIONS');
      reply.header('access-control-allow-headers', 'content-type, x-namespace, authorization');
      reply.header('access-control-max-age', '600');
    }
    reply.header('vary', 'origin');
  };

  for (const op of ['encode', 'decode'] as const) {
    // The browser's preflight: not an operation of the API (the document leaves it out).
    app.options(`/codec/${op}`, { schema: { hide: true } }, async (req, reply) => {
      cors(req, reply);
      return reply.code(204).send();
    });
    app.post<{ Body: { payloads: JsonPayload[] } }>(`/codec/${op}`, {
      schema: {
        summary: `${op === 'encode' ? 'Encrypt' : 'Decrypt'} payloads (Temporal's remote codec protocol; its own token, STORYLOOM_CODEC_TOKEN)`,
        tags: ['codec'],
        body: BODY_SCHEMA,
        // Its refusals (400 codec_error, 401) are documented with every route's (src/api/openapi.ts): a
        // schema here would turn a host app's own error answers (one without the API's error handler) into 500s.
        response: { 200: BODY_SCHEMA },
      },
    }, async (req, reply) => {
      cors(req, reply);
      if (opts.token && !tokenMatches(req.headers.authorization, opts.token)) {
        return reply
          .code(401)
          .header('www-authenticate', 'Bearer')
          .send({ error: { code: 'unauthorized', message: 'a valid "Authorization: Bearer <STORYLOOM_CODEC_TOKEN>" header is required' } });
      }
      const payloads = req.body.payloads.map(fromJson);
      try {
        const out = op === 'encode' ? await opts.codec.encode(payloads) : await opts.codec.decode(payloads);
        return { payloads: out.map(toJson) };
      } catch (err) {
        // The codec's messages name key ids, never keys.
        return reply.code(400).send({ error: { code: 'codec_error', message: (err as Error).message } });
      }
    });
  }
};
