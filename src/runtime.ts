/**
 * Composition root shared by the worker process, the CLI and the tests: configuration →
 * DataSource → provider adapters → LLM service → activities → Temporal workers, with the
 * observability layer (src/observability) plugged in at each step.
 */
import { NativeConnection, Worker, type WorkerOptions } from '@temporalio/worker';
import type { DataSource } from 'typeorm';
import { createMainActivities, createProviderActivities, type MainActivities } from './activities';
import type { AppConfig } from './config';
import { createDataSource, initializeDataSource, requireCurrentSchema } from './db/data-source';
import { BufferedCallLog, TeeCallLog, type CallLog } from './llm/call-log';
import { LlmService } from './llm/llm-service';
import { OutageDetector } from './llm/outage-detector';
import { AimdGate, ProviderGates, type GateChange } from './llm/rate-gate';
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
  // Postgres out of reach: "Cannot reach Postgres at <URL, password masked>: <why>. Start it or set DATABASE_URL."
  await initializeDataSource(db, config.databaseUrl);
  // A schema behind this release: the worker refuses to start (run `storyloom migrate` first).
  await requireCurrentSchema(db, config.databaseUrl);
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
  const gates = new ProviderGates((provider) => {
    const max = config.llm.providers[provider as Provider].maxConcurrent;
    return new AimdGate({ provider, max, onChange: gateChangeLogger(logger, provider, max) });
  });
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
    // Per call and per wait: debug (the llm_calls rows and metrics count the 429s).
    onRateLimitWait: (w) => logger.debug(w, `${w.provider} rate limited a ${w.purpose} call: waiting ${w.waitMs} ms, then again`),
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

/**
 * A gate's limit changes by one step at a time, many times an hour under steady 429s: each step is a
 * debug line. Info says only when the limit first drops below the provider's maximum and when it is
 * back at it.
 */
export function gateChangeLogger(logger: Logger, provider: string, max: number): (change: GateChange) => void {
  let throttled = false;
  return (change) => {
    const message = `${provider}: concurrency limit now ${change.limit} (${change.reason})`;
    const nowThrottled = change.limit < max;
    if (nowThrottled === throttled) {
      logger.debug(change, message);
      return;
    }
    throttled = nowThrottled;
    logger.info({ ...change, max }, nowThrottled ? `${message}: below the maximum ${max} until the provider stops rate limiting` : `${message}: back at the maximum`);
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
 * How long a stopping worker (SIGTERM/SIGINT) lets in-flight activities finish before it cancels
 * them (STORYLOOM_SHUTDOWN_GRACE_MS; by default the LLM request timeout plus a margin), so a
 * provider call already paid for is answered and recorded instead of being cancelled and paid for
 * again on another worker. A stream may outlast it (it is timed by its silence): one still
 * flowing is cut, logged with what it streamed, and made again. (The SDK's default is 0.)
 */
export function shutdownGraceTimeMs(config: AppConfig): number {
  return config.shutdownGraceMs;
}

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
    shutdownGraceTime: shutdownGraceTimeMs(config),
    // Encrypted payloads (when keys are configured): nothing script-derived readable in history.
    dataConverter: dataConverterFor(config),
    interceptors: { activity: [...activityInterceptors, attemptBudgetInterceptors(config.dbMaxAttempts, logger)] },
  };
  // Created so far: on a failure these are released before the error goes on, or the connection
  // could not be closed ("Cannot close connection while Workers hold a reference").
  const created: Worker[] = [];
  try {
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
    created.push(main);
    const providerActivities = createProviderActivities(setup.services);
    // allSettled: a failed create must not leave a sibling's worker unreleased.
    const providerWorkers = await Promise.allSettled(
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
    for (const r of providerWorkers) if (r.status === 'fulfilled') created.push(r.value);
    const failed = providerWorkers.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (failed) throw failed.reason;
  } catch (err) {
    await releaseWorkers(created);
    throw err;
  }
  if (setup.preloadTokenizers) {
    const { models } = config.llm;
    // In the background: a failed load is retried on first use.
    void preloadEncodings([models.embedding, models.outline]).catch((err: unknown) => logger.warn({ err }, 'tokenizer preload failed'));
  }
  return created;
}

/** What runWorkers needs of a worker (the SDK's Worker; tests pass fakes). */
export type RunnableWorker = Pick<Worker, 'run' | 'shutdown' | 'getState'>;

/**
 * Runs workers until they are shut down (SIGINT/SIGTERM in the worker process). When one fails,
 * the others are shut down (they drain for their grace time), and once all have stopped the first
 * failure is rethrown: the caller can then close the connection, which no worker holds any more.
 */
export async function runWorkers(workers: RunnableWorker[]): Promise<void> {
  let failure: { error: unknown } | undefined;
  const shutDownTheRest = () => {
    for (const w of workers) {
      try {
        if (w.getState() === 'RUNNING') w.shutdown();
      } catch {
        // Stopping or failed already: it settles on its own.
      }
    }
  };
  const runs = workers.map((w) =>
    w.run().catch((error: unknown) => {
      if (failure) return;
      failure = { error };
      shutDownTheRest();
    }),
  );
  await Promise.all(runs);
  if (failure) throw failure.error;
}

/** Releases workers that were created but never run (runUntil: start, shut down at once, drain). */
async function releaseWorkers(workers: Pick<Worker, 'runUntil'>[]): Promise<void> {
  await Promise.allSettled(workers.map((w) => w.runUntil(Promise.resolve())));
}
