/**
 * A TCP proxy in front of Postgres that the chaos run can cut: the workers' DATABASE_URL points
 * here, never at the shared server, which is never stopped. `cut()` closes every connection and
 * resets every new one at once (the client sees the connection refused or reset, as while
 * Postgres restarts or is unreachable); `restore()` forwards again. The proxy keeps its port
 * while cut: a port given up for the outage can be taken by any process's outgoing connection
 * (it is an ephemeral port) before `restore()` listens again — a 120 s cut lost it that way.
 * `onClientData` sees each chunk a client sends before it is forwarded and may hold it back (to
 * kill a worker in the middle of a write).
 */
import net from 'node:net';

export interface PgProxy {
  port: number;
  /** Connections open now. */
  connections(): number;
  cut(): Promise<void>;
  restore(): Promise<void>;
  /** When set and it returns true for a chunk, the chunk is not forwarded (the connection stalls). */
  onClientData: ((chunk: Buffer) => boolean) | undefined;
  close(): Promise<void>;
}

export async function startPgProxy(target: { host: string; port: number }): Promise<PgProxy> {
  const sockets = new Set<net.Socket>();
  let cut = false;
  const dropAll = () => {
    for (const s of sockets) s.destroy();
    sockets.clear();
  };
  const proxy: PgProxy = {
    port: 0,
    connections: () => sockets.size / 2,
    onClientData: undefined,
    async cut() {
      cut = true;
      dropAll();
    },
    async restore() {
      cut = false;
    },
    async close() {
      cut = true;
      dropAll();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };

  const handle = (client: net.Socket) => {
    if (cut) {
      client.on('error', () => undefined);
      client.resetAndDestroy();
      return;
    }
    const upstream = net.connect(target.port, target.host);
    sockets.add(client);
    sockets.add(upstream);
    const end = () => {
      client.destroy();
      upstream.destroy();
      sockets.delete(client);
      sockets.delete(upstream);
    };
    client.on('error', end).on('close', end);
    upstream.on('error', end).on('close', end);
    client.on('data', (chunk: Buffer) => {
      if (proxy.onClientData?.(chunk)) return;
      upstream.write(chunk);
    });
    upstream.pipe(client);
  };

  const server = net.createServer(handle);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      server.off('error', reject);
      proxy.port = (server.address() as net.AddressInfo).port;
      resolve();
    });
  });
  return proxy;
}
