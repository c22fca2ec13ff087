/**
 * The HTTP API on a real port for tests: built on a test stack's database, dev server and queue,
 * listening on 127.0.0.1 (an ephemeral port), called with fetch; an SSE reader over fetch's stream.
 */
import type { Client } from '@temporalio/client';
import type { FastifyInstance } from 'fastify';
import type { Writable } from 'node:stream';
import type pino from 'pino';
import type { DataSource } from 'typeorm';
import type { ApiConfig, AppConfig } from '../../src/config';
import { buildApiServer } from '../../src/api/server';
import type { ApiContext } from '../../src/api/context';
import type { LlmService } from '../../src/llm/llm-service';
import { createLogger } from '../../src/observability/logger';

export const TEST_TOKEN = 'test-token-0123456789';

export interface TestApi {
  app: FastifyInstance;
  ctx: ApiContext;
  url: string;
  /** fetch with the test token (unless `headers.authorization` says otherwise). */
  call(path: string, init?: RequestInit): Promise<Response>;
  close(): Promise<void>;
}

export interface TestApiOptions {
  config: AppConfig;
  db: DataSource;
  client: Client;
  llm?: () => Promise<LlmService>;
  api?: Partial<ApiConfig>;
  /** Where the API's log lines go (default: nowhere below warn). */
  logTo?: Writable;
  /** The level of the lines sent to `logTo` (default info, the API's default). */
  logLevel?: string;
  /** A fixed port (a restarted API on the same address). */
  port?: number;
}

export async function startTestApi(opts: TestApiOptions): Promise<TestApi> {
  const config: AppConfig = { ...opts.config, api: { ...opts.config.api, tokens: [TEST_TOKEN], ...opts.api } };
  const logger = opts.logTo ? createLogger(opts.logLevel ?? 'info', opts.logTo as unknown as pino.DestinationStream) : createLogger('error');
  const { app, ctx } = await buildApiServer({ config, logger, db: opts.db, client: opts.client, llm: opts.llm, watchIntervalMs: 100 });
  await app.listen({ host: '127.0.0.1', port: opts.port ?? 0 });
  const address = app.server.address();
  const url = `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`;
  return {
    app,
    ctx,
    url,
    call: (path, init = {}) => {
      const headers = new Headers(init.headers);
      if (!headers.has('authorization')) headers.set('authorization', `Bearer ${TEST_TOKEN}`);
      return fetch(`${url}${path}`, { ...init, headers });
    },
    close: () => app.close(),
  };
}

export interface SseEvent {
  id?: string;
  event: string;
  data: unknown;
}

/**
 * Reads a Server-Sent Events stream until `until` says stop (or the stream ends); the events read.
 * `onEvent` sees each as it comes.
 */
export async function readSse(
  url: string,
  opts: {
    headers?: Record<string, string>;
    until?: (e: SseEvent) => boolean;
    onEvent?: (e: SseEvent) => void;
    /** Called once the response's headers are in (the stream is open), before any event is read. */
    onOpen?: (status: number) => void;
    signal?: AbortSignal;
  } = {},
): Promise<{ status: number; events: SseEvent[]; ended: boolean }> {
  const res = await fetch(url, { headers: { accept: 'text/event-stream', ...opts.headers }, signal: opts.signal });
  opts.onOpen?.(res.status);
  const events: SseEvent[] = [];
  if (!res.ok || !res.body) return { status: res.status, events, ended: true };
  const reader = res.body.getReader();
  const decoder = new TextDecoder();
  let buffer = '';
  try {
    for (;;) {
      const { value, done } = await reader.read();
      if (done) return { status: res.status, events, ended: true };
      buffer += decoder.decode(value, { stream: true });
      let split: number;
      while ((split = buffer.indexOf('\n\n')) >= 0) {
        const frame = buffer.slice(0, split);
        buffer = buffer.slice(split + 2);
        const fields: Record<string, string> = {};
        for (const line of frame.split('\n')) {
          if (!line || line.startsWith(':')) continue;
          const colon = line.indexOf(':');
          fields[line.slice(0, colon)] = line.slice(colon + 1).replace(/^ /, '');
        }
        if (fields.data === undefined) continue;
        const event: SseEvent = { id: fields.id, event: fields.event ?? 'message', data: JSON.parse(fields.data) };
        events.push(event);
        opts.onEvent?.(event);
        if (opts.until?.(event)) {
          await reader.cancel();
          return { status: res.status, events, ended: false };
        }
      }
    }
  } catch (err) {
    // The server went away: the stream ended without a final event.
    if ((err as Error).name === 'AbortError' || (err as Error).message === 'terminated' || (err as { cause?: { code?: string } }).cause?.code === 'UND_ERR_SOCKET') {
      return { status: res.status, events, ended: true };
    }
    throw err;
  }
}
