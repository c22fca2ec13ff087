/**
 * Several workers on one host (issue 14, gap 4): two worker processes with the same
 * configuration both start, poll and serve /metrics; the second takes free ports for its
 * metrics and Core's and says so in its log, instead of dying on "Address already in use".
 * And a real worker process stopping: a second SIGTERM does not cut its drain short.
 */
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { freePort } from '../../src/observability/metrics-server';
import { smokeTest } from '../../src/workflows';
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
  child: ChildProcess;
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
  return { child, lines, exited: () => exit };
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

it('a second SIGTERM while activities drain neither kills the worker nor aborts its provider call', async () => {
  const taskQueue = `second-sigterm-${Date.now()}`;
  const worker = startWorker(workerEnv({ sim, address: env.address, taskQueue, env: { STORYLOOM_METRICS_PORT: '0', LOG_LEVEL: 'info' } }));
  await waitFor(() => polling(worker), 60_000, 'worker polling');
  sim.resetStats();
  sim.configure({ latency: { byPurpose: { smoke: { fixedMs: 3000 } } } });
  try {
    await env.client.workflow.start(smokeTest, {
      taskQueue,
      workflowId: `second-sigterm-${Date.now()}`,
      args: [{ prompt: 'a keeper and a storm', useCache: false }],
    });
    await waitFor(() => sim.stats().currentConcurrent === 1, 30_000, 'the smoke call in flight');
    const exit = new Promise<[number | null, NodeJS.Signals | null]>((resolve) => worker.child.once('exit', (code, signal) => resolve([code, signal])));
    worker.child.kill('SIGTERM');
    await waitFor(() => worker.lines.some((l) => l.msg === 'Worker state changed' && l.state === 'DRAINING'), 10_000, 'the worker draining');
    worker.child.kill('SIGTERM');
    // Before the fix: killed by the second signal (null, 'SIGTERM'), the call aborted mid-way.
    expect(await exit).toEqual([0, null]);
    expect(sim.stats()).toMatchObject({ ok: 1, aborted: 0 });
    expect(worker.lines.filter((l) => String(l.msg).startsWith('SIGTERM')).map((l) => [l.level, String(l.msg).split(';')[0].split(':')[0]])).toEqual([
      ['info', 'SIGTERM'],
      ['warn', 'SIGTERM again'],
    ]);
    expect(worker.lines.some((l) => l.msg === 'storyloom worker stopped')).toBe(true);
  } finally {
    sim.configure({ latency: { byPurpose: { smoke: { fixedMs: 0 } } } });
  }
});

it('`npm run worker` with no Temporal server at TEMPORAL_ADDRESS says so and what to set, exit 2 (no tonic error alone, no stack)', async () => {
  const closed = await freePort(0);
  const run = spawnSync(process.execPath, ['-r', './test/helpers/ts-register.js', 'src/worker.ts'], {
    cwd: path.join(__dirname, '../..'),
    env: workerEnv({ sim, address: `127.0.0.1:${closed}`, taskQueue: 'no-server', env: { STORYLOOM_METRICS_PORT: '0' } }),
    encoding: 'utf8',
    timeout: 60_000,
  });
  expect(run.status).toBe(2);
  expect(run.stderr).toMatch(new RegExp(`^storyloom worker: Cannot reach the Temporal server at 127\\.0\\.0\\.1:${closed} \\(.*\\)\\. Start one with \`npm run temporal:start\` or set TEMPORAL_ADDRESS\\.\n$`));
});
