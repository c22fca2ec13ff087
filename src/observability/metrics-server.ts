/**
 * `GET /metrics` for Prometheus: our registry, followed by the Temporal SDK's own worker
 * metrics (task slots, poll latencies, sticky cache, ...). Core serves those on a separate
 * loopback port (see installRuntime: metrics port + 1); appending them here means one scrape
 * target per worker process shows both.
 */
import { createServer, type Server } from 'node:http';
import net, { type AddressInfo } from 'node:net';
import type { Registry } from 'prom-client';

export interface MetricsServer {
  port: number;
  url: string;
  close(): Promise<void>;
}

export interface MetricsServerOptions {
  /** Core's Prometheus endpoint (`http://127.0.0.1:<port+1>/metrics`); omitted = ours only. */
  temporalMetricsUrl?: string;
  /** Interface to listen on; default all, as a scraper usually runs elsewhere. */
  host?: string;
  /**
   * When the port is taken (another worker on this host), listen on a free one instead and
   * report it here; without it, a taken port is an error.
   */
  onPortTaken?: (wanted: number, got: number) => void;
}

export async function startMetricsServer(port: number, registry: Registry, opts: MetricsServerOptions = {}): Promise<MetricsServer> {
  const server = createServer((req, res) => {
    if (req.method !== 'GET' || (req.url ?? '').split('?')[0] !== '/metrics') {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('Not found: metrics are at GET /metrics\n');
      return;
    }
    scrape(registry, opts.temporalMetricsUrl).then(
      (text) => res.writeHead(200, { 'content-type': registry.contentType }).end(text),
      (err: unknown) => res.writeHead(500, { 'content-type': 'text/plain' }).end(`metrics failed: ${errorMessage(err)}\n`),
    );
  });
  try {
    await listen(server, port, opts.host);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EADDRINUSE' || !opts.onPortTaken || port === 0) throw err;
    await listen(server, 0, opts.host);
    opts.onPortTaken(port, (server.address() as AddressInfo).port);
  }
  const bound = (server.address() as AddressInfo).port;
  return {
    port: bound,
    url: `http://127.0.0.1:${bound}/metrics`,
    close: () => new Promise<void>((resolve, reject) => server.close((err) => (err ? reject(err) : resolve()))),
  };
}

/** Our metrics, then Core's; Core being unreachable costs a comment line, never the scrape. */
export async function scrape(registry: Registry, temporalMetricsUrl?: string): Promise<string> {
  const ours = await registry.metrics();
  if (!temporalMetricsUrl) return ours;
  try {
    const res = await fetch(temporalMetricsUrl, { signal: AbortSignal.timeout(2000) });
    if (!res.ok) throw new Error(`HTTP ${res.status}`);
    const core = await res.text();
    return `${ours.endsWith('\n') ? ours : `${ours}\n`}# Temporal SDK (Core) metrics from ${temporalMetricsUrl}\n${core}`;
  } catch (err) {
    return `${ours}\n# Temporal SDK metrics unavailable from ${temporalMetricsUrl}: ${errorMessage(err)}\n`;
  }
}

function listen(server: Server, port: number, host: string | undefined): Promise<void> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
}

/**
 * `preferred` when it is free on `host`, else a free port the system picks: several worker
 * processes on one host each get a port (Core's metrics port cannot fall back by itself).
 */
export async function freePort(preferred: number, host = '127.0.0.1'): Promise<number> {
  const tryPort = (port: number) =>
    new Promise<number | undefined>((resolve) => {
      const probe = net.createServer();
      probe.once('error', () => resolve(undefined));
      probe.listen(port, host, () => {
        const got = (probe.address() as AddressInfo).port;
        probe.close(() => resolve(got));
      });
    });
  return (await tryPort(preferred)) ?? (await tryPort(0)) ?? 0;
}

function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
