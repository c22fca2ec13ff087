/**
 * The chaos run's own Temporal dev server: the project's CLI binary on fixed free ports with its
 * state in a SQLite file, so it can be killed with SIGKILL and started again on the same data.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, openSync } from 'node:fs';
import { STORYLOOM_SEARCH_ATTRIBUTES } from '../../src/shared/search-attributes';
import { dynamicConfigArgs } from '../../src/shared/temporal-server-settings';
import { freePort, waitUntilServing } from '../temporal-server';

export interface ChaosDevServer {
  address: string;
  uiPort: number;
  /** SIGKILL: no shutdown, whatever the server was writing. */
  kill(): Promise<void>;
  /** Starts it again on the same ports and data file; resolves once it answers. */
  start(): Promise<void>;
  stop(): Promise<void>;
}

const SEARCH_ATTRIBUTE_TYPES: Record<string, string> = { KEYWORD: 'Keyword', TEXT: 'Text', INT: 'Int', BOOL: 'Bool', DATETIME: 'Datetime', DOUBLE: 'Double' };

export async function startDevServer(cli: string, dbFile: string, logFile: string): Promise<ChaosDevServer> {
  const [port, httpPort, metricsPort, uiPort] = [await freePort(), await freePort(), await freePort(), await freePort()];
  const address = `127.0.0.1:${port}`;
  const args = [
    'server', 'start-dev', '--ip', '127.0.0.1', '--port', String(port), '--http-port', String(httpPort),
    '--metrics-port', String(metricsPort), '--ui-port', String(uiPort), '--headless',
    '--db-filename', dbFile, '--log-format', 'json', '--log-level', 'warn',
    ...dynamicConfigArgs(),
    ...STORYLOOM_SEARCH_ATTRIBUTES.flatMap((key) => ['--search-attribute', `${key.name}=${SEARCH_ATTRIBUTE_TYPES[key.type] ?? 'Keyword'}`]),
  ];
  let child: ChildProcess | undefined;
  let exited: Promise<void> = Promise.resolve();

  const start = async () => {
    const fd = openSync(logFile, 'a');
    const proc = spawn(cli, args, { stdio: ['ignore', fd, fd] });
    closeSync(fd);
    child = proc;
    let gone = false;
    exited = new Promise<void>((resolve) => proc.once('exit', () => { gone = true; resolve(); }));
    await waitUntilServing({ address, child: proc, exited: () => gone, logFile, timeoutMs: 90_000 });
  };
  const end = async (signal: NodeJS.Signals) => {
    if (child && child.exitCode === null && child.signalCode === null) child.kill(signal);
    await exited;
  };
  await start();
  return {
    address,
    uiPort,
    kill: () => end('SIGKILL'),
    start,
    async stop() {
      const force = setTimeout(() => child?.kill('SIGKILL'), 10_000);
      await end('SIGTERM');
      clearTimeout(force);
    },
  };
}
