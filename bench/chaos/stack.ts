/**
 * Everything a chaos run stands on, all its own and all on loopback: a Temporal dev server with
 * a data file it may kill, a throwaway Postgres database reached by the workers through a proxy
 * it may cut, the LLM simulator (in this process, so cases can configure its faults), the
 * workflow bundle, and worker processes it may SIGKILL.
 */
import { Client, Connection } from '@temporalio/client';
import { bundleWorkflowCode } from '@temporalio/worker';
import { randomBytes } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { DataSource } from 'typeorm';
import { loadConfig } from '../../src/config';
import { createDataSource, dropDatabase, migrateDatabase } from '../../src/db/data-source';
import { startSimulator, type RunningSimulator } from '../../src/llm/simulator';
import { dataConverterFor, ENCRYPTED_FAILURE_CONVERTER_PATH } from '../../src/security/data-converter';
import { startDevServer, type ChaosDevServer } from './dev-server';
import { startPgProxy, type PgProxy } from './pg-proxy';
import { startChaosApi, type ChaosApi } from './api-process';
import { startChaosWorker, type ChaosWorker } from './worker-process';

/** Fake provider keys: the secrets search looks for these values everywhere the run leaves traces. */
export interface ChaosKeys {
  anthropic: string;
  openai: string;
  /** STORYLOOM_PAYLOAD_KEYS of the workers and the run's client (`id:base64`): payloads are encrypted. */
  payload: string;
}

export interface ChaosStack {
  dir: string;
  server: ChaosDevServer;
  client: Client;
  /** Direct connection (not through the proxy): what the run reads its checks from. */
  db: DataSource;
  databaseUrl: string;
  proxy: PgProxy;
  sim: RunningSimulator;
  keys: ChaosKeys;
  /** Worker log files written so far (one per worker process). */
  workerLogs: string[];
  /** API log files written so far (one per case that runs the API; a restart appends to its case's). */
  apiLogs: string[];
  /** The bearer token the API processes accept (STORYLOOM_API_TOKENS). */
  apiToken: string;
  /** A worker process on `taskQueue`; `env` overrides its environment. */
  startWorker(taskQueue: string, env?: Record<string, string>, opts?: { entry?: boolean }): Promise<ChaosWorker>;
  /**
   * `storyloom serve` on 127.0.0.1:`port`, with the workers' environment (its ingestions start on
   * `taskQueue`) and the stack's API token; `logFile` from an earlier start continues that log.
   */
  startApi(taskQueue: string, port: number, env?: Record<string, string>, logFile?: string): Promise<ChaosApi & { logFile: string }>;
  close(opts: { keepDatabase: boolean }): Promise<void>;
}

/** Simulated provider latency at time scale 1 (ms): a 120-scene run takes about half a minute. */
export const LATENCY = { summary: 1500, outline: 3000, sheet: 2500, embedding: 400 };

/**
 * A screenplay streams: its first token after 0.8 s, then 1.5 ms a token (the harbour plot's
 * 1,700 tokens in about 3.4 s at time scale 1, inside the request timeout), so a kill can land
 * mid-stream.
 */
export const SCREENPLAY_LATENCY = { fixedMs: 800, perOutputTokenMs: 1.5 };

/** The request timeout the workers run with (a hung request is abandoned after it). */
export const REQUEST_TIMEOUT_MS = 5000;

export async function startChaosStack(opts: { root: string; runTag: string; timeScale: number; log: (m: string) => void }): Promise<ChaosStack> {
  const dir = path.join(opts.root, '.data', 'chaos', opts.runTag);
  mkdirSync(dir, { recursive: true });
  const cli = process.env.TEMPORAL_CLI || path.join(opts.root, '.tools/bin/temporal');
  const base = new URL(process.env.DATABASE_URL || 'postgres://postgres@127.0.0.1:5432/postgres');
  const databaseUrl = new URL(base);
  databaseUrl.pathname = `/storyloom_chaos_${opts.runTag.replace(/[^a-z0-9_]/gi, '_').toLowerCase()}`;
  const cleanups: (() => Promise<unknown>)[] = [];

  opts.log(`database ${databaseUrl.pathname.slice(1)}, dev server, workflow bundle…`);
  const [server, , bundle] = await Promise.all([
    startDevServer(cli, path.join(dir, 'temporal.db'), path.join(dir, 'temporal.log')),
    migrateDatabase(databaseUrl.toString()),
    bundleWorkflowCode({
      workflowsPath: path.join(opts.root, 'src/workflows'),
      // The workers run encrypted (keys below): failures are encoded in the workflow code too.
      failureConverterPath: ENCRYPTED_FAILURE_CONVERTER_PATH,
      logger: { trace() {}, debug() {}, info() {}, warn() {}, error: console.error, log() {} } as never,
    }),
  ]);
  cleanups.push(() => server.stop());
  const bundlePath = path.join(dir, 'workflows.js');
  writeFileSync(bundlePath, bundle.code);

  const proxy = await startPgProxy({ host: databaseUrl.hostname, port: Number(databaseUrl.port || 5432) });
  cleanups.push(() => proxy.close());
  const proxiedUrl = new URL(databaseUrl);
  proxiedUrl.hostname = '127.0.0.1';
  proxiedUrl.port = String(proxy.port);

  const salt = Math.random().toString(36).slice(2, 10);
  const keys: ChaosKeys = {
    anthropic: `sk-ant-chaos-${salt}-key`,
    openai: `sk-chaos-openai-${salt}-key`,
    payload: `chaos-${salt}:${randomBytes(32).toString('base64')}`,
  };
  const sim = await startSimulator({
    timeScale: opts.timeScale,
    latency: {
      default: { fixedMs: LATENCY.summary },
      byPurpose: {
        summary: { fixedMs: LATENCY.summary },
        outline: { fixedMs: LATENCY.outline },
        sheet: { fixedMs: LATENCY.sheet },
        embedding: { fixedMs: LATENCY.embedding },
        screenplay: SCREENPLAY_LATENCY,
      },
    },
    apiKeys: { anthropic: keys.anthropic, openai: keys.openai },
  });
  cleanups.push(() => sim.close());

  const connection = await Connection.connect({ address: server.address });
  const client = new Client({ connection, namespace: 'default', dataConverter: dataConverterFor(loadConfig({ STORYLOOM_PAYLOAD_KEYS: keys.payload })) });
  cleanups.push(() => connection.close());
  const db = createDataSource(databaseUrl.toString(), { poolSize: 4 });
  await db.initialize();
  cleanups.push(() => db.destroy());

  const workerLogs: string[] = [];
  const apiLogs: string[] = [];
  const apiToken = `chaos-api-${randomBytes(12).toString('hex')}`;
  /** What every process of the product here runs with: the proxied database, the simulator, the keys. */
  const productEnv = (taskQueue: string, env: Record<string, string>): Record<string, string> => ({
    PATH: process.env.PATH ?? '',
    DATABASE_URL: proxiedUrl.toString(),
    ANTHROPIC_API_KEY: keys.anthropic,
    OPENAI_API_KEY: keys.openai,
    STORYLOOM_PAYLOAD_KEYS: keys.payload,
    ANTHROPIC_BASE_URL: sim.url,
    OPENAI_BASE_URL: `${sim.url}/v1`,
    OLLAMA_HOST: sim.url,
    STORYLOOM_LLM_TIMEOUT_MS: String(REQUEST_TIMEOUT_MS),
    TEMPORAL_ADDRESS: server.address,
    STORYLOOM_TASK_QUEUE: taskQueue,
    STORYLOOM_TEST_WORKFLOW_BUNDLE: bundlePath,
    // Info, as an operator runs it: the secrets search reads what the logs really hold.
    LOG_LEVEL: 'info',
    STORYLOOM_METRICS_PORT: '0',
    ...env,
  });
  return {
    dir,
    server,
    client,
    db,
    databaseUrl: databaseUrl.toString(),
    proxy,
    sim,
    keys,
    workerLogs,
    apiLogs,
    apiToken,
    async startWorker(taskQueue, env = {}, workerOpts = {}) {
      const logFile = path.join(dir, `worker-${workerLogs.length + 1}.log`);
      workerLogs.push(logFile);
      return startChaosWorker(productEnv(taskQueue, env), logFile, workerOpts);
    },
    async startApi(taskQueue, port, env = {}, logFile) {
      if (!logFile) {
        logFile = path.join(dir, `api-${apiLogs.length + 1}.log`);
        apiLogs.push(logFile);
      }
      const api = await startChaosApi(productEnv(taskQueue, { STORYLOOM_API_TOKENS: apiToken, ...env }), port, logFile);
      // Whatever a case leaves running goes with the stack (a kill or stop of an ended one is a no-op).
      cleanups.push(() => api.stop());
      return { ...api, logFile };
    },
    async close({ keepDatabase }) {
      for (const cleanup of cleanups.reverse()) await cleanup().catch((err: unknown) => opts.log(`cleanup: ${(err as Error).message}`));
      if (!keepDatabase) await dropDatabase(databaseUrl.toString()).catch((err: unknown) => opts.log(`drop database: ${(err as Error).message}`));
    },
  };
}
