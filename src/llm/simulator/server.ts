/** The HTTP server: provider routes, the /_sim control endpoints, and the state they share. */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import { BatchStore } from './batch-store';
import { ConfigError, defaultConfig, mergeConfig } from './config';
import { FaultInjector } from './faults';
import { BodyTooLarge, readBody, sendJson } from './http-io';
import { Limiter } from './limits';
import { serveProviderRequest, type PipelineState } from './pipeline';
import { anthropicCountTokens, anthropicMessages } from './routes/anthropic';
import { serveBatchRequest, type BatchState } from './routes/batches';
import { ollamaChat, ollamaEmbed } from './routes/ollama';
import { openaiChat, openaiEmbeddings } from './routes/openai';
import type { RouteHandler } from './routes/route';
import { StatsRecorder } from './stats';
import type { DeepPartial, LatencyDraw, SimulatorConfig, SimulatorStats } from './types';

/** Draws kept for `latencies()`: the newest ones (a bench reads them after each run). */
const MAX_DRAWS_KEPT = 100_000;

const ROUTES = new Map<string, RouteHandler>(
  [anthropicMessages, openaiChat, openaiEmbeddings, ollamaChat, ollamaEmbed, anthropicCountTokens].map((r) => [r.path, r]),
);

/** Generous: long prompts and embedding batches, but not unbounded memory. */
const MAX_BODY_BYTES = 32 * 1024 * 1024;

export class SimulatorState implements PipelineState, BatchState {
  config: SimulatorConfig;
  readonly stats = new StatsRecorder();
  readonly limiter = new Limiter();
  readonly faults: FaultInjector;
  readonly batches: BatchStore;
  private seq = 0;
  private draws: LatencyDraw[] = [];
  private drawSeq = 0;

  constructor(initial?: DeepPartial<SimulatorConfig>) {
    this.config = mergeConfig(defaultConfig(), initial);
    this.faults = new FaultInjector(this.config.seed);
    this.batches = new BatchStore(this.config.seed);
  }

  nextRequestId(): string {
    return String(++this.seq);
  }

  recordDraw(draw: Omit<LatencyDraw, 'seq' | 'atMs'>): void {
    this.draws.push({ seq: ++this.drawSeq, ...draw, atMs: performance.timeOrigin + performance.now() });
    if (this.draws.length > MAX_DRAWS_KEPT) this.draws.splice(0, this.draws.length - MAX_DRAWS_KEPT);
  }

  /** Draws after `afterSeq`, oldest first. */
  latencies(afterSeq = 0): LatencyDraw[] {
    return this.draws.filter((d) => d.seq > afterSeq);
  }

  /** Throws ConfigError (and changes nothing) when the merged config is invalid. */
  configure(patch: DeepPartial<SimulatorConfig>): SimulatorConfig {
    const next = mergeConfig(this.config, patch);
    if (patch.faults !== undefined) this.faults.rulesReplaced();
    if (patch.batches?.itemFaults !== undefined) this.batches.rulesReplaced();
    if (next.seed !== this.config.seed) {
      this.faults.reseed(next.seed);
      this.batches.reseed(next.seed);
    }
    this.config = next;
    return structuredClone(next);
  }

  /** Stats, fault budgets, fault PRNG and rpm windows start over; in-flight requests keep their slots. */
  reset(): void {
    this.stats.reset();
    this.faults.reset();
    this.limiter.resetWindows();
    this.batches.reset();
  }

  snapshot(): SimulatorStats {
    return { ...this.stats.snapshot(), batches: this.batches.stats() };
  }
}

async function control(state: SimulatorState, req: IncomingMessage, res: ServerResponse, path: string): Promise<void> {
  const key = `${req.method} ${path}`;
  switch (key) {
    case 'GET /_sim/stats':
      return sendJson(res, 200, state.snapshot());
    case 'POST /_sim/reset':
      state.reset();
      return sendJson(res, 200, { ok: true });
    case 'GET /_sim/latencies':
      return sendJson(res, 200, state.latencies(Number(new URL(req.url ?? '/', 'http://simulator').searchParams.get('after') ?? 0) || 0));
    case 'GET /_sim/config':
      return sendJson(res, 200, state.config);
    case 'PUT /_sim/config': {
      let patch: unknown;
      try {
        patch = JSON.parse(await readBody(req, MAX_BODY_BYTES));
      } catch {
        return sendJson(res, 400, { error: { type: 'invalid_request', message: 'body must be a JSON object' } });
      }
      try {
        return sendJson(res, 200, state.configure(patch as DeepPartial<SimulatorConfig>));
      } catch (err) {
        if (err instanceof ConfigError) return sendJson(res, 400, { error: { type: 'invalid_config', message: err.message } });
        throw err;
      }
    }
    default:
      return notFound(req, res, path);
  }
}

function notFound(req: IncomingMessage, res: ServerResponse, path: string): void {
  sendJson(res, 404, { error: { type: 'not_found', message: `No route for ${req.method} ${path}` } });
}

async function handle(state: SimulatorState, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const path = new URL(req.url ?? '/', 'http://simulator').pathname;
  if (path.startsWith('/_sim/')) return control(state, req, res, path);
  if (await serveBatchRequest(state, req, res, path)) return;
  const route = ROUTES.get(path);
  if (!route || req.method !== 'POST') {
    req.resume();
    return notFound(req, res, path);
  }
  let raw: string;
  try {
    raw = await readBody(req, MAX_BODY_BYTES);
  } catch (err) {
    if (err instanceof BodyTooLarge) sendJson(res, 413, { error: { type: 'request_too_large', message: err.message } });
    return; // otherwise the client left while sending
  }
  await serveProviderRequest(state, route, req, res, raw);
}

export interface SimulatorServer {
  server: Server;
  /** Stops listening and destroys every open socket (hung requests included). */
  close(): Promise<void>;
}

export function createSimulatorServer(state: SimulatorState): SimulatorServer {
  const sockets = new Set<Socket>();
  /** Resolve when their response closes; close() waits for them so aborts are counted before it returns. */
  const open = new Set<Promise<void>>();
  const server = createServer((req, res) => {
    const closed = new Promise<void>((resolve) => res.once('close', resolve));
    open.add(closed);
    res.once('close', () => open.delete(closed));
    handle(state, req, res).catch((err: unknown) => {
      // Last resort: a bug must not take the server down or leave the client waiting.
      sendJson(res, 500, { error: { type: 'simulator_error', message: err instanceof Error ? err.message : String(err) } });
    });
  });
  server.on('connection', (socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  return {
    server,
    close: async () => {
      const stopped = new Promise<void>((resolve, reject) => server.close((err) => (err ? reject(err) : resolve())));
      for (const socket of sockets) socket.destroy();
      await stopped;
      await Promise.all(open);
    },
  };
}
