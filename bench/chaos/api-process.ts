/**
 * The HTTP API as a child process the chaos run can SIGKILL: `storyloom serve` (src/starter.ts,
 * sources compiled on load, as bin/storyloom.js runs the built one) on a fixed loopback port, its
 * output appended to a log file that the secrets search reads afterwards.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, openSync, readFileSync } from 'node:fs';
import path from 'node:path';

export interface ChaosApi {
  pid: number;
  url: string;
  kill(): Promise<void>;
  stop(): Promise<void>;
}

const ROOT = path.resolve(__dirname, '../..');
const LISTENING = 'storyloom API listening on';

const countListening = (logFile: string) => readFileSync(logFile, 'utf8').split(LISTENING).length - 1;

/** Starts `storyloom serve --host 127.0.0.1 --port <port>` with `env`; resolves once it listens. */
export async function startChaosApi(env: Record<string, string>, port: number, logFile: string, readyTimeoutMs = 180_000): Promise<ChaosApi> {
  const fd = openSync(logFile, 'a');
  // The log file gathers every start of the case's API: ready at one more "listening" line than now.
  const wanted = countListening(logFile) + 1;
  const script = `require('./src/starter').main(['serve', '--host', '127.0.0.1', '--port', '${port}']).then((c) => process.exit(c), (e) => { console.error(e); process.exit(1); })`;
  const child: ChildProcess = spawn(process.execPath, ['-r', './test/helpers/ts-register.js', '-e', script], { env, cwd: ROOT, stdio: ['ignore', fd, fd] });
  closeSync(fd);
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => {
      clearInterval(poll);
      reject(new Error(`API not listening after ${readyTimeoutMs} ms; see ${logFile}`));
    }, readyTimeoutMs);
    const poll = setInterval(() => {
      if (countListening(logFile) < wanted) return;
      clearInterval(poll);
      clearTimeout(timer);
      resolve();
    }, 100);
    child.once('exit', (code, signal) => {
      clearInterval(poll);
      clearTimeout(timer);
      reject(new Error(`API exited (${code ?? signal}) before it listened; see ${logFile}`));
    });
  });
  const end = async (signal: NodeJS.Signals) => {
    if (child.exitCode === null && child.signalCode === null) child.kill(signal);
    await exited;
  };
  return {
    pid: child.pid ?? -1,
    url: `http://127.0.0.1:${port}`,
    kill: () => end('SIGKILL'),
    async stop() {
      const force = setTimeout(() => child.kill('SIGKILL'), 30_000);
      await end('SIGTERM');
      clearTimeout(force);
    },
  };
}
