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
import { startSimulator, type DeepPartial, type RunningSimulator, type SimulatorConfig } from '../../src/llm/simulator';
import { createLogger } from '../../src/observability/logger';
import { installRuntime } from '../../src/observability/temporal-runtime';
import { createServices, createWorkers, type AppServices, type CreateServicesOptions, type WorkerSetup } from '../../src/runtime';
import { dataConverterFor } from '../../src/security/data-converter';
import { parsePayloadKeys } from '../../src/security/payload-codec';
import { STORYLOOM_SEARCH_ATTRIBUTES } from '../../src/shared/search-attributes';
import { dynamicConfigArgs, DEV_SERVER_DYNAMIC_CONFIG } from '../../src/shared/temporal-server-settings';

/**
 * The tests' payload key: every test client and worker encrypts with it, so histories the tests
 * record (test/replay) are encrypted with it too and replay with it. A test value, not a secret.
 */
export const TEST_PAYLOAD_KEYS = 'test-2026:c3Rvcnlsb29tLXRlc3QtcGF5bG9hZC1rZXktMzJiISE=';
/** The test key's codec settings, for clients and replays outside the harness. */
export const testDataConverter = () => dataConverterFor({ payloadKeys: parsePayloadKeys(TEST_PAYLOAD_KEYS, undefined) });

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
    STORYLOOM_PAYLOAD_KEYS: TEST_PAYLOAD_KEYS,
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

/** A dev server with storyloom's search attributes registered (`{ searchAttributes: false }`: a server without them). */
export async function startTestTemporal(opts: { searchAttributes?: boolean; dynamicConfig?: Record<string, number | boolean> } = {}): Promise<TestWorkflowEnvironment> {
  if (!process.env.TEMPORAL_CLI) throw new Error('TEMPORAL_CLI is not set (scripts/test.sh builds the CLI and sets it)');
  quietTemporalLogs();
  return TestWorkflowEnvironment.createLocal({
    client: { dataConverter: testDataConverter() },
    server: {
      // The CLI itself, through a wrapper that drops its start-up banner from the test output.
      executable: { type: 'existing-path', path: path.join(__dirname, 'temporal-quiet.sh') },
      searchAttributes: opts.searchAttributes === false ? [] : STORYLOOM_SEARCH_ATTRIBUTES,
      extraArgs: ['--log-level', 'error', ...dynamicConfigArgs({ ...DEV_SERVER_DYNAMIC_CONFIG, ...opts.dynamicConfig })],
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

/** A part that a beforeAll hook starts: reading it before the hook has run is a mistake in the test file. */
function started<T>(part: T | undefined, name: string): T {
  if (part === undefined) throw new Error(`${name} is not started yet: use it inside a hook or a test`);
  return part;
}

export interface TestStackOptions {
  /** The simulator's starting configuration (a fixed latency, say). */
  simulator?: DeepPartial<SimulatorConfig>;
  /** Configuration variables on top of testConfig's. */
  env?: Record<string, string>;
  /** Dev server dynamic config on top of the project's (e.g. a low `limit.historyCount.suggestContinueAsNew`). */
  dynamicConfig?: Record<string, number | boolean>;
}

/** A test file's dev server, simulator and app (its workers on a fresh queue); read them inside hooks and tests. */
export interface TestStack {
  readonly env: TestWorkflowEnvironment;
  readonly sim: RunningSimulator;
  readonly app: RunningApp;
  /** Another app on the same server and simulator, stopped with the rest after the file's tests. */
  startApp(title: string, mainActivityOverrides?: WorkerSetup['mainActivityOverrides']): Promise<RunningApp>;
}

/** Starts a dev server, the simulator and the app before the file's tests (beforeAll) and stops them after (afterAll). */
export function useTestStack(title: string, options: TestStackOptions = {}): TestStack {
  let env: TestWorkflowEnvironment | undefined;
  let sim: RunningSimulator | undefined;
  const apps: RunningApp[] = [];
  const startAnother: TestStack['startApp'] = async (appTitle, mainActivityOverrides) => {
    const config = testConfig(started(sim, 'The simulator'), options.env);
    const app = await startApp(started(env, 'The dev server'), config, appTitle, {}, undefined, mainActivityOverrides);
    apps.push(app);
    return app;
  };
  beforeAll(async () => {
    [env, sim] = await Promise.all([startTestTemporal({ dynamicConfig: options.dynamicConfig }), startSimulator(options.simulator)]);
    await startAnother(title);
  });
  afterAll(async () => {
    for (const app of [...apps].reverse()) await app.stop();
    await sim?.close();
    await env?.teardown();
  });
  return {
    get env() {
      return started(env, 'The dev server');
    },
    get sim() {
      return started(sim, 'The simulator');
    },
    get app() {
      return started(apps[0], 'The app');
    },
    startApp: startAnother,
  };
}

export interface TestServices {
  readonly sim: RunningSimulator;
  /** The app's services (database, LLM service, call log) without workers or a dev server. */
  readonly services: AppServices;
}

/** Starts the simulator and the app's services before the file's tests (beforeAll) and closes them after (afterAll). */
export function useTestServices(): TestServices {
  let sim: RunningSimulator | undefined;
  let services: AppServices | undefined;
  beforeAll(async () => {
    sim = await startSimulator();
    services = await createServices(testConfig(sim));
  });
  afterAll(async () => {
    await services?.close();
    await sim?.close();
  });
  return {
    get sim() {
      return started(sim, 'The simulator');
    },
    get services() {
      return started(services, 'The services');
    },
  };
}

export { startSimulator };
export type { RunningSimulator };
