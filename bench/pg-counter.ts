/**
 * Every statement the app sends to Postgres, counted on the wire: a TCP proxy between the app's
 * connections and the server that reads the protocol. Independent of the app's own accounting
 * (run_db_stats): cache and call-log batches, the statistics' own upserts, anything any pool sends.
 *
 *   statements = Query ('Q', simple protocol) + Execute ('E', extended protocol) messages
 *   commits    = CommandComplete "COMMIT", plus each implicit transaction that wrote: outside a
 *                transaction block, the statements of one simple Query (however many it holds) or
 *                those executed before one Sync run in one implicit transaction, which Postgres
 *                commits once, when it reports ReadyForQuery idle ('I'). So a write there
 *                (INSERT/UPDATE/DELETE/MERGE/COPY, and DDL) marks it, and it is counted at that
 *                ReadyForQuery — once, however many writes it held; an error in it rolls it back
 *                (not counted), and a BEGIN in it makes it the explicit block its COMMIT counts.
 *
 * The proxy cannot tell runs apart: a scenario attributes by running one run at a time and
 * reading the counters before and after it (or divides a concurrent batch's total).
 */
import net from 'node:net';

export interface WireCounts {
  statements: number;
  commits: number;
  /** Connections opened so far. */
  connections: number;
}

export interface PgCounter {
  /** host:port to put in the app's DATABASE_URL. */
  port: number;
  counts(): WireCounts;
  close(): Promise<void>;
}

const SSL_REQUEST = 80877103;
const GSS_REQUEST = 80877104;
const WRITE_TAG = /^(INSERT|UPDATE|DELETE|MERGE|COPY|CREATE|DROP|ALTER|TRUNCATE)\b/;

/** Splits a byte stream into typed messages (type byte + int32 length), keeping partial ones. */
class MessageReader {
  private buf: Buffer = Buffer.alloc(0);
  constructor(private readonly onMessage: (type: number, body: Buffer) => void) {}
  push(chunk: Buffer): void {
    this.buf = this.buf.length ? Buffer.concat([this.buf, chunk]) : chunk;
    while (this.buf.length >= 5) {
      const len = this.buf.readInt32BE(1);
      if (this.buf.length < 1 + len) return;
      this.onMessage(this.buf[0], this.buf.subarray(5, 1 + len));
      this.buf = this.buf.subarray(1 + len);
    }
  }
}

export async function startPgCounter(target: { host: string; port: number }): Promise<PgCounter> {
  const totals: WireCounts = { statements: 0, commits: 0, connections: 0 };
  const sockets = new Set<net.Socket>();
  const server = net.createServer((client) => {
    totals.connections++;
    const upstream = net.connect(target.port, target.host);
    sockets.add(client).add(upstream);
    let inTx = false;
    // Frontend: the first message(s) carry no type byte (SSLRequest/GSSENCRequest, then StartupMessage).
    let startupDone = false;
    let expectSingleByteReply = 0;
    const front = new MessageReader((type) => {
      if (type === 0x51 /* Q */ || type === 0x45 /* E */) totals.statements++;
    });
    let pending: Buffer = Buffer.alloc(0);
    client.on('data', (chunk: Buffer) => {
      upstream.write(chunk);
      if (startupDone) return front.push(chunk);
      pending = Buffer.concat([pending, chunk]);
      while (!startupDone && pending.length >= 8) {
        const len = pending.readInt32BE(0);
        if (pending.length < len) return;
        const code = pending.readInt32BE(4);
        if (code === SSL_REQUEST || code === GSS_REQUEST) expectSingleByteReply++;
        else startupDone = true;
        pending = pending.subarray(len);
      }
      if (startupDone && pending.length) front.push(pending);
    });
    // An implicit transaction (outside a block) that wrote: committed at the next ReadyForQuery 'I'.
    let implicitWrote = false;
    const back = new MessageReader((type, body) => {
      if (type === 0x43 /* C: CommandComplete */) {
        const tag = body.toString('utf8', 0, Math.max(0, body.length - 1));
        if (/^(BEGIN|START TRANSACTION)\b/.test(tag)) inTx = true;
        else if (/^COMMIT\b/.test(tag)) {
          // Also commits the writes of an implicit transaction the BEGIN turned into this block.
          totals.commits++;
          inTx = false;
          implicitWrote = false;
        } else if (/^ROLLBACK\b/.test(tag)) {
          inTx = false;
          implicitWrote = false;
        } else if (!inTx && WRITE_TAG.test(tag)) implicitWrote = true;
      } else if (type === 0x45 /* E: ErrorResponse */) {
        // Outside a block the implicit transaction is rolled back (inside one, its ROLLBACK says so).
        if (!inTx) implicitWrote = false;
      } else if (type === 0x5a /* Z: ReadyForQuery */) {
        const idle = body[0] === 0x49; /* 'I' idle */
        if (idle && implicitWrote) totals.commits++;
        implicitWrote = false;
        inTx = !idle;
      }
    });
    upstream.on('data', (chunk: Buffer) => {
      client.write(chunk);
      let rest = chunk;
      while (expectSingleByteReply > 0 && rest.length) {
        expectSingleByteReply--;
        rest = rest.subarray(1);
      }
      if (rest.length) back.push(rest);
    });
    const end = () => {
      client.destroy();
      upstream.destroy();
      sockets.delete(client);
      sockets.delete(upstream);
    };
    client.on('close', end).on('error', end);
    upstream.on('close', end).on('error', end);
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  return {
    port: (server.address() as net.AddressInfo).port,
    counts: () => ({ ...totals }),
    close: async () => {
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      for (const s of sockets) s.destroy();
      await closed;
    },
  };
}

export function wireDelta(before: WireCounts, after: WireCounts): WireCounts {
  return { statements: after.statements - before.statements, commits: after.commits - before.commits, connections: after.connections - before.connections };
}
