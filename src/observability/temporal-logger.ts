/**
 * Temporal's logger interface over our pino logger, so the SDK's messages (worker lifecycle,
 * activity failures, workflow `log` calls and, with forwarding on, Rust Core's own lines) land
 * in the same JSON stream as ours.
 */
import type { LogLevel } from '@temporalio/common';
import { DefaultLogger, type LogEntry, type Logger as TemporalLogger } from '@temporalio/worker';
import type { Logger } from './logger';
import { isRetriedAttempt } from './retried-attempts';

const TO_PINO: Record<LogLevel, 'trace' | 'debug' | 'info' | 'warn' | 'error'> = {
  TRACE: 'trace',
  DEBUG: 'debug',
  INFO: 'info',
  WARN: 'warn',
  ERROR: 'error',
};

/** The Temporal level that lets through what pino's `level` would keep. */
export function temporalLevel(pinoLevel: string): LogLevel {
  switch (pinoLevel) {
    case 'trace':
      return 'TRACE';
    case 'debug':
      return 'DEBUG';
    case 'info':
      return 'INFO';
    case 'warn':
      return 'WARN';
    default:
      return 'ERROR';
  }
}

/**
 * SDK lines written at every start that ask nothing of an operator: kept at debug. The provider
 * queues' workers run LLM activities only, by design (the SDK warns "No workflows registered" for
 * each); storyloom has no Nexus services; and webpack's build statistics (module paths and sizes,
 * a multi-line message) follow the one-line "Workflow bundle created", which stays at info.
 */
const ROUTINE_SDK_MESSAGES = [
  /^No workflows registered, not polling for workflow tasks$/,
  /^No Nexus services registered, not polling for Nexus tasks$/,
  /^asset workflow-bundle-/,
];

function levelOf(entry: LogEntry): LogLevel {
  if ((entry.level === 'INFO' || entry.level === 'WARN') && ROUTINE_SDK_MESSAGES.some((re) => re.test(entry.message))) return 'DEBUG';
  // An attempt the server will retry (a 429, a 500): its failure is not the activity's; one that fails for good still warns.
  if (entry.level === 'WARN' && entry.message === 'Activity failed' && isRetriedAttempt(entry.meta?.error)) return 'DEBUG';
  return entry.level;
}

/**
 * DefaultLogger with an output function is the SDK's documented way to redirect its logs; it
 * also strips the internal timestamp symbol Core-forwarded entries carry.
 */
export function temporalLoggerOver(logger: Logger): TemporalLogger {
  return new DefaultLogger(temporalLevel(logger.level), (entry: LogEntry) => {
    logger[TO_PINO[levelOf(entry)]](normalizeMeta(entry.meta), entry.message);
  });
}

/**
 * The SDK names an activity's workflow run `workflowRunId` and attaches the activity's task
 * token; we use `runId` everywhere and keep the token (a credential to complete the activity)
 * out of logs.
 */
function normalizeMeta(meta: LogEntry['meta']): Record<string, unknown> {
  if (!meta) return {};
  const { taskToken: _taskToken, workflowRunId, ...rest } = meta as Record<string, unknown>;
  if (workflowRunId !== undefined && rest.runId === undefined) rest.runId = workflowRunId;
  return rest;
}
