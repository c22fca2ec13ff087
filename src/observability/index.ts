/** Logs, metrics, per-run DB statistics and optional tracing: see each module for the why. */
export { currentActivity, outsideActivityScope, runInActivityScope, type ActivityScope } from './activity-scope';
export { observabilityActivityInterceptors } from './activity-interceptor';
export { LoggingCallLog, MetricsCallLog } from './llm-call-observers';
export { createLogger, parseLogLevel, type Logger } from './logger';
export { createMetrics, type AppMetrics } from './metrics';
export { scrape, startMetricsServer, type MetricsServer, type MetricsServerOptions } from './metrics-server';
export { readRunDbStats, RunDbStatsRecorder, sumRunDbStats, uncountedCallLog, type RunDbStatsRow } from './run-db-stats';
export { installRuntime, type InstalledRuntime } from './temporal-runtime';
export { temporalLoggerOver } from './temporal-logger';
export { clientInterceptors, tracingFor, TracingCallLog, workflowInterceptorModules, type Tracing } from './tracing';
