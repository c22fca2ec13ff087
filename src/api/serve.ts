/**
 * The API process (`storyloom serve`, `npm run serve`): a database pool, a Temporal client on a
 * lazy connection (either down at start is a 503 from /readyz, not a crash), the server, and a
 * clean stop on SIGINT/SIGTERM.
 */
import { Client, Connection, defaultGrpcRetryOptions, makeGrpcRetryInterceptor, type ConnectionOptions } from '@temporalio/client';
import type { FastifyInstance } from 'fastify';
import type { AppConfig } from '../config';
import { createDataSource } from '../db/data-source';
import { createLogger, type Logger } from '../observability/logger';
import { clientInterceptors } from '../observability/tracing';
import { createServices, type AppServices } from '../runtime';
import { dataConverterFor } from '../security/data-converter';
import { temporalConnectionOptions } from '../temporal-connection';
import { assertCodecListenAllowed } from './codec.routes';
import { assertListenAllowed, buildApiServer, listenRefusal, type ApiHostSource } from './server';

/**
 * Attempts of one Temporal call before the API answers 503: the SDK's default, 10, backs off for
 * about 20 s while Temporal is down, longer than a client waits for a request; 5 give up after
 * about 2 s (backoff 170, 289, 491, 835 ms, ±20 %), as `/readyz` does.
 */
export const API_TEMPORAL_CALL_ATTEMPTS = 5;

/** The API's Temporal connection: lazy, with the shorter retry above and connects bounded at 5 s. */
export function apiConnectionOptions(config: AppConfig): ConnectionOptions {
  return {
    ...temporalConnectionOptions(config),
    connectTimeout: '5 seconds',
    interceptors: [makeGrpcRetryInterceptor(defaultGrpcRetryOptions({ maxAttempts: API_TEMPORAL_CALL_ATTEMPTS }))],
  };
}

export interface RunningApi {
  app: FastifyInstance;
  url: string;
  close(): Promise<void>;
}

/** Starts the API on `config.api.host:port` and returns once it listens. `hostFrom`: what set the host (named in a refusal). */
export async function startApiProcess(config: AppConfig, logger: Logger = createLogger(config.logLevel), hostFrom?: ApiHostSource): Promise<RunningApi> {
  assertListenAllowed(config.api, hostFrom);
  // With payload keys the API also serves /codec (server.ts), under the codec's own rule.
  if (config.payloadKeys) assertCodecListenAllowed(config.api.host, config.codecServer.token);
  const db = createDataSource(config.databaseUrl, { poolSize: 10 });
  const connection = Connection.lazy(apiConnectionOptions(config));
  const client = new Client({ connection, namespace: config.temporal.namespace, interceptors: clientInterceptors(config), dataConverter: dataConverterFor(config) });
  let services: Promise<AppServices> | undefined;
  const { app } = await buildApiServer({
    config,
    logger,
    db,
    client,
    // Search embeds its query: the LLM service (with its cache and call log) is made on the first search.
    llm: async () => (await (services ??= createServices(config, { logger }).catch((err: unknown) => {
      services = undefined;
      throw err;
    }))).llm,
  });
  try {
    await app.listen({ host: config.api.host, port: config.api.port });
  } catch (err) {
    await app.close().catch(() => undefined);
    await connection.close().catch(() => undefined);
    throw listenRefusal(err, config.api.host, config.api.port) ?? err;
  }
  const address = app.server.address();
  const port = typeof address === 'object' && address ? address.port : config.api.port;
  const host = config.api.host.includes(':') ? `[${config.api.host}]` : config.api.host;
  return {
    app,
    url: `http://${host}:${port}`,
    async close() {
      await app.close();
      await connection.close().catch(() => undefined);
      if (db.isInitialized) await db.destroy();
      await (await services?.catch(() => undefined))?.close();
    },
  };
}

/** Runs the API until SIGINT/SIGTERM. */
export async function runApiProcess(config: AppConfig, hostFrom?: ApiHostSource): Promise<void> {
  const logger = createLogger(config.logLevel);
  const api = await startApiProcess(config, logger, hostFrom);
  const auth = config.api.tokens.length ? `${config.api.tokens.length} bearer token(s)` : 'no tokens (loopback only)';
  console.log(`storyloom API listening on ${api.url} (${auth}); OpenAPI: ${api.url}/openapi.json`);
  await new Promise<void>((resolve) => {
    process.once('SIGINT', resolve);
    process.once('SIGTERM', resolve);
  });
  await api.close();
  logger.info('storyloom API stopped');
}
