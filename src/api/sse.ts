/**
 * Server-Sent Events on a hijacked reply: the headers (with those set so far, e.g. CORS), a retry
 * hint, a keep-alive comment so proxies keep an idle stream open, and one close for every way a
 * stream ends (the server's last event, the client leaving).
 */
import type { FastifyReply, FastifyRequest } from 'fastify';

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

/** Takes over the reply and opens the stream. */
export function openSse(request: FastifyRequest, reply: FastifyReply): SseStream {
  const headers = { ...reply.getHeaders(), 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-cache, no-transform', connection: 'keep-alive', 'x-accel-buffering': 'no' };
  reply.hijack();
  const res = reply.raw;
  res.writeHead(200, headers as Record<string, string>);
  res.write('retry: 1000\n\n');
  const onClose: (() => void)[] = [];
  let closed = false;
  const keepAlive = setInterval(() => res.write(': keep-alive\n\n'), SSE_KEEPALIVE_MS);
  const stream: SseStream = {
    send(frame) {
      if (!closed) res.write(sseFrame(frame));
    },
    close() {
      if (closed) return;
      closed = true;
      clearInterval(keepAlive);
      for (const fn of onClose) fn();
      res.end();
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
