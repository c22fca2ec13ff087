/**
 * The app's workers as a child process the chaos run can SIGKILL: test/helpers/worker-child.js
 * (the same child the crash tests use), its output appended to a log file that the secrets
 * search reads afterwards.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, openSync, readFileSync } from 'node:fs';
import path from 'node:path';

export interface ChaosWorker {
  pid: number;
  kill(): Promise<void>;
  stop(): Promise<void>;
}

const CHILD = path.resolve(__dirname, '../../test/helpers/worker-child.js');

const ROOT = path.resolve(__dirname, '../..');
/** The product's own worker entry (src/worker.ts: metrics server, its own workflow bundle), sources compiled on load. */
const ENTRY = ['-r', './test/helpers/ts-register.js', '-e', "require('./src/worker').runWorkerProcess().catch((e) => { console.error(e); process.exit(1); })"];
const POLLING = 'storyloom worker polling';

/**
 * `entry: true` starts `src/worker.ts` as `npm run worker` does (ready once it logs that it
 * polls); otherwise the crash tests' worker child with the prebuilt bundle (ready on its message).
 */
export async function startChaosWorker(env: Record<string, string>, logFile: string, opts: { entry?: boolean; readyTimeoutMs?: number } = {}): Promise<ChaosWorker> {
  const readyTimeoutMs = opts.readyTimeoutMs ?? 180_000;
  const fd = openSync(logFile, 'a');
  const child: ChildProcess = opts.entry
    ? spawn(process.execPath, ENTRY, { env, cwd: ROOT, stdio: ['ignore', fd, fd] })
    : spawn(process.execPath, [CHILD], { env, stdio: ['ignore', fd, fd, 'ipc'] });
  closeSync(fd);
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`worker not ready after ${readyTimeoutMs} ms; see ${logFile}`)), readyTimeoutMs);
    const poll = opts.entry
      ? setInterval(() => {
          if (!readFileSync(logFile, 'utf8').includes(POLLING)) return;
          clearInterval(poll);
          clearTimeout(timer);
          resolve();
        }, 250)
      : undefined;
    child.once('message', () => {
      clearTimeout(timer);
      resolve();
    });
    child.once('exit', (code, signal) => {
      clearInterval(poll);
      clearTimeout(timer);
      reject(new Error(`worker exited (${code ?? signal}) before it was ready; see ${logFile}`));
    });
  });
  const end = async (signal: NodeJS.Signals) => {
    if (child.exitCode === null && child.signalCode === null) child.kill(signal);
    await exited;
  };
  return {
    pid: child.pid ?? -1,
    kill: () => end('SIGKILL'),
    async stop() {
      const force = setTimeout(() => child.kill('SIGKILL'), 30_000);
      await end('SIGTERM');
      clearTimeout(force);
    },
  };
}
