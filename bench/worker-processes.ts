/**
 * Worker processes as a user runs them: `node <dist>/src/worker.js` with nothing but environment
 * variables (the README's configuration), here pointed at the bench's Temporal server, database
 * (through the wire counter) and simulator. Resolves once every process polls its queues.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream } from 'node:fs';
import path from 'node:path';
import type { Client } from '@temporalio/client';
import { llmTaskQueue } from '../src/shared/llm-routing';

export interface WorkerProcesses {
  pids: number[];
  stop(): Promise<void>;
}

/** Pollers of a task queue (1 = workflow tasks, 2 = activity tasks), by identity. */
async function pollers(client: Client, queue: string, type: 1 | 2): Promise<number> {
  const r = await client.workflowService.describeTaskQueue({ namespace: 'default', taskQueue: { name: queue }, taskQueueType: type });
  return new Set((r.pollers ?? []).map((p) => p.identity)).size;
}

export async function startWorkerProcesses(opts: {
  client: Client;
  count: number;
  env: Record<string, string>;
  taskQueue: string;
  logFile: string;
  timeoutMs?: number;
}): Promise<WorkerProcesses> {
  // Compiled next to this file: <root>/.data/bench-dist/bench → <root>/.data/bench-dist/src/worker.js.
  const script = path.resolve(__dirname, '../src/worker.js');
  const log = createWriteStream(opts.logFile, { flags: 'a' });
  const children: ChildProcess[] = [];
  for (let i = 0; i < opts.count; i++) {
    const child = spawn(process.execPath, [script], {
      env: { PATH: process.env.PATH ?? '', ...opts.env, STORYLOOM_TASK_QUEUE: opts.taskQueue },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    child.stdout?.pipe(log, { end: false });
    child.stderr?.pipe(log, { end: false });
    children.push(child);
  }
  const stop = async () => {
    await Promise.all(
      children.map(
        (c) =>
          new Promise<void>((resolve) => {
            if (c.exitCode !== null || c.signalCode !== null) return resolve();
            c.once('exit', () => resolve());
            c.kill('SIGTERM');
            setTimeout(() => {
              if (c.exitCode === null) c.kill('SIGKILL');
            }, 15_000).unref();
          }),
      ),
    );
    log.end();
  };
  const deadline = Date.now() + (opts.timeoutMs ?? 120_000);
  const anthropic = llmTaskQueue(opts.taskQueue, 'anthropic');
  try {
    for (;;) {
      const dead = children.find((c) => c.exitCode !== null);
      if (dead) throw new Error(`a worker process exited with code ${dead.exitCode} (see ${opts.logFile})`);
      const [wf, llm] = await Promise.all([pollers(opts.client, opts.taskQueue, 1), pollers(opts.client, anthropic, 2)]);
      if (wf >= opts.count && llm >= opts.count) break;
      if (Date.now() > deadline) throw new Error(`worker processes not polling after ${opts.timeoutMs ?? 120_000} ms (see ${opts.logFile})`);
      await new Promise((r) => setTimeout(r, 500));
    }
  } catch (err) {
    await stop();
    throw err;
  }
  return { pids: children.map((c) => c.pid ?? -1), stop };
}
