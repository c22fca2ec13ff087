/**
 * The benchmark's own Temporal dev server: the project's CLI binary (TEMPORAL_CLI), in memory,
 * on free ports, with its JSON log in a file so history-size and payload-size warnings can be
 * found afterwards. The server is told to warn at the thresholds the benchmark reports against,
 * and runs with the latency settings README "Deploying" recommends (temporal-server-settings.ts).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, openSync, readFileSync } from 'node:fs';
import net from 'node:net';
import { Connection } from '@temporalio/client';
import { dynamicConfigArgs } from '../src/shared/temporal-server-settings';

/** Thresholds the server warns at (dynamic config; the blob warning is lowered from 512 KB to 256 KB). */
export const WARN_LIMITS = {
  historyCount: 10_240,
  historySizeBytes: 10 * 1024 * 1024,
  blobSizeBytes: 256 * 1024,
};

export interface BenchTemporal {
  address: string;
  logFile: string;
  pid: number;
  /** The server's Prometheus metrics (server-metrics.ts reads them). */
  metricsUrl: string;
  /** Log lines (JSON or text) that look like history / blob size or count warnings. */
  sizeWarnings(fromByte?: number): string[];
  logBytes(): number;
  stop(): Promise<void>;
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as net.AddressInfo;
      srv.close(() => resolve(port));
    });
  });
}

/**
 * Resolves once the dev server at `address` answers for the default namespace; throws if the
 * process exits first, or kills it and throws when it has not answered in `timeoutMs`.
 */
export async function waitUntilServing(opts: { address: string; child: ChildProcess; exited: () => boolean; logFile: string; timeoutMs: number }): Promise<void> {
  const deadline = Date.now() + opts.timeoutMs;
  for (;;) {
    if (opts.exited()) throw new Error(`the Temporal dev server exited at start; see ${opts.logFile}`);
    try {
      const conn = await Connection.connect({ address: opts.address, connectTimeout: 1000 });
      try {
        await conn.workflowService.describeNamespace({ namespace: 'default' });
        return;
      } finally {
        await conn.close();
      }
    } catch (err) {
      if (Date.now() > deadline) {
        opts.child.kill('SIGKILL');
        throw new Error(`the Temporal dev server did not answer in ${opts.timeoutMs / 1000} s (${(err as Error).message}); see ${opts.logFile}`);
      }
      await new Promise((r) => setTimeout(r, 250));
    }
  }
}

const SIZE_WARNING = /(history (size|count)|historysize|historycount|blob (data )?size|blobsize|payload size|exceeds? (the )?(size|count|warn)|size limit|count limit)/i;

export async function startTemporal(cli: string, logFile: string): Promise<BenchTemporal> {
  const [port, httpPort, metricsPort] = [await freePort(), await freePort(), await freePort()];
  const fd = openSync(logFile, 'a');
  const args = [
    'server', 'start-dev', '--headless', '--ip', '127.0.0.1', '--port', String(port),
    '--http-port', String(httpPort), '--metrics-port', String(metricsPort),
    '--log-format', 'json', '--log-level', 'warn',
    '--dynamic-config-value', `limit.historyCount.warn=${WARN_LIMITS.historyCount}`,
    '--dynamic-config-value', `limit.historySize.warn=${WARN_LIMITS.historySizeBytes}`,
    '--dynamic-config-value', `limit.blobSize.warn=${WARN_LIMITS.blobSizeBytes}`,
    ...dynamicConfigArgs(),
  ];
  const child: ChildProcess = spawn(cli, args, { stdio: ['ignore', fd, fd] });
  closeSync(fd);
  let exited = false;
  const exitedPromise = new Promise<void>((resolve) => child.once('exit', () => { exited = true; resolve(); }));
  const address = `127.0.0.1:${port}`;

  await waitUntilServing({ address, child, exited: () => exited, logFile, timeoutMs: 60_000 });

  const read = () => {
    try {
      return readFileSync(logFile, 'utf8');
    } catch {
      return '';
    }
  };
  return {
    address,
    logFile,
    pid: child.pid ?? -1,
    metricsUrl: `http://127.0.0.1:${metricsPort}/metrics`,
    logBytes: () => Buffer.byteLength(read()),
    sizeWarnings(fromByte = 0) {
      const text = Buffer.from(read()).subarray(fromByte).toString('utf8');
      return text.split('\n').filter((l) => l.trim() && SIZE_WARNING.test(l));
    },
    async stop() {
      if (exited) return;
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
      await exitedPromise;
      clearTimeout(timer);
    },
  };
}
