/**
 * Server-Sent Events on a hijacked reply: the headers (with those set so far, e.g. CORS), a retry
 * hint, a keep-alive comment so proxies keep an idle stream open, and one close for every way a
 * stream ends (the server's last event, the client leaving).
 *
 * A stream ends with one `final` event whose id is `<runId>:final`. A client that reconnects with
 * that id as its Last-Event-ID has seen the end: it gets 204 No Content, which tells an
 * EventSource to stop reconnecting, instead of the final event again (and again).
 */
import type { FastifyReply, FastifyRequest } from 'fastify';

/** The name of a stream's last event. */
export const FINAL_EVENT = 'final';

/** The id of a run's final event: the same from any API process, so a reconnect can be told to stop. */
export function finalEventId(runId: string): string {
  return `${runId}:${FINAL_EVENT}`;
}

/** Whether a Last-Event-ID names a final event (of some run). */
export function isFinalEventId(id: unknown): id is string {
  return typeof id === 'string' && id.endsWith(`:${FINAL_EVENT}`);
}

/** A keep-alive comment this often. */
const SSE_KEEPALIVE_MS = 15_000;

export interface SseFrame {
  /** Left out for an event a reconnecting client cannot resume from (the client keeps its last id). */
  id?: string;
  event: string;
  data: unknown;
}

export interface SseStream {
  send(frame: SseFrame): void;
  close(): void;
  readonly closed: boolean;
  /** Called once when the stream ends, whichever side ends it. */
  onClose(fn: () => void): void;
}

export function sseFrame(frame: SseFrame): string {
  return `${frame.id !== undefined ? `id: ${frame.id}\n` : ''}event: ${frame.event}\ndata: ${JSON.stringify(frame.data)}\n\n`;
}

/**
 * Takes over the reply and opens the stream. When the request's Last-Event-ID is a final event's
 * id, the response waits for the stream's first event: that same final event (the client has
 * it) answers 204 No Content; anything else (a newer run of the same workflow id, say) opens
 * the stream as usual.
 */
export function openSse(request: FastifyRequest, reply: FastifyReply): SseStream {
  const sseHeaders = { ...reply.getHeaders(), 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-cache, no-transform', connection: 'keep-alive', 'x-accel-buffering': 'no' };
  const lastEventId = request.headers['last-event-id'];
  reply.hijack();
  const res = reply.raw;
  let opened = false;
  const open = () => {
    if (opened) return;
    opened = true;
    res.writeHead(200, sseHeaders as Record<string, string>);
    res.write('retry: 1000\n\n');
  };
  if (!isFinalEventId(lastEventId)) open();
  const onClose: (() => void)[] = [];
  let closed = false;
  const keepAlive = setInterval(() => {
    open();
    res.write(': keep-alive\n\n');
  }, SSE_KEEPALIVE_MS);
  const end = (status?: number) => {
    if (closed) return;
    closed = true;
    clearInterval(keepAlive);
    for (const fn of onClose) fn();
    if (status === 204) {
      // No body, so none of the stream's headers: CORS and the cache rule only.
      const { 'content-type': _type, connection: _connection, 'x-accel-buffering': _buffering, ...headers } = sseHeaders;
      if (!res.destroyed) res.writeHead(204, headers as Record<string, string>);
    } else if (!res.destroyed) {
      open();
    }
    res.end();
  };
  const stream: SseStream = {
    send(frame) {
      if (closed) return;
      if (!opened && frame.event === FINAL_EVENT && frame.id === lastEventId) return end(204);
      open();
      res.write(sseFrame(frame));
    },
    close() {
      end();
    },
    get closed() {
      return closed;
    },
    onClose(fn) {
      if (closed) fn();
      else onClose.push(fn);
    },
  };
  request.raw.on('close', () => stream.close());
  // The client left before the stream opened: no close event is coming.
  if (res.destroyed) stream.close();
  return stream;
}
