/** The worker process: `npm run worker` (or `storyloom worker`). Runs until SIGINT/SIGTERM. */
import { NativeConnection } from '@temporalio/worker';
import { UsageError } from './cli/temporal-client';
import { ConfigError, loadConfig, type AppConfig } from './config';
import { DatabaseUnreachableError, SchemaBehindError } from './db/data-source';
import { KEY_VARS } from './llm/errors';
import { createLogger, type Logger } from './observability/logger';
import { freePort, startMetricsServer, type MetricsServer } from './observability/metrics-server';
import { installRuntime } from './observability/temporal-runtime';
import { tracingFor } from './observability/tracing';
import { createServices, createWorkers, runWorkers, shutdownGraceTimeMs, type WorkerSetup } from './runtime';
import { temporalConnectionOptions, type TemporalConnectionOptions } from './temporal-connection';

/** `workflowBundle`: a pre-built bundle (tests); otherwise the worker bundles `./workflows`. */
export async function runWorkerProcess(opts: { workflowBundle?: WorkerSetup['workflowBundle'] } = {}): Promise<void> {
  const config = loadConfig();
  // Read now: an unreadable TEMPORAL_TLS_* file is refused before anything opens.
  const connectionOptions = temporalConnectionOptions(config);
  const logger = createLogger(config.logLevel);
  // Several workers on one host: each gets its own Core metrics port when the usual one is taken.
  const coreMetricsPort = config.metricsPort > 0 ? await freePort(config.metricsPort + 1) : undefined;
  if (coreMetricsPort !== undefined && coreMetricsPort !== config.metricsPort + 1) {
    logger.info({ wanted: config.metricsPort + 1, port: coreMetricsPort }, 'Temporal SDK metrics port taken (another worker on this host?): using a free one');
  }
  // Before anything touches Temporal: the Runtime is configured once, at creation.
  const runtime = installRuntime(config, logger, { coreMetricsPort });
  if (!config.payloadKeys) {
    logger.warn('payloads are not encrypted: set STORYLOOM_PAYLOAD_KEYS to keep script-derived text out of Temporal history');
  }
  for (const w of missingApiKeys(config)) logger.warn({ provider: w.provider, variable: w.variable, purposes: w.purposes }, w.message);
  const services = await createServices(config, { logger });
  let connection: NativeConnection | undefined;
  let releaseSignals: (() => void) | undefined;
  let metricsServer: MetricsServer | undefined;
  try {
    connection = await connectToTemporal(connectionOptions, config);
    if (config.metricsPort > 0) {
      // STORYLOOM_METRICS_PORT serves ours plus the SDK's, which Core serves on port + 1.
      metricsServer = await startMetricsServer(config.metricsPort, services.metrics.registry, {
        temporalMetricsUrl: runtime.temporalMetricsUrl,
        onPortTaken: (wanted, got) =>
          logger.warn({ wanted, port: got }, `metrics port ${wanted} is taken (another worker on this host?): serving /metrics on ${got} instead`),
      });
      logger.info({ port: metricsServer.port, temporalMetricsUrl: runtime.temporalMetricsUrl }, 'serving Prometheus metrics at /metrics');
    }
    // Last before running: a created worker holds the connection until it has run (createWorkers
    // releases the ones it made when it fails itself).
    const workers = await createWorkers({ connection, services, workflowBundle: opts.workflowBundle, preloadTokenizers: true });
    logger.info(
      { taskQueue: config.temporal.taskQueue, address: config.temporal.address, tracing: Boolean(config.otlpEndpoint) },
      'storyloom worker polling (main queue + LLM queues)',
    );
    // Once there is something to drain (a second Ctrl-C during start-up still stops the process at
    // once); after the Runtime's own handler, which starts the drain on the first signal and then
    // stops listening.
    releaseSignals = holdRepeatedShutdownSignals(logger, shutdownGraceTimeMs(config));
    // On a worker's failure this shuts the others down and waits for them before rethrowing it.
    await runWorkers(workers);
  } finally {
    // Each in turn, whatever the one before did: a failure here is logged, and the error that
    // stopped the worker (if any) is the one that propagates.
    const conn = connection;
    await closeInOrder(logger, [
      ['metrics server', () => metricsServer?.close()],
      ['Temporal connection', () => conn?.close()],
      ['database and recorders', () => services.close()],
      ['tracing', () => tracingFor(config)?.shutdown()],
    ]);
    logger.info('storyloom worker stopped');
    releaseSignals?.();
  }
}

/** The worker's connection; a server out of reach is a message saying what to set (as the CLI's). */
async function connectToTemporal(options: TemporalConnectionOptions, config: AppConfig): Promise<NativeConnection> {
  try {
    return await NativeConnection.connect(options);
  } catch (err) {
    const tls = options.tls ? ' TLS is on (TEMPORAL_TLS, TEMPORAL_TLS_*, TEMPORAL_API_KEY): does the server expect it?' : '';
    throw new UsageError(
      `Cannot reach the Temporal server at ${config.temporal.address} (${err instanceof Error ? err.message : String(err)}). ` +
        `Start one with \`npm run temporal:start\` or set TEMPORAL_ADDRESS.${tls}`,
    );
  }
}

const SHUTDOWN_SIGNALS = ['SIGINT', 'SIGTERM'] as const;

/**
 * The Temporal Runtime starts the drain on the first SIGINT/SIGTERM and then stops listening, so a
 * second one (a repeated `docker stop`, Ctrl-C pressed twice, a supervisor that signals the process
 * group and the process) took Node's default action: the process died at once, aborting the
 * provider calls in flight (paid, then paid again on another worker). Listening as well keeps the
 * drain going: the first signal gets an info line, later ones a warning; SIGKILL still stops at
 * once. Returns the function that stops listening.
 */
export function holdRepeatedShutdownSignals(logger: Logger, graceMs: number, proc: Pick<NodeJS.Process, 'on' | 'off'> = process): () => void {
  let firstAt: number | undefined;
  const onSignal = (signal: NodeJS.Signals) => {
    const seconds = (ms: number) => Math.max(0, Math.ceil(ms / 1000));
    if (firstAt === undefined) {
      firstAt = Date.now();
      logger.info({ signal, graceMs }, `${signal}: stopping; activities in flight have up to ${seconds(graceMs)} s to finish`);
      return;
    }
    const leftMs = graceMs - (Date.now() - firstAt);
    logger.warn(
      { signal, leftMs },
      `${signal} again: already stopping, activities in flight still have up to ${seconds(leftMs)} s to finish (SIGKILL stops at once; their provider calls are then made again elsewhere)`,
    );
  };
  for (const signal of SHUTDOWN_SIGNALS) proc.on(signal, onSignal);
  return () => {
    for (const signal of SHUTDOWN_SIGNALS) proc.off(signal, onSignal);
  };
}

/**
 * Providers the configured models (STORYLOOM_MODEL_*) route to that need an API key and have none:
 * their calls fail at once as LlmAuthentication. A warning, not a refusal to start: a proxy at the
 * provider's base URL may add the key (Anthropic's SDK sends nothing without one, so a placeholder
 * key is needed there). Names the variable, never a value.
 */
export function missingApiKeys(config: Pick<AppConfig, 'llm'>): { provider: string; variable: string; purposes: string[]; message: string }[] {
  const purposesOf = new Map<'anthropic' | 'openai', string[]>();
  for (const [purpose, { provider }] of Object.entries(config.llm.models)) {
    if (provider !== 'anthropic' && provider !== 'openai') continue;
    if (config.llm.providers[provider].apiKey) continue;
    purposesOf.set(provider, [...(purposesOf.get(provider) ?? []), purpose]);
  }
  return [...purposesOf].map(([provider, purposes]) => {
    const variable = KEY_VARS[provider];
    return {
      provider,
      variable,
      purposes,
      message:
        `${variable} is not set, and the ${purposes.join(', ')} model(s) use ${provider}: those calls will fail (LlmAuthentication) ` +
        `unless a proxy at ${provider.toUpperCase()}_BASE_URL adds the key` +
        (provider === 'anthropic' ? ` (the Anthropic SDK sends no request without one: set ${variable} to a placeholder then)` : ''),
    };
  });
}

/** Runs every step, in order, even after one throws; each failure is a warn line. */
export async function closeInOrder(logger: Logger, steps: [name: string, close: () => Promise<unknown> | undefined][]): Promise<void> {
  for (const [name, close] of steps) {
    try {
      await close();
    } catch (err) {
      logger.warn({ err }, `worker shutdown: closing the ${name} failed`);
    }
  }
}

/**
 * A start-up error whose message says all there is to fix (a bad variable, Postgres or Temporal out
 * of reach, a schema behind the release): printed alone, exit 2, as `storyloom worker` does; anything else is logged with its stack.
 */
export function isStartupRefusal(err: unknown): err is Error {
  return err instanceof ConfigError || err instanceof UsageError || err instanceof DatabaseUnreachableError || err instanceof SchemaBehindError;
}

if (require.main === module) {
  runWorkerProcess().catch((err: unknown) => {
    if (isStartupRefusal(err)) {
      process.stderr.write(`storyloom worker: ${err.message}\n`);
      process.exit(2);
    }
    // LOG_LEVEL itself may be what failed, so this line uses a fixed level.
    createLogger('error').error({ err }, `worker failed: ${err instanceof Error ? err.message : String(err)}`);
    process.exit(1);
  });
}
