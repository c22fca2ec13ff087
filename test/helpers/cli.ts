import type { TestWorkflowEnvironment } from '@temporalio/testing';
import type { RunningSimulator } from '../../src/llm/simulator';
import { main } from '../../src/starter';
import { TEST_PAYLOAD_KEYS, testDatabaseUrl, type RunningApp } from './harness';

/** Points the CLI (run in-process) at the test database, dev server, worker queue and simulator; returns a restore function. */
export function cliEnvironment(env: TestWorkflowEnvironment, app: RunningApp, sim: RunningSimulator): () => void {
  const saved = { ...process.env };
  Object.assign(process.env, {
    DATABASE_URL: testDatabaseUrl(),
    TEMPORAL_ADDRESS: env.address,
    STORYLOOM_TASK_QUEUE: app.taskQueue,
    ANTHROPIC_BASE_URL: sim.url,
    ANTHROPIC_API_KEY: 'test-anthropic-key',
    OPENAI_BASE_URL: `${sim.url}/v1`,
    OPENAI_API_KEY: 'test-openai-key',
    // The workers encrypt payloads with the tests' key: the CLI's client reads them with it.
    STORYLOOM_PAYLOAD_KEYS: TEST_PAYLOAD_KEYS,
  });
  return () => {
    process.env = saved;
  };
}

/** Runs `storyloom <argv…>` in-process and captures its exit code, stdout and stderr. */
export async function runCli(...argv: string[]): Promise<{ code: number; out: string; err: string }> {
  const out: string[] = [];
  const err: string[] = [];
  const log = jest.spyOn(console, 'log').mockImplementation((...a: unknown[]) => void out.push(a.join(' ')));
  const error = jest.spyOn(console, 'error').mockImplementation((...a: unknown[]) => void err.push(a.join(' ')));
  const stderr = jest.spyOn(process.stderr, 'write').mockImplementation((chunk: string | Uint8Array) => (err.push(String(chunk)), true));
  try {
    const code = await main(argv);
    return { code, out: out.join('\n'), err: err.join('\n') };
  } finally {
    log.mockRestore();
    error.mockRestore();
    stderr.mockRestore();
  }
}
