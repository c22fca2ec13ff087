/**
 * What every scenario runs on: the benchmark's Temporal dev server, its throwaway Postgres
 * database, the workflow bundle built once, and — per scenario — the in-process simulator and
 * the app's own workers (createServices + createWorkers, as the worker process builds them).
 */
import { Client, Connection } from '@temporalio/client';
import { bundleWorkflowCode, NativeConnection, type Worker } from '@temporalio/worker';
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import pino from 'pino';
import type { DataSource } from 'typeorm';
import { loadConfig, type AppConfig } from '../src/config';
import { dropDatabase, migrateDatabase, redactUrl } from '../src/db/data-source';
import { ScriptRepository, type ImportResult } from '../src/db/repositories/script.repository';
import { parseScreenplay, type ParsedScreenplay } from '../src/domain/screenplay';
import { startSimulator, type DeepPartial, type RunningSimulator, type SimulatorConfig } from '../src/llm/simulator';
import { createLogger, type Logger } from '../src/observability/logger';
import { installRuntime } from '../src/observability/temporal-runtime';
import { createServices, createWorkers, type AppServices } from '../src/runtime';
import { startPgCounter, type PgCounter } from './pg-counter';
import { startTemporal, type BenchTemporal } from './temporal-server';

export interface BenchEnv {
  dir: string;
  temporal: BenchTemporal;
  client: Client;
  nativeConnection: NativeConnection;
  databaseUrl: string;
  /** What the app connects to: the same database through the wire counter (pg-counter.ts). */
  appDatabaseUrl: string;
  pgCounter: PgCounter;
  workflowBundle: { code: string };
  logger: Logger;
  close(): Promise<void>;
}

/** DATABASE_URL (default postgres://postgres@127.0.0.1:5432) with a fresh database name. */
export function benchDatabaseUrl(tag: string): string {
  const url = new URL(process.env.DATABASE_URL || 'postgres://postgres@127.0.0.1:5432');
  url.pathname = `/storyloom_bench_${tag}`;
  return url.toString();
}

const quietBundlerLogger = { trace() {}, debug() {}, info() {}, warn() {}, error: console.error, log() {} };

export async function startBenchEnv(opts: { root: string; runTag: string; cleanups: (() => Promise<void>)[] }): Promise<BenchEnv> {
  const cli = process.env.TEMPORAL_CLI || path.join(opts.root, '.tools/bin/temporal');
  const dir = path.join(opts.root, '.data', 'bench', opts.runTag);
  mkdirSync(dir, { recursive: true });
  // App, worker and SDK logs go to a file: stdout is the report's.
  const logger = createLogger(process.env.LOG_LEVEL || 'warn', pino.destination({ dest: path.join(dir, 'app.log'), sync: false, mkdir: true }));
  installRuntime(loadConfig({ STORYLOOM_METRICS_PORT: '0', LOG_LEVEL: process.env.LOG_LEVEL || 'warn' }), logger);

  const databaseUrl = benchDatabaseUrl(opts.runTag.replace(/[^a-z0-9_]/gi, '_').toLowerCase());
  const [temporal, , workflowBundle] = await Promise.all([
    startTemporal(cli, path.join(dir, 'temporal.log')),
    migrateDatabase(databaseUrl),
    bundleWorkflowCode({
      // The tsc output of src/workflows (what `npm run worker` runs from dist/).
      workflowsPath: require.resolve('../src/workflows'),
      logger: quietBundlerLogger as never,
    }).then(({ code }) => ({ code })),
  ]);
  opts.cleanups.push(() => temporal.stop());
  opts.cleanups.push(() => dropDatabase(databaseUrl));
  const target = new URL(databaseUrl);
  const pgCounter = await startPgCounter({ host: target.hostname, port: Number(target.port || 5432) });
  opts.cleanups.push(() => pgCounter.close());
  const appUrl = new URL(databaseUrl);
  appUrl.host = `127.0.0.1:${pgCounter.port}`;
  const connection = await Connection.connect({ address: temporal.address });
  const client = new Client({ connection, namespace: 'default' });
  const nativeConnection = await NativeConnection.connect({ address: temporal.address });
  return {
    dir,
    temporal,
    client,
    nativeConnection,
    databaseUrl,
    appDatabaseUrl: appUrl.toString(),
    pgCounter,
    workflowBundle,
    logger,
    async close() {
      await nativeConnection.close();
      await connection.close();
    },
  };
}

export interface BenchApp {
  config: AppConfig;
  services: AppServices;
  sim: RunningSimulator;
  taskQueue: string;
  workers: Worker[];
  stop(): Promise<void>;
}

/**
 * The simulator (in this process) and the app's workers on a fresh task queue, configured like
 * the worker process is, with provider base URLs pointing at the simulator. `env` overrides any
 * variable (e.g. STORYLOOM_ANTHROPIC_MAX_CONCURRENT).
 */
export async function startBenchApp(
  env: BenchEnv,
  name: string,
  simConfig: DeepPartial<SimulatorConfig>,
  appEnv: Record<string, string> = {},
): Promise<BenchApp> {
  const { sim, taskQueue, config, services } = await simulatorAndServices(env, name, simConfig, (s) => ({ ...workerProcessEnv(env, s), ...appEnv }));
  const workers = await createWorkers({ connection: env.nativeConnection, services, workflowBundle: env.workflowBundle, taskQueue, preloadTokenizers: true });
  const running = workers.map((w) => w.run());
  return {
    config,
    services,
    sim,
    taskQueue,
    workers,
    stop: stopOnce(async () => {
      for (const w of workers) if (w.getState() === 'RUNNING') w.shutdown();
      await Promise.allSettled(running);
      await services.close();
      await sim.close();
    }),
  };
}

/** The simulator, a fresh task queue, and the app's services configured by `vars` (given the simulator). */
async function simulatorAndServices(env: BenchEnv, name: string, simConfig: DeepPartial<SimulatorConfig>, vars: (sim: RunningSimulator) => Record<string, string>) {
  const sim = await startSimulator(simConfig);
  const taskQueue = `bench-${name}-${Math.random().toString(36).slice(2, 8)}`;
  const config = loadConfig({ ...vars(sim), TEMPORAL_ADDRESS: env.temporal.address, STORYLOOM_TASK_QUEUE: taskQueue });
  const services = await createServices(config, { logger: env.logger });
  return { sim, taskQueue, config, services };
}

function stopOnce(stop: () => Promise<void>): () => Promise<void> {
  let stopped: Promise<void> | undefined;
  return () => (stopped ??= stop());
}

/**
 * The simulator and the bench's own database access, without workers: for scenarios whose
 * workers run in processes of their own (worker-processes.ts). The bench's statements go to
 * the database directly, so the wire counter sees only the workers'.
 */
export async function startBenchClient(env: BenchEnv, name: string, simConfig: DeepPartial<SimulatorConfig>): Promise<BenchApp> {
  const { sim, taskQueue, config, services } = await simulatorAndServices(env, name, simConfig, () => ({ DATABASE_URL: env.databaseUrl, STORYLOOM_METRICS_PORT: '0', LOG_LEVEL: 'warn' }));
  return {
    config,
    services,
    sim,
    taskQueue,
    workers: [],
    stop: stopOnce(async () => {
      await services.close();
      await sim.close();
    }),
  };
}

/** What a worker process needs in its environment to use the bench's server, database (counted) and simulator. */
export function workerProcessEnv(env: BenchEnv, sim: RunningSimulator): Record<string, string> {
  return {
    TEMPORAL_ADDRESS: env.temporal.address,
    DATABASE_URL: env.appDatabaseUrl,
    ANTHROPIC_API_KEY: 'bench-anthropic-key',
    OPENAI_API_KEY: 'bench-openai-key',
    ANTHROPIC_BASE_URL: sim.url,
    OPENAI_BASE_URL: `${sim.url}/v1`,
    OLLAMA_HOST: sim.url,
    STORYLOOM_METRICS_PORT: '0',
    LOG_LEVEL: process.env.LOG_LEVEL || 'warn',
  };
}

export function parseText(text: string): ParsedScreenplay {
  return parseScreenplay(Buffer.from(text), 'script.fountain');
}

export function importText(db: DataSource, text: string, opts: { title: string; scriptId?: string }): Promise<ImportResult> {
  return new ScriptRepository(db).importScreenplay(parseText(text), { title: opts.title, sourceName: 'bench.fountain', scriptId: opts.scriptId });
}

export { redactUrl };
