/**
 * A TCP proxy in front of Postgres that the chaos run can cut: the workers' DATABASE_URL points
 * here, never at the shared server, which is never stopped. `cut()` closes every connection and
 * stops listening (new connections are refused, as while Postgres restarts or is unreachable);
 * `restore()` listens again on the same port. `onClientData` sees each chunk a client sends
 * before it is forwarded and may hold it back (to kill a worker in the middle of a write).
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
  let server: net.Server | undefined;
  let port = 0;
  const proxy: PgProxy = {
    port: 0,
    connections: () => sockets.size / 2,
    onClientData: undefined,
    async cut() {
      const closing = server;
      server = undefined;
      for (const s of sockets) s.destroy();
      sockets.clear();
      if (closing) await new Promise<void>((resolve) => closing.close(() => resolve()));
    },
    async restore() {
      if (server) return;
      await listen();
    },
    close: () => proxy.cut(),
  };

  const handle = (client: net.Socket) => {
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

  const listen = () =>
    new Promise<void>((resolve, reject) => {
      const srv = net.createServer(handle);
      srv.once('error', reject);
      srv.listen(port, '127.0.0.1', () => {
        srv.off('error', reject);
        port = (srv.address() as net.AddressInfo).port;
        proxy.port = port;
        server = srv;
        resolve();
      });
    });
  await listen();
  return proxy;
}
