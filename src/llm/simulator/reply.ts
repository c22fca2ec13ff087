/** The shape route handlers answer with; the server applies latency, faults and accounting around it. */

export interface Frame {
  /** Bytes to write: the whole JSON body, one SSE event, or one NDJSON line. */
  data: string;
  /** Output tokens this frame carries, to spread per-token latency across a stream. */
  outputTokens: number;
}

export interface Usage {
  inputTokens: number;
  outputTokens: number;
  embeddingInputs: number;
}

export interface Reply {
  contentType: string;
  /** null for a single JSON body. */
  streamFormat: 'sse' | 'ndjson' | null;
  frames: Frame[];
  usage: Usage;
}

/** A request the real API would reject with 400; the message is shown to the caller. */
export class BadRequest extends Error {
  override readonly name = 'BadRequest';
}

export function jsonReply(body: unknown, usage: Usage): Reply {
  return {
    contentType: 'application/json',
    streamFormat: null,
    frames: [{ data: JSON.stringify(body), outputTokens: usage.outputTokens }],
    usage,
  };
}

/** The first frame cut in half, still ending like a frame, so SDK parsers fail on the JSON, not on framing. */
export function malformedBody(reply: Reply): string {
  const first = reply.frames[0]?.data.replace(/\n+$/, '') ?? '{';
  const cut = first.slice(0, Math.max(1, Math.floor(first.length / 2)));
  return reply.streamFormat === 'sse' ? `${cut}\n\n` : reply.streamFormat === 'ndjson' ? `${cut}\n` : cut;
}
