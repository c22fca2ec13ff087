/**
 * Several workers on one host (issue 14, gap 4): two worker processes with the same
 * configuration both start, poll and serve /metrics; the second takes free ports for its
 * metrics and Core's and says so in its log, instead of dying on "Address already in use".
 */
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { freePort } from '../../src/observability/metrics-server';
import { startSimulator, startTestTemporal, type RunningSimulator } from '../helpers/harness';
import { waitFor } from '../helpers/wait';
import { workerEnv } from '../helpers/worker-process';

let env: TestWorkflowEnvironment;
let sim: RunningSimulator;
const children: ChildProcess[] = [];

beforeAll(async () => {
  [env, sim] = await Promise.all([startTestTemporal(), startSimulator()]);
});
afterAll(async () => {
  await Promise.all(
    children.map((c) => new Promise<void>((resolve) => {
      if (c.exitCode !== null || c.signalCode !== null) return resolve();
      c.once('exit', () => resolve());
      c.kill('SIGTERM');
      setTimeout(() => c.kill('SIGKILL'), 20_000).unref();
    })),
  );
  await sim?.close();
  await env?.teardown();
});

interface Started {
  lines: Record<string, unknown>[];
  exited: () => string | undefined;
}

function startWorker(vars: Record<string, string>): Started {
  const child = spawn(process.execPath, [path.join(__dirname, '../helpers/worker-main-child.js')], { env: vars, stdio: ['ignore', 'pipe', 'pipe'] });
  children.push(child);
  const lines: Record<string, unknown>[] = [];
  let rest = '';
  let exit: string | undefined;
  child.stdout?.on('data', (d: Buffer) => {
    const parts = (rest + d.toString()).split('\n');
    rest = parts.pop() ?? '';
    for (const p of parts) {
      try {
        lines.push(JSON.parse(p) as Record<string, unknown>);
      } catch {
        // not a log line
      }
    }
  });
  let stderr = '';
  child.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
  child.once('exit', (code, signal) => (exit = `exited ${code ?? signal}: ${stderr.slice(-2000)}`));
  return { lines, exited: () => exit };
}

const polling = (w: Started) => {
  if (w.exited()) throw new Error(w.exited());
  return w.lines.some((l) => String(l.msg).startsWith('storyloom worker polling'));
};
const metricsPort = (w: Started) => w.lines.find((l) => l.msg === 'serving Prometheus metrics at /metrics')?.port as number;

it('two workers with the same metrics port both run and both serve /metrics', async () => {
  const port = await freePort(0);
  const vars = workerEnv({ sim, address: env.address, taskQueue: `one-host-${Date.now()}`, env: { STORYLOOM_METRICS_PORT: String(port), LOG_LEVEL: 'info' } });
  const first = startWorker(vars);
  await waitFor(() => polling(first), 60_000, 'first worker polling');
  const second = startWorker(vars);
  await waitFor(() => polling(second), 60_000, 'second worker polling');

  expect(metricsPort(first)).toBe(port);
  expect(metricsPort(second)).not.toBe(port);
  expect(second.lines.some((l) => String(l.msg).startsWith(`metrics port ${port} is taken`))).toBe(true);
  expect(second.lines.some((l) => String(l.msg).startsWith('Temporal SDK metrics port taken'))).toBe(true);
  for (const w of [first, second]) {
    const res = await fetch(`http://127.0.0.1:${metricsPort(w)}/metrics`);
    expect(res.status).toBe(200);
    const text = await res.text();
    expect(text).toContain('storyloom_llm_call_duration_seconds');
    // Core's own metrics, from each process's own Core port.
    expect(text).not.toContain('Temporal SDK metrics unavailable');
  }
  expect(first.exited()).toBeUndefined();
  expect(second.exited()).toBeUndefined();
});
