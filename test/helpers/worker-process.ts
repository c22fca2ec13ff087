/**
 * Runs the app's workers in a child process (test/helpers/worker-child.js), so a test can
 * kill them for real: SIGKILL, no shutdown, no flush.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import type { RunningSimulator } from '../../src/llm/simulator';
import { TEST_PAYLOAD_KEYS, testDatabaseUrl } from './harness';

export interface WorkerProcess {
  child: ChildProcess;
  /** What the child wrote to stderr (the last 8 KB), for a failing test's message. */
  stderr(): string;
  /** SIGKILL: the process dies at once, whatever it was doing. */
  kill(): Promise<void>;
  /** SIGTERM: the workers shut down and the process exits. */
  stop(): Promise<void>;
}

/** The environment the child's loadConfig() reads: the test's database, simulator and server. */
export function workerEnv(opts: { sim: RunningSimulator; address: string; taskQueue: string; env?: Record<string, string> }): Record<string, string> {
  const bundle = process.env.STORYLOOM_TEST_WORKFLOW_BUNDLE;
  if (!bundle) throw new Error('STORYLOOM_TEST_WORKFLOW_BUNDLE is not set: run tests through jest (globalSetup)');
  return {
    PATH: process.env.PATH ?? '',
    DATABASE_URL: testDatabaseUrl(),
    ANTHROPIC_API_KEY: 'test-anthropic-key',
    OPENAI_API_KEY: 'test-openai-key',
    ANTHROPIC_BASE_URL: opts.sim.url,
    OPENAI_BASE_URL: `${opts.sim.url}/v1`,
    OLLAMA_HOST: opts.sim.url,
    STORYLOOM_LLM_TIMEOUT_MS: '5000',
    STORYLOOM_PAYLOAD_KEYS: TEST_PAYLOAD_KEYS,
    TEMPORAL_ADDRESS: opts.address,
    STORYLOOM_TASK_QUEUE: opts.taskQueue,
    STORYLOOM_TEST_WORKFLOW_BUNDLE: bundle,
    LOG_LEVEL: 'warn',
    ...opts.env,
  };
}

/** Starts a worker process; resolves once its workers poll (or rejects if it dies first). */
export async function startWorkerProcess(env: Record<string, string>, readyTimeoutMs = 60_000): Promise<WorkerProcess> {
  const child = spawn(process.execPath, [path.join(__dirname, 'worker-child.js')], { env, stdio: ['ignore', 'ignore', 'pipe', 'ipc'] });
  let err = '';
  child.stderr?.on('data', (d: Buffer) => {
    err = (err + d.toString()).slice(-8192);
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`worker process not ready after ${readyTimeoutMs} ms:\n${err}`)), readyTimeoutMs);
    child.once('message', () => {
      clearTimeout(timer);
      resolve();
    });
    child.once('exit', (code, signal) => {
      clearTimeout(timer);
      reject(new Error(`worker process exited (${code ?? signal}) before it was ready:\n${err}`));
    });
  });
  const end = async (signal: NodeJS.Signals) => {
    if (child.exitCode === null && child.signalCode === null) child.kill(signal);
    await exited;
  };
  return {
    child,
    stderr: () => err,
    kill: () => end('SIGKILL'),
    async stop() {
      const force = setTimeout(() => child.kill('SIGKILL'), 30_000);
      await end('SIGTERM');
      clearTimeout(force);
    },
  };
}
