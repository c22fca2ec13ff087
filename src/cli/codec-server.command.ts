/**
 * `storyloom codec-server`: the codec server on its own (until the API process hosts it), so the
 * Web UI and `temporal workflow show --codec-endpoint` can show encrypted payloads decoded.
 */
import Fastify, { type FastifyInstance } from 'fastify';
import { parseArgs } from 'node:util';
import { assertCodecListenAllowed, codecRoutes } from '../api/codec.routes';
import { installRequestConventions, listenRefusal, ROUTER_OPTIONS } from '../api/server';
import type { AppConfig } from '../config';
import { intOption } from './int-option';
import { createLogger } from '../observability/logger';
import { AesGcmPayloadCodec } from '../security/payload-codec';
import { UsageError } from './temporal-client';

/** Builds (does not start) the standalone codec server for `config`. */
export async function buildCodecServer(config: AppConfig): Promise<FastifyInstance> {
  if (!config.payloadKeys) throw new UsageError('STORYLOOM_PAYLOAD_KEYS is not set: there is nothing to decode (payloads are not encrypted)');
  const app = Fastify({ logger: false, ...ROUTER_OPTIONS });
  // Refusals in the API's error shape, as when the API hosts these routes.
  installRequestConventions(app);
  await app.register(codecRoutes, {
    codec: new AesGcmPayloadCodec(config.payloadKeys),
    token: config.codecServer.token,
    corsOrigins: config.codecServer.corsOrigins,
  });
  return app;
}

function port(raw: string | undefined, fallback: number): number {
  return intOption('--port', raw, fallback, 0, 65535);
}

export async function codecServerCommand(config: AppConfig, argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({ args: argv, options: { port: { type: 'string' }, host: { type: 'string' } }, allowPositionals: true });
  if (positionals.length) throw new UsageError(`codec-server takes no arguments; got "${positionals[0]}"`);
  const host = values.host ?? config.codecServer.host;
  assertCodecListenAllowed(host, config.codecServer.token);
  const logger = createLogger(config.logLevel);
  const app = await buildCodecServer(config);
  const listenPort = port(values.port, config.codecServer.port);
  let address: string;
  try {
    address = await app.listen({ port: listenPort, host });
  } catch (err) {
    await app.close().catch(() => undefined);
    throw listenRefusal(err, host, listenPort, { command: 'storyloom codec-server', port: '--port or STORYLOOM_CODEC_PORT', host: '--host or STORYLOOM_CODEC_HOST' }) ?? err;
  }
  logger.info({ corsOrigins: config.codecServer.corsOrigins, token: Boolean(config.codecServer.token) }, `codec server at ${address}/codec`);
  console.log(`Codec server at ${address}/codec (Web UI: Settings → Codec Server). Ctrl-C stops it.`);
  if (!config.codecServer.token) console.log('No STORYLOOM_CODEC_TOKEN: anyone on this machine can decode payloads (loopback only).');
  await new Promise<void>((resolve) => {
    process.once('SIGINT', resolve);
    process.once('SIGTERM', resolve);
  });
  await app.close();
  return 0;
}
