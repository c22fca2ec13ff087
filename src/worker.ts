/** The worker process: `npm run worker` (or `storyloom worker`). Runs until SIGINT/SIGTERM. */
import { NativeConnection } from '@temporalio/worker';
import { loadConfig } from './config';
import { createLogger } from './observability/logger';
import { startMetricsServer, type MetricsServer } from './observability/metrics-server';
import { installRuntime } from './observability/temporal-runtime';
import { tracingFor } from './observability/tracing';
import { createServices, createWorkers, runWorkers } from './runtime';
import { temporalConnectionOptions } from './temporal-connection';

export async function runWorkerProcess(): Promise<void> {
  const config = loadConfig();
  const logger = createLogger(config.logLevel);
  // Before anything touches Temporal: the Runtime is configured once, at creation.
  const runtime = installRuntime(config, logger);
  const services = await createServices(config, { logger });
  const connection = await NativeConnection.connect(temporalConnectionOptions(config));
  let metricsServer: MetricsServer | undefined;
  try {
    const workers = await createWorkers({ connection, services });
    if (config.metricsPort > 0) {
      // STORYLOOM_METRICS_PORT serves ours plus the SDK's, which Core serves on port + 1.
      metricsServer = await startMetricsServer(config.metricsPort, services.metrics.registry, {
        temporalMetricsUrl: runtime.temporalMetricsUrl,
      });
      logger.info({ port: metricsServer.port, temporalMetricsUrl: runtime.temporalMetricsUrl }, 'serving Prometheus metrics at /metrics');
    }
    logger.info(
      { taskQueue: config.temporal.taskQueue, address: config.temporal.address, tracing: Boolean(config.otlpEndpoint) },
      'storyloom worker polling (main queue + LLM queues)',
    );
    await runWorkers(workers);
  } finally {
    await metricsServer?.close();
    await connection.close();
    await services.close();
    await tracingFor(config)?.shutdown();
    logger.info('storyloom worker stopped');
  }
}

if (require.main === module) {
  runWorkerProcess().catch((err: unknown) => {
    // LOG_LEVEL itself may be what failed, so this line uses a fixed level.
    createLogger('error').error({ err }, `worker failed: ${err instanceof Error ? err.message : String(err)}`);
    process.exit(1);
  });
}
