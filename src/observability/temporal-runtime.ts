/**
 * The Temporal Runtime (the SDK's process-wide native core) configured for our logs and
 * metrics. `Runtime.install` may run once per process and before any Worker, NativeConnection
 * or test environment exists, so every caller goes through installRuntime.
 */
import { IllegalStateError } from '@temporalio/common';
import { Runtime } from '@temporalio/worker';
import type { AppConfig } from '../config';
import type { Logger } from './logger';
import { temporalLevel, temporalLoggerOver } from './temporal-logger';

export interface InstalledRuntime {
  /** False when a Runtime already existed (then Temporal logs and metrics keep its settings). */
  installed: boolean;
  /** Where Core serves the SDK's Prometheus metrics, for the /metrics server to append. */
  temporalMetricsUrl: string | undefined;
}

let result: InstalledRuntime | undefined;

/**
 * Routes the SDK's logs (TS side and, forwarded, Rust Core's) into `logger`, and when
 * `config.metricsPort` > 0 has Core serve its worker metrics on 127.0.0.1:<metricsPort + 1>
 * (loopback only: the app's /metrics on metricsPort re-serves them). Idempotent.
 */
export function installRuntime(config: AppConfig, logger: Logger, opts: { coreMetricsPort?: number } = {}): InstalledRuntime {
  if (result) return result;
  // `coreMetricsPort`: the worker found metricsPort + 1 taken (another worker on this host) and picked a free one.
  const coreMetricsAddress = config.metricsPort > 0 ? `127.0.0.1:${opts.coreMetricsPort ?? config.metricsPort + 1}` : undefined;
  const level = temporalLevel(logger.level);
  try {
    Runtime.install({
      logger: temporalLoggerOver(logger),
      telemetryOptions: {
        logging: {
          // Core's INFO is chatty and rarely useful to us: WARN unless debugging.
          filter: { core: level === 'DEBUG' || level === 'TRACE' ? level : 'WARN', other: 'ERROR' },
          forward: {},
        },
        ...(coreMetricsAddress ? { metrics: { prometheus: { bindAddress: coreMetricsAddress } } } : {}),
      },
    });
  } catch (err) {
    if (!(err instanceof IllegalStateError)) throw err;
    logger.warn({ err }, 'Temporal Runtime already exists: its logging and metrics settings stay');
    result = { installed: false, temporalMetricsUrl: undefined };
    return result;
  }
  result = { installed: true, temporalMetricsUrl: coreMetricsAddress ? `http://${coreMetricsAddress}/metrics` : undefined };
  return result;
}
