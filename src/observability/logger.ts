/**
 * The process's one structured logger: JSON lines (pino) to stdout. Worker, activities,
 * Temporal's own messages (see temporal-logger.ts) and the LLM call log all write here, so one
 * stream can be filtered by workflowId/runId.
 *
 * What is logged at info is chosen so that prompt text, script text and keys never appear:
 * callers log identifiers, sizes, timings and outcomes, and `redact` is a second line of defence
 * for fields that would hold a key if someone passed a config or headers object by mistake.
 */
import pino, { type DestinationStream, type Logger } from 'pino';
import { currentActivity } from './activity-scope';

export type { Logger };

const LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;
export type LogLevelName = (typeof LEVELS)[number];

export function parseLogLevel(level: string): LogLevelName {
  const normalized = level.trim().toLowerCase();
  if ((LEVELS as readonly string[]).includes(normalized)) return normalized as LogLevelName;
  throw new Error(`LOG_LEVEL must be one of ${LEVELS.join(', ')}; got "${level}"`);
}

/**
 * A pino logger at `level`. `destination` defaults to stdout (the worker's log stream); the
 * CLI, whose stdout is for people, passes 'stderr'; tests pass a stream to read lines back.
 */
export function createLogger(level: string, destination: DestinationStream | 'stdout' | 'stderr' = 'stdout'): Logger {
  const options: pino.LoggerOptions = {
    name: 'storyloom',
    level: parseLogLevel(level),
    timestamp: pino.stdTimeFunctions.isoTime,
    // Level names ("info") rather than numbers: readable without a pino-aware viewer.
    formatters: { level: (label) => ({ level: label }) },
    serializers: { err: serializeError, error: serializeError },
    // Every line written while an activity runs names it, whichever code wrote the line.
    mixin: () => activityFields() ?? {},
    redact: {
      paths: [
        'apiKey', '*.apiKey', 'authorization', '*.authorization', 'headers.authorization',
        'headers["x-api-key"]', 'taskToken',
      ],
      censor: '[redacted]',
    },
  };
  if (destination === 'stdout') return pino(options);
  return pino(options, destination === 'stderr' ? pino.destination(2) : destination);
}

/**
 * Fields of an error that can quote data: TypeORM's QueryFailedError carries the statement
 * (`query`), its `parameters` (script text, model output) and the driver's error, onto which pg
 * puts `detail` and `where` (which can quote row values) and `internalQuery`; QueryFailedError
 * also copies those pg fields onto itself.
 */
const ERROR_FIELDS_WITH_DATA = new Set(['query', 'parameters', 'driverError', 'detail', 'where', 'internalQuery']);

/**
 * pino's standard error serializer (type, message and stack with their causes', code and the
 * other enumerable fields) without the fields that can quote data, at any depth: in nested
 * errors (a `driverError`, a Temporal failure's cause) and in AggregateError's `errors`.
 */
export function serializeError(err: unknown): unknown {
  if (!isErrorLike(err)) return err;
  const serialized = pino.stdSerializers.err(err as Error) as unknown as Record<string, unknown>;
  scrub(serialized, Object.getPrototypeOf(serialized) as object);
  return serialized;
}

function isErrorLike(value: unknown): value is { message: string } {
  return typeof value === 'object' && value !== null && typeof (value as { message?: unknown }).message === 'string';
}

/** `proto`: pino's prototype for serialized errors, which marks a field as a nested serialized error. */
function scrub(serialized: Record<string, unknown>, proto: object): void {
  for (const key of Object.keys(serialized)) {
    const value = serialized[key];
    if (ERROR_FIELDS_WITH_DATA.has(key)) delete serialized[key];
    else if (key === 'aggregateErrors' && Array.isArray(value)) {
      for (const nested of value) if (typeof nested === 'object' && nested !== null) scrub(nested as Record<string, unknown>, proto);
    } else if (typeof value === 'object' && value !== null && Object.getPrototypeOf(value) === proto) {
      scrub(value as Record<string, unknown>, proto);
    }
  }
}

function activityFields(): Record<string, unknown> | undefined {
  const scope = currentActivity();
  if (!scope) return undefined;
  return {
    workflowId: scope.workflowId,
    runId: scope.runId,
    activityType: scope.activityType,
    activityId: scope.activityId,
    attempt: scope.attempt,
    taskQueue: scope.taskQueue,
  };
}
