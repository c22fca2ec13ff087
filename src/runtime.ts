/**
 * Composition root shared by the worker process, the CLI and the tests: configuration →
 * DataSource → provider adapters → LLM service → activities → Temporal workers.
 */
import { NativeConnection, Worker, type WorkerOptions } from '@temporalio/worker';
import type { DataSource } from 'typeorm';
import { createMainActivities, createProviderActivities } from './activities';
import type { AppConfig } from './config';
import { createDataSource } from './db/data-source';
import { BufferedCallLog } from './llm/call-log';
import { LlmService } from './llm/llm-service';
import { createProviderRegistry, type ProviderRegistry } from './llm/registry';
import { PostgresCacheStore } from './llm/response-cache';
import { llmTaskQueue, PROVIDERS } from './shared/llm-routing';

export interface AppServices {
  config: AppConfig;
  db: DataSource;
  llm: LlmService;
  callLog: BufferedCallLog;
  close(): Promise<void>;
}

/** Opens the database and builds the LLM service. `registry` lets tests swap adapters. */
export async function createServices(config: AppConfig, opts: { registry?: ProviderRegistry } = {}): Promise<AppServices> {
  const db = createDataSource(config.databaseUrl);
  await db.initialize();
  const callLog = new BufferedCallLog(db, {
    onError: (err) => console.error(`llm_calls write failed: ${err instanceof Error ? err.message : String(err)}`),
  });
  const llm = new LlmService({
    registry: opts.registry ?? createProviderRegistry(config.llm),
    cache: new PostgresCacheStore(db),
    callLog,
    requestTimeoutMs: config.llm.requestTimeoutMs,
  });
  return {
    config,
    db,
    llm,
    callLog,
    async close() {
      await callLog.flush();
      await db.destroy();
    },
  };
}

export interface WorkerSetup {
  connection: NativeConnection;
  services: AppServices;
  /** A pre-built bundle (tests build it once); otherwise the worker bundles `./workflows`. */
  workflowBundle?: WorkerOptions['workflowBundle'];
  /** Override the main task queue (tests use one per test). */
  taskQueue?: string;
}

/**
 * One worker for workflows and database activities on the main queue, and one per provider
 * queue for LLM activities, whose concurrency and rate limits are the provider's.
 */
export async function createWorkers(setup: WorkerSetup): Promise<Worker[]> {
  const { config } = setup.services;
  const taskQueue = setup.taskQueue ?? config.temporal.taskQueue;
  const common = { connection: setup.connection, namespace: config.temporal.namespace };
  const main = await Worker.create({
    ...common,
    taskQueue,
    ...(setup.workflowBundle ? { workflowBundle: setup.workflowBundle } : { workflowsPath: require.resolve('./workflows') }),
    activities: createMainActivities(setup.services),
  });
  const providerActivities = createProviderActivities(setup.services);
  const providerWorkers = await Promise.all(
    PROVIDERS.map((provider) => {
      const limits = config.llm.providers[provider];
      return Worker.create({
        ...common,
        taskQueue: llmTaskQueue(taskQueue, provider),
        activities: providerActivities,
        maxConcurrentActivityTaskExecutions: limits.maxConcurrent,
        ...(limits.maxPerSecond > 0 ? { maxTaskQueueActivitiesPerSecond: limits.maxPerSecond } : {}),
      });
    }),
  );
  return [main, ...providerWorkers];
}

/** Runs workers until they are shut down (SIGINT/SIGTERM in the worker process). */
export async function runWorkers(workers: Worker[]): Promise<void> {
  await Promise.all(workers.map((w) => w.run()));
}
