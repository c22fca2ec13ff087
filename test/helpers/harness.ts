/**
 * Test wiring on real parts: a Temporal dev server (the project's CLI binary, never a
 * download, with storyloom's search attributes registered), the run's throwaway Postgres
 * database, and the LLM simulator in-process. The SDK's own log lines go to a file
 * (quietTemporalLogs), so jest's output holds test results only.
 */
import { TestWorkflowEnvironment } from '@temporalio/testing';
import type { Worker } from '@temporalio/worker';
import { readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import pino from 'pino';
import { loadConfig, type AppConfig } from '../../src/config';
import { startSimulator, type RunningSimulator } from '../../src/llm/simulator';
import { createLogger } from '../../src/observability/logger';
import { installRuntime } from '../../src/observability/temporal-runtime';
import { createServices, createWorkers, type AppServices, type CreateServicesOptions, type WorkerSetup } from '../../src/runtime';
import { STORYLOOM_SEARCH_ATTRIBUTES } from '../../src/shared/search-attributes';

export function testDatabaseUrl(): string {
  const url = process.env.STORYLOOM_TEST_DATABASE_URL;
  if (!url) throw new Error('STORYLOOM_TEST_DATABASE_URL is not set: run tests through jest (globalSetup)');
  return url;
}

/** Configuration pointing every provider at the simulator; `env` overrides any variable. */
export function testConfig(sim: RunningSimulator | undefined, env: Record<string, string> = {}): AppConfig {
  return loadConfig({
    DATABASE_URL: testDatabaseUrl(),
    ANTHROPIC_API_KEY: 'test-anthropic-key',
    OPENAI_API_KEY: 'test-openai-key',
    ...(sim
      ? { ANTHROPIC_BASE_URL: sim.url, OPENAI_BASE_URL: `${sim.url}/v1`, OLLAMA_HOST: sim.url }
      : {}),
    STORYLOOM_LLM_TIMEOUT_MS: '5000',
    // Keeps the per-call info lines out of test output; tests about logs pass LOG_LEVEL.
    LOG_LEVEL: 'warn',
    ...env,
  });
}

/** Where the SDK's worker and Core log lines go during tests (STORYLOOM_TEST_TEMPORAL_LOG overrides). */
export const TEMPORAL_TEST_LOG = process.env.STORYLOOM_TEST_TEMPORAL_LOG ?? path.join(tmpdir(), 'storyloom-tests-temporal.log');

/**
 * Installs the Temporal Runtime with its logger (Core's lines forwarded) writing to
 * TEMPORAL_TEST_LOG instead of the console. It must come before the first worker, connection
 * or server of the test file; a test that installs its own Runtime first keeps it.
 */
let temporalLogsQuiet = false;
export function quietTemporalLogs(): void {
  if (temporalLogsQuiet) return;
  temporalLogsQuiet = true;
  const logger = createLogger('info', pino.destination({ dest: TEMPORAL_TEST_LOG, append: true, mkdir: true, sync: true }));
  installRuntime(loadConfig({ STORYLOOM_METRICS_PORT: '0' }), logger);
}

export async function startTestTemporal(): Promise<TestWorkflowEnvironment> {
  const executable = process.env.TEMPORAL_CLI;
  if (!executable) throw new Error('TEMPORAL_CLI is not set (scripts/test.sh builds the CLI and sets it)');
  quietTemporalLogs();
  return TestWorkflowEnvironment.createLocal({
    server: {
      executable: { type: 'existing-path', path: executable },
      searchAttributes: STORYLOOM_SEARCH_ATTRIBUTES,
      extraArgs: ['--log-level', 'error'],
    },
  });
}

export function workflowBundle(): { code: string } {
  // Replay tests create workers from the bundle without a server: they log through the Runtime too.
  quietTemporalLogs();
  const bundlePath = process.env.STORYLOOM_TEST_WORKFLOW_BUNDLE;
  if (!bundlePath) throw new Error('STORYLOOM_TEST_WORKFLOW_BUNDLE is not set: run tests through jest (globalSetup)');
  return { code: readFileSync(bundlePath, 'utf8') };
}

/** A per-test task queue, so tests never share one. */
export function queueFor(title: string): string {
  return `test-${title.replace(/[^a-z0-9]+/gi, '-').toLowerCase().slice(0, 60)}-${Math.random().toString(36).slice(2, 8)}`;
}

export interface RunningApp {
  config: AppConfig;
  services: AppServices;
  taskQueue: string;
  workers: Worker[];
  stop(): Promise<void>;
}

/** Starts the app's workers (main + provider queues) against `env`'s server on a fresh queue. */
export async function startApp(
  env: TestWorkflowEnvironment,
  config: AppConfig,
  title: string,
  servicesOptions: CreateServicesOptions = {},
  /** Reuse a queue (a replacement worker); by default a fresh one. */
  existingQueue?: string,
  mainActivityOverrides?: WorkerSetup['mainActivityOverrides'],
): Promise<RunningApp> {
  const taskQueue = existingQueue ?? queueFor(title);
  const appConfig = { ...config, temporal: { ...config.temporal, taskQueue } };
  const services = await createServices(appConfig, servicesOptions);
  const workers = await createWorkers({
    connection: env.nativeConnection,
    services,
    workflowBundle: workflowBundle(),
    taskQueue,
    mainActivityOverrides,
  });
  const running = workers.map((w) => w.run());
  return {
    config: appConfig,
    services,
    taskQueue,
    workers,
    async stop() {
      for (const w of workers) if (w.getState() === 'RUNNING') w.shutdown();
      await Promise.all(running);
      await services.close();
    },
  };
}

export { startSimulator };
export type { RunningSimulator };
