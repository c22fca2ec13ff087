/**
 * The life of one provider request: parse, authenticate, admit (limits), maybe inject a fault,
 * build the answer, wait out the latency and write it, with every outcome accounted in stats.
 */
import type { IncomingMessage, OutgoingHttpHeaders, ServerResponse } from 'node:http';
import type { FaultInjector } from './faults';
import { retryAfterHeaders, sendJson } from './http-io';
import { firstByteMs, jitterFactor, latencySpecFor, outputMs, sleep } from './latency';
import type { Limiter } from './limits';
import { apiKeyFrom, errorBody, requestIdHeader, streamErrorFrame, type ErrorKind } from './providers';
import { BadRequest, malformedBody, type Reply } from './reply';
import type { RouteHandler } from './routes/route';
import type { RequestRecord, StatsRecorder } from './stats';
import { ROUTE_PROVIDER, type FaultKind, type LatencyDraw, type Provider, type RouteName, type SimulatorConfig } from './types';

export const PURPOSE_HEADER = 'x-storyloom-purpose';

export interface PipelineState {
  config: SimulatorConfig;
  stats: StatsRecorder;
  limiter: Limiter;
  faults: FaultInjector;
  nextRequestId(): string;
  /** Keeps the latency a request drew (the bench computes its bounds from them). */
  recordDraw(draw: Omit<LatencyDraw, 'seq' | 'atMs'>): void;
}

const ERROR_FAULTS: Record<Exclude<FaultKind, 'hang' | 'malformed' | 'wrongShape' | 'streamError' | 'streamStall'>, { status: number; kind: ErrorKind; message: string }> = {
  http500: { status: 500, kind: 'server', message: 'Simulated internal server error.' },
  http529: { status: 529, kind: 'overloaded', message: 'Simulated overload.' },
  http429: { status: 429, kind: 'rate_limit', message: 'Simulated rate limit.' },
  http400: { status: 400, kind: 'invalid_request', message: 'Simulated invalid request.' },
  http401: { status: 401, kind: 'authentication', message: 'Simulated invalid API key.' },
  http429NoRetryAfter: { status: 429, kind: 'rate_limit', message: 'Simulated rate limit (no retry-after).' },
  http404: { status: 404, kind: 'not_found', message: 'Simulated unknown model: the model does not exist or you do not have access to it.' },
  // OpenAI's wording for an account without credit; no retry-after (waiting does not help).
  http429Quota: {
    status: 429,
    kind: 'insufficient_quota',
    message: 'You exceeded your current quota, please check your plan and billing details. For more information on this error, read the docs: https://platform.openai.com/docs/guides/error-codes/api-errors.',
  },
};

/** Content deltas a `streamError` or `streamStall` stream carries before it fails. */
const STREAM_FAULT_AFTER_DELTAS = 3;

/** Whether the request asks for a stream (Ollama's chat streams unless told not to). */
function wantsStream(route: RouteName, body: unknown): boolean {
  const stream = body !== null && typeof body === 'object' ? (body as { stream?: unknown }).stream : undefined;
  if (route === 'ollama.chat') return stream !== false;
  return (route === 'anthropic.messages' || route === 'openai.chat') && stream === true;
}

/**
 * A stream that fails after its HTTP 200: the first few content deltas, then the provider's
 * mid-stream overload error instead of the rest (its closing events included).
 */
function withStreamError(reply: Reply, provider: Provider, requestId: string): Reply {
  const frames = firstDeltas(reply);
  const error = { data: streamErrorFrame(provider, 'overloaded', 'Overloaded', requestId), outputTokens: 0 };
  const outputTokens = frames.reduce((n, f) => n + f.outputTokens, 0);
  return { ...reply, frames: [...frames, error], usage: { ...reply.usage, outputTokens } };
}

/** A stream's frames up to its first few content deltas (its opening events included). */
function firstDeltas(reply: Reply): Reply['frames'] {
  let cut = 0;
  let deltas = 0;
  for (let i = 0; i < reply.frames.length && deltas < STREAM_FAULT_AFTER_DELTAS; i++) {
    if (reply.frames[i].outputTokens > 0) {
      deltas++;
      cut = i + 1;
    }
  }
  if (deltas === 0) cut = Math.min(1, reply.frames.length);
  return reply.frames.slice(0, cut);
}

function header(req: IncomingMessage, name: string): string | undefined {
  const v = req.headers[name];
  return Array.isArray(v) ? v[0] : v;
}

export async function serveProviderRequest(
  state: PipelineState,
  route: RouteHandler,
  req: IncomingMessage,
  res: ServerResponse,
  rawBody: string,
): Promise<void> {
  const cfg = state.config; // the config at arrival governs the whole request
  const provider = ROUTE_PROVIDER[route.name];
  const purpose = header(req, PURPOSE_HEADER)?.trim() || 'unknown';
  const requestId = state.nextRequestId();
  const idHeaders = { [requestIdHeader(provider)]: `req_sim_${requestId}` };
  const rec = state.stats.begin(route.name, purpose);

  const fail = (status: number, kind: ErrorKind, statsKey: string, message: string, headers: OutgoingHttpHeaders = {}) => {
    rec.error(statsKey, status);
    sendJson(res, status, errorBody(provider, kind, message, `req_sim_${requestId}`), { ...idHeaders, ...headers });
  };

  let body: unknown;
  try {
    body = JSON.parse(rawBody);
  } catch {
    return fail(400, 'invalid_request', '400', 'The request body is not valid JSON.');
  }

  const expectedKey = cfg.apiKeys[provider];
  if (expectedKey !== undefined && apiKeyFrom(provider, req.headers) !== expectedKey) {
    return fail(401, 'authentication', '401', 'invalid x-api-key');
  }

  const admission = state.limiter.admit(provider, cfg.limits[provider], cfg.retryAfterMs, performance.now());
  if (!admission.ok) {
    const what = admission.reason === 'rpm' ? 'requests per minute' : 'concurrent requests';
    return fail(429, 'rate_limit', '429', `Simulated rate limit: too many ${what} for ${provider}.`, retryAfterHeaders(admission.retryAfterMs));
  }

  // From here on the request holds a concurrency slot until its response ends or its client goes away.
  rec.enter();
  const gone = new AbortController();
  res.on('finish', admission.release);
  res.on('close', () => {
    admission.release();
    if (!res.writableFinished) {
      gone.abort();
      rec.aborted();
    }
  });

  const build = (wrongShape = false): Reply | undefined => {
    try {
      return route.handle(body, { requestId, now: new Date(), embeddingDimensions: cfg.embeddingDimensions, wrongShape });
    } catch (err) {
      if (err instanceof BadRequest) fail(400, 'invalid_request', '400', err.message);
      else fail(500, 'server', '500', `Simulator bug: ${err instanceof Error ? err.message : String(err)}`);
      return undefined;
    }
  };

  const fault = state.faults.pick(cfg.faults, route.name, purpose, rawBody, wantsStream(route.name, body));
  if (fault?.kind === 'hang') {
    rec.error('hang', 0); // never answered: the close handler frees the slot and counts the abort
    return;
  }
  if (fault?.kind === 'malformed') {
    const reply = build();
    if (!reply) return;
    rec.error('malformed', 200);
    const data = malformedBody(reply);
    res.writeHead(200, {
      ...idHeaders,
      'content-type': reply.streamFormat ? reply.contentType : 'application/json',
      'content-length': Buffer.byteLength(data),
    });
    res.end(data);
    return;
  }
  if (fault?.kind === 'wrongShape') {
    const reply = build(true);
    if (!reply) return;
    rec.error('wrongShape', 200);
    await deliver(state, cfg, route, purpose, rawBody, reply, res, rec, idHeaders, gone.signal);
    return;
  }
  if (fault?.kind === 'streamError') {
    const reply = build();
    if (!reply) return;
    if (reply.streamFormat === null) {
      await deliver(state, cfg, route, purpose, rawBody, reply, res, rec, idHeaders, gone.signal);
      return;
    }
    const failing = withStreamError(reply, provider, `req_sim_${requestId}`);
    await deliver(state, cfg, route, purpose, rawBody, failing, res, rec, idHeaders, gone.signal, () => rec.error('streamError', 200));
    return;
  }
  if (fault?.kind === 'streamStall') {
    const reply = build();
    if (!reply) return;
    if (reply.streamFormat === null) {
      await deliver(state, cfg, route, purpose, rawBody, reply, res, rec, idHeaders, gone.signal);
      return;
    }
    // Counted at once; the request ends as aborted when the client gives up on it.
    rec.error('streamStall', 0);
    const stalled = { ...reply, frames: firstDeltas(reply) };
    await deliver(state, cfg, route, purpose, rawBody, stalled, res, rec, idHeaders, gone.signal, () => undefined, true);
    return;
  }
  if (fault) {
    const spec = ERROR_FAULTS[fault.kind];
    const extra = fault.kind === 'http429' ? retryAfterHeaders(fault.retryAfterMs ?? cfg.retryAfterMs) : {};
    return fail(spec.status, spec.kind, fault.kind, spec.message, extra);
  }

  const reply = build();
  if (reply) await deliver(state, cfg, route, purpose, rawBody, reply, res, rec, idHeaders, gone.signal);
}

/**
 * Writes the reply after its latency: all up front for JSON, first-byte then per-delta for
 * streams. The whole latency is scaled by the request's jitter draw, which is recorded.
 */
async function deliver(
  state: PipelineState,
  cfg: SimulatorConfig,
  route: RouteHandler,
  purpose: string,
  rawBody: string,
  reply: Reply,
  res: ServerResponse,
  rec: RequestRecord,
  idHeaders: OutgoingHttpHeaders,
  signal: AbortSignal,
  /** How the request ends once the whole reply is written (a `streamError` stream ends as an error). */
  finished: () => void = () => rec.ok(reply.usage),
  /** A stalled stream: after its frames the response stays open and silent until the client leaves. */
  stall = false,
): Promise<void> {
  const spec = latencySpecFor(cfg, route.name, purpose);
  const factor = jitterFactor(spec.jitter ?? cfg.jitter, cfg.seed, purpose, rawBody);
  const scale = cfg.timeScale * factor;
  const meanMs = firstByteMs(spec, reply.usage, cfg.timeScale) + outputMs(spec, reply.usage.outputTokens, cfg.timeScale);
  state.recordDraw({ provider: ROUTE_PROVIDER[route.name], route: route.name, purpose, meanMs, ms: meanMs * factor });
  res.on('finish', finished);

  if (reply.streamFormat === null) {
    const wait = meanMs * factor;
    if (!(await sleep(wait, signal))) return;
    const data = reply.frames[0].data;
    res.writeHead(200, { ...idHeaders, 'content-type': reply.contentType, 'content-length': Buffer.byteLength(data) });
    res.end(data);
    return;
  }

  if (!(await sleep(firstByteMs(spec, reply.usage, scale), signal))) return;
  res.writeHead(200, { ...idHeaders, 'content-type': reply.contentType, 'cache-control': 'no-cache' });
  res.flushHeaders();
  // Frames follow a schedule from the first byte, so timer granularity does not add up over many deltas.
  const start = performance.now();
  let due = 0;
  for (const frame of reply.frames) {
    due += outputMs(spec, frame.outputTokens, scale);
    if (!(await sleep(start + due - performance.now(), signal))) return;
    res.write(frame.data);
  }
  if (!stall) res.end();
}
