/**
 * Live text for watchers, outside workflow history: a generation activity publishes its deltas
 * with Postgres NOTIFY on a channel per workflow; the CLI (and later the HTTP API) LISTENs.
 * Delivery is best-effort and in order per publisher (one connection); a watcher that joins
 * late misses what was sent before it listened and reads the saved version instead.
 */
import { createHash } from 'node:crypto';
import { Client } from 'pg';

export type StreamEvent =
  | { type: 'start'; variant: number; attempt: number }
  /** Text written since the previous delta; `seq` counts a variant's deltas from 0 (per attempt). */
  | { type: 'delta'; variant: number; seq: number; text: string }
  /** What was streamed so far is being written again (a reply that did not parse). */
  | { type: 'restart'; variant: number; reason: string }
  | { type: 'done'; variant: number; version: number; truncated: boolean }
  | { type: 'failed'; variant: number; message: string };

/** The channel of a workflow's generation stream (an identifier under Postgres's 63-byte limit). */
export function streamChannel(workflowId: string): string {
  return `storyloom_stream_${createHash('sha256').update(workflowId).digest('hex').slice(0, 32)}`;
}

/** NOTIFY payloads must stay under 8000 bytes: text is sent in pieces of at most this many characters. */
const MAX_TEXT_PER_EVENT = 1500;

/**
 * Publishes events on one connection of its own (not the app's pool, and not counted as a run's
 * statements). Deltas of a variant are gathered for `lingerMs` and sent as one NOTIFY, so a fast
 * stream costs a statement per interval, not per token. Publishing never throws: a watcher is
 * a nicety, the generation must not fail for it.
 */
export class StreamPublisher {
  private client: Promise<Client> | undefined;
  private chain: Promise<void> = Promise.resolve();
  private pending = new Map<string, { channel: string; variant: number; seq: number; text: string; timer: NodeJS.Timeout }>();
  private seqs = new Map<string, number>();

  constructor(
    private readonly databaseUrl: string,
    private readonly opts: { lingerMs?: number; onError?: (err: unknown) => void } = {},
  ) {}

  private connect(): Promise<Client> {
    if (this.client) return this.client;
    const client = new Client({ connectionString: this.databaseUrl });
    const connecting: Promise<Client> = client.connect().then(
      () => client,
      (err: unknown) => {
        this.drop(connecting, client);
        throw err;
      },
    );
    client.on('error', (err) => {
      this.opts.onError?.(err);
      this.drop(connecting, client);
    });
    this.client = connecting;
    return connecting;
  }

  /**
   * Forgets a connection that failed (the next send opens another) and closes it, so its socket
   * is not left open. Not awaited: end() on a broken connection need not hold up the events queued
   * behind it.
   */
  private drop(connecting: Promise<Client>, client: Client): void {
    if (this.client === connecting) this.client = undefined;
    client.end().catch(() => undefined);
  }

  private send(channel: string, event: StreamEvent): void {
    this.chain = this.chain
      .then(async () => {
        const connecting = this.connect();
        const client = await connecting;
        try {
          await client.query('SELECT pg_notify($1, $2)', [channel, JSON.stringify(event)]);
        } catch (err) {
          this.drop(connecting, client);
          throw err;
        }
      })
      .catch((err: unknown) => {
        this.opts.onError?.(err);
      });
  }

  /** Queues a text delta (sent within `lingerMs`, joined with the deltas after it). */
  delta(channel: string, variant: number, text: string): void {
    const key = `${channel}/${variant}`;
    const open = this.pending.get(key);
    if (open) {
      open.text += text;
      if (open.text.length >= MAX_TEXT_PER_EVENT) this.flushKey(key);
      return;
    }
    const seq = this.seqs.get(key) ?? 0;
    // The first delta goes at once: it is the watcher's time to first token.
    const timer = setTimeout(() => this.flushKey(key), seq === 0 ? 0 : (this.opts.lingerMs ?? 50));
    this.pending.set(key, { channel, variant, seq, text, timer });
  }

  private flushKey(key: string): void {
    const open = this.pending.get(key);
    if (!open) return;
    clearTimeout(open.timer);
    this.pending.delete(key);
    let seq = open.seq;
    for (let i = 0; i < open.text.length; i += MAX_TEXT_PER_EVENT) {
      this.send(open.channel, { type: 'delta', variant: open.variant, seq: seq++, text: open.text.slice(i, i + MAX_TEXT_PER_EVENT) });
    }
    this.seqs.set(key, seq);
  }

  /** Sends an event now, after the deltas queued before it. */
  event(channel: string, event: Exclude<StreamEvent, { type: 'delta' }>): void {
    const key = `${channel}/${event.variant}`;
    this.flushKey(key);
    if (event.type === 'start' || event.type === 'restart') this.seqs.set(key, 0);
    this.send(channel, event);
  }

  /** Forgets a variant's delta count once nothing more will be sent on it (a long-lived publisher keeps no entry per finished stream). */
  forget(channel: string, variant: number): void {
    this.flushKey(`${channel}/${variant}`);
    this.seqs.delete(`${channel}/${variant}`);
  }

  /** Resolves when everything queued so far was sent (or failed). */
  async flush(): Promise<void> {
    for (const key of [...this.pending.keys()]) this.flushKey(key);
    await this.chain;
  }

  async close(): Promise<void> {
    await this.flush();
    const client = await this.client?.catch(() => undefined);
    this.client = undefined;
    await client?.end().catch(() => undefined);
  }
}

export interface StreamSubscription {
  close(): Promise<void>;
}

/**
 * LISTENs on a workflow's channel until closed; each event goes to `onEvent` in the order sent.
 * A connection lost later (a Postgres restart) ends the stream: it goes to `onError`, if given,
 * and never to the process (pg's client emits it as 'error', which unhandled ends the process:
 * the API server with every client on it, or a CLI waiting on a run that goes on).
 */
export async function subscribeToStream(
  databaseUrl: string,
  workflowId: string,
  onEvent: (event: StreamEvent) => void,
  opts: { onError?: (err: Error) => void } = {},
): Promise<StreamSubscription> {
  const client = new Client({ connectionString: databaseUrl });
  // The events stop; callers complete from the run's own answer (a turn's update, the saved screenplay).
  client.on('error', (err) => opts.onError?.(err));
  client.on('notification', (msg) => {
    if (!msg.payload) return;
    try {
      onEvent(JSON.parse(msg.payload) as StreamEvent);
    } catch {
      // Not ours: ignore.
    }
  });
  try {
    await client.connect();
    await client.query(`LISTEN ${streamChannel(workflowId)}`);
  } catch (err) {
    // No subscription to close it later: close the connection here.
    await client.end().catch(() => undefined);
    throw err;
  }
  return {
    async close() {
      await client.end().catch(() => undefined);
    },
  };
}
