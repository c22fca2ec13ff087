/**
 * Composition root shared by the worker process, the CLI and the tests: configuration →
 * DataSource → provider adapters → LLM service → activities → Temporal workers, with the
 * observability layer (src/observability) plugged in at each step.
 */
import { NativeConnection, Worker, type WorkerOptions } from '@temporalio/worker';
import type { DataSource } from 'typeorm';
import { createMainActivities, createProviderActivities, type MainActivities } from './activities';
import type { AppConfig } from './config';
import { createDataSource } from './db/data-source';
import { BufferedCallLog, TeeCallLog, type CallLog } from './llm/call-log';
import { LlmService } from './llm/llm-service';
import { OutageDetector } from './llm/outage-detector';
import { AimdGate, ProviderGates } from './llm/rate-gate';
import { createProviderRegistry, type ProviderRegistry } from './llm/registry';
import { PostgresCacheStore } from './llm/response-cache';
import { preloadEncodings, TokenCounter } from './llm/token-counter';
import { StreamPublisher } from './db/stream-channel';
import { observabilityActivityInterceptors } from './observability/activity-interceptor';
import { outsideActivityScope } from './observability/activity-scope';
import { LoggingCallLog, MetricsCallLog } from './observability/llm-call-observers';
import { createLogger, type Logger } from './observability/logger';
import { createMetrics, type AppMetrics } from './observability/metrics';
import { chargeBatchToItsRuns, RunDbStatsRecorder, uncountedCallLog } from './observability/run-db-stats';
import { TracingCallLog, tracingFor } from './observability/tracing';
import { attemptBudgetInterceptors } from './activities/attempt-budget';
import { dataConverterFor } from './security/data-converter';
import { LLM_MAX_ATTEMPTS } from './shared/failure-types';
import { llmTaskQueue, PROVIDERS, type Provider } from './shared/llm-routing';

export interface AppServices {
  config: AppConfig;
  db: DataSource;
  llm: LlmService;
  /** The `llm_calls` table writer (flush it to read rows back). */
  callLog: BufferedCallLog;
  logger: Logger;
  metrics: AppMetrics;
  /** Statements and commits per workflow run, written to `run_db_stats`. */
  dbStats: RunDbStatsRecorder;
  /** Adaptive concurrency per provider: the current limits (rate-gate.ts). */
  gates: ProviderGates;
  /** Provider outages as this process sees them (outage-detector.ts). */
  outages: OutageDetector;
  /** Writes the buffered `llm_calls` rows and `run_db_stats` counts now (a report reads them next). */
  flushRecorders(): Promise<void>;
  /** Generation deltas to watchers (Postgres NOTIFY, src/db/stream-channel.ts). */
  streams: StreamPublisher;
  tokens: TokenCounter;
  close(): Promise<void>;
}

export interface CreateServicesOptions {
  /** Swaps the provider adapters (tests). */
  registry?: ProviderRegistry;
  /** Default: JSON to stdout at `config.logLevel`. */
  logger?: Logger;
  /** Default: a fresh registry with the app's metrics and Node's defaults. */
  metrics?: AppMetrics;
}

/** Opens the database and builds the LLM service, observed by logs, metrics and DB statistics. */
export async function createServices(config: AppConfig, opts: CreateServicesOptions = {}): Promise<AppServices> {
  const logger = opts.logger ?? createLogger(config.logLevel);
  const metrics = opts.metrics ?? createMetrics();
  const dbStats = new RunDbStatsRecorder({
    logger,
    onError: (err) => logger.error({ err }, 'run_db_stats write failed'),
  });
  const db = createDataSource(config.databaseUrl, { logger: dbStats });
  await db.initialize();
  dbStats.start(db);
  const callLog = new BufferedCallLog(db, {
    onError: (err) => logger.error({ err }, 'llm_calls write failed'),
    around: chargeBatchToItsRuns,
  });
  const tracing = tracingFor(config);
  // Every LLM call reaches the table, the metrics, an info line and (when on) a span alike.
  const observers: CallLog[] = [
    uncountedCallLog(callLog),
    new MetricsCallLog(metrics),
    new LoggingCallLog(logger),
    ...(tracing ? [new TracingCallLog(tracing.tracer)] : []),
  ];
  const registry = opts.registry ?? createProviderRegistry(config.llm);
  const streams = new StreamPublisher(config.databaseUrl, { onError: (err) => logger.warn({ err }, 'generation stream publish failed') });
  const gates = new ProviderGates(
    (provider) =>
      new AimdGate({
        provider,
        max: config.llm.providers[provider as Provider].maxConcurrent,
        onChange: (change) => logger.info(change, `${provider}: concurrency limit now ${change.limit} (${change.reason})`),
      }),
  );
  const outages = new OutageDetector();
  const llm = new LlmService({
    registry,
    cache: new PostgresCacheStore(db, {
      detach: outsideActivityScope,
      onError: (err) => logger.warn({ err }, 'LLM response cache write failed'),
    }),
    callLog: new TeeCallLog(observers, (err) => logger.warn({ err }, 'LLM call observer failed')),
    requestTimeoutMs: config.llm.requestTimeoutMs,
    gates,
    outages,
    onRateLimitWait: (w) => logger.info(w, `${w.provider} rate limited a ${w.purpose} call: waiting ${w.waitMs} ms, then again`),
    onOutage: (message) => logger.warn({ outage: true }, message),
  });
  return {
    gates,
    outages,
    config,
    db,
    llm,
    callLog,
    logger,
    metrics,
    dbStats,
    streams,
    tokens: new TokenCounter(registry),
    async flushRecorders() {
      // Shared writes, charged to no run even when an activity asks for them.
      await outsideActivityScope(async () => {
        await llm.settle();
        await callLog.flush();
      });
      await dbStats.flush();
    },
    async close() {
      await streams.close();
      await llm.settle();
      await callLog.flush();
      await dbStats.close();
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
  /** Replaces main-queue activities (tests inject failures the real parts cannot make quickly). */
  mainActivityOverrides?: Partial<MainActivities>;
  /** Load the tokenizers that size embedding and outline batches now (the worker process; tests skip it). */
  preloadTokenizers?: boolean;
}

/** How long a workflow's next task waits on its worker's sticky queue before any worker may take it. */
export const STICKY_QUEUE_TIMEOUT = '3 seconds';

/**
 * One worker for workflows and database activities on the main queue, and one per provider
 * queue for LLM activities, whose concurrency and rate limits are the provider's.
 */
export async function createWorkers(setup: WorkerSetup): Promise<Worker[]> {
  const { config } = setup.services;
  const taskQueue = setup.taskQueue ?? config.temporal.taskQueue;
  const tracing = tracingFor(config);
  // Tracing (when on) outermost, so its span covers the rest.
  const activityInterceptors = [
    ...(tracing ? [tracing.activityInterceptors] : []),
    observabilityActivityInterceptors(setup.services.metrics),
  ];
  const { logger } = setup.services;
  const common = {
    connection: setup.connection,
    namespace: config.temporal.namespace,
    // Encrypted payloads (when keys are configured): nothing script-derived readable in history.
    dataConverter: dataConverterFor(config),
    interceptors: { activity: [...activityInterceptors, attemptBudgetInterceptors(config.dbMaxAttempts, logger)] },
  };
  const main = await Worker.create({
    ...common,
    taskQueue,
    // A worker that died still owns its workflows' sticky queue: their next task waits this long
    // there before any worker may take it (the SDK's default is 10 s, on top of the activity's
    // heartbeat timeout). A live worker takes a task in milliseconds; one starved past 3 s hands
    // it on, and the taker replays the history (correct, only slower).
    stickyQueueScheduleToStartTimeout: STICKY_QUEUE_TIMEOUT,
    ...(setup.workflowBundle ? { workflowBundle: setup.workflowBundle } : { workflowsPath: require.resolve('./workflows') }),
    // A pre-built bundle carries its own workflow interceptors (workflowInterceptorModules).
    ...(tracing && !setup.workflowBundle
      ? { interceptors: { ...common.interceptors, workflowModules: tracing.workflowModules } }
      : {}),
    ...(tracing ? { sinks: tracing.sinks } : {}),
    activities: { ...createMainActivities(setup.services), ...setup.mainActivityOverrides },
  });
  const providerActivities = createProviderActivities(setup.services);
  const providerWorkers = await Promise.all(
    PROVIDERS.map((provider) => {
      const limits = config.llm.providers[provider];
      return Worker.create({
        ...common,
        interceptors: { activity: [...activityInterceptors, attemptBudgetInterceptors(LLM_MAX_ATTEMPTS, logger)] },
        taskQueue: llmTaskQueue(taskQueue, provider),
        activities: providerActivities,
        maxConcurrentActivityTaskExecutions: limits.maxConcurrent,
        // Cancellation reaches an activity through a heartbeat's response: send them often, so a
        // cancelled run aborts its HTTP requests within a second or so.
        maxHeartbeatThrottleInterval: '1 second',
        defaultHeartbeatThrottleInterval: '1 second',
        ...(limits.maxPerSecond > 0 ? { maxTaskQueueActivitiesPerSecond: limits.maxPerSecond } : {}),
      });
    }),
  );
  if (setup.preloadTokenizers) {
    const { models } = config.llm;
    // In the background: a failed load is retried on first use.
    void preloadEncodings([models.embedding, models.outline]).catch((err: unknown) => logger.warn({ err }, 'tokenizer preload failed'));
  }
  return [main, ...providerWorkers];
}

/** Runs workers until they are shut down (SIGINT/SIGTERM in the worker process). */
export async function runWorkers(workers: Worker[]): Promise<void> {
  await Promise.all(workers.map((w) => w.run()));
}
