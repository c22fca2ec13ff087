/**
 * An item's attempts are spent on its own failures only. Activity retry policies have no
 * attempt limit (Temporal retries on), and this interceptor ends retrying once an attempt
 * reaches the queue's budget — except for failures that are nobody's fault but the
 * environment's and are waited out instead:
 * - a provider's rate limit or overload (429 / 529): until the run's deadline (llm-service.ts);
 * - the database being unreachable (refused, reset, shutting down): until it is back, with a
 *   warning per attempt so the wait is visible in the log and in `storyloom ingest status`.
 */
import { ApplicationFailure } from '@temporalio/common';
import type { ActivityInterceptorsFactory } from '@temporalio/worker';
import type { Logger } from '../observability/logger';
import { RATE_LIMIT_LLM_FAILURES, type LlmFailureType } from '../shared/failure-types';

/** Connection-level errors and SQLSTATEs that mean "the database is not there", not "the query is wrong". */
const UNREACHABLE_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'EHOSTUNREACH', 'ENOTFOUND', 'EAI_AGAIN', '57P01', '57P02', '57P03']);
const UNREACHABLE_MESSAGE =
  /Connection terminated|connection timeout|timeout exceeded when trying to connect|the database system is (starting up|shutting down|in recovery mode)|terminating connection due to administrator command|Client has encountered a connection error|Connection is not established|ECONNREFUSED|ECONNRESET/i;

/**
 * True when `err` (or what it wraps) says the database could not be reached. A failure the LLM
 * layer classified (an `Llm*` type) is a provider's, whatever its cause says: a provider that
 * refuses connections wraps the same ECONNREFUSED, and must spend the item's attempts.
 */
export function isDatabaseUnreachable(err: unknown): boolean {
  const seen = new Set<unknown>();
  let e: unknown = err;
  while (e && typeof e === 'object' && !seen.has(e)) {
    seen.add(e);
    if (e instanceof ApplicationFailure && e.type?.startsWith('Llm')) return false;
    const code = (e as { code?: unknown }).code;
    // Class 08 is connection trouble, but 08P01 (protocol_violation) is a statement the server
    // refuses (too many bind parameters): retrying it as an outage would wait forever.
    if (typeof code === 'string' && (UNREACHABLE_CODES.has(code) || (code.startsWith('08') && code !== '08P01'))) return true;
    if (UNREACHABLE_MESSAGE.test((e as Error).message ?? '')) return true;
    e = (e as { driverError?: unknown }).driverError ?? (e as { cause?: unknown }).cause;
  }
  return false;
}

/**
 * Runs `write` until it succeeds, waiting out an unreachable database (1 s doubling to 10 s by
 * default) until `giveUpAt`; any other failure, or the database still away then, is thrown. For
 * a write that must not be lost to a restart: a paid call's row, whose answer a retried
 * attempt would otherwise pay for again.
 */
export async function retryWhileDatabaseUnreachable<T>(
  write: () => Promise<T>,
  opts: { giveUpAt: number; firstDelayMs?: number; signal?: AbortSignal },
): Promise<T> {
  const firstDelayMs = opts.firstDelayMs ?? 1000;
  for (let tries = 0; ; tries++) {
    try {
      return await write();
    } catch (err) {
      const delay = Math.min(10 * firstDelayMs, firstDelayMs * 2 ** tries);
      if (!isDatabaseUnreachable(err) || Date.now() + delay > opts.giveUpAt || opts.signal?.aborted) throw err;
      await new Promise((resolve) => setTimeout(resolve, delay));
    }
  }
}

/**
 * A write after a paid answer: a database that is away (a restart) is waited out while this
 * attempt allows, rather than failing the attempt and paying for the same answer again on the next.
 */
export function untilDatabaseAnswersIn<T>(ctx: { attemptEndsAt?: number; signal?: AbortSignal }, write: () => Promise<T>): Promise<T> {
  return retryWhileDatabaseUnreachable(write, { giveUpAt: ctx.attemptEndsAt ?? Date.now(), signal: ctx.signal });
}

export type WaitReason = 'rate_limited' | 'database_unreachable';

/** Why a failure is waited out rather than counted, or undefined when it is the item's. */
export function waitReason(err: unknown): WaitReason | undefined {
  if (err instanceof ApplicationFailure && RATE_LIMIT_LLM_FAILURES.includes(err.type as LlmFailureType) && !err.nonRetryable) return 'rate_limited';
  if (isDatabaseUnreachable(err)) return 'database_unreachable';
  return undefined;
}

/**
 * `maxAttempts`: the attempt at which an item's own failures stop being retried (LLM queues 8,
 * the main queue STORYLOOM_DB_MAX_ATTEMPTS).
 */
export function attemptBudgetInterceptors(maxAttempts: number, logger: Logger): ActivityInterceptorsFactory {
  return (ctx) => ({
    inbound: {
      async execute(input, next) {
        try {
          return await next(input);
        } catch (err) {
          const { attempt, activityType, workflowExecution } = ctx.info;
          const reason = waitReason(err);
          if (reason === 'database_unreachable') {
            logger.warn(
              { activityType, attempt, workflowId: workflowExecution?.workflowId, err: (err as Error)?.message },
              'database unreachable: waiting for it to return (the activity retries)',
            );
          }
          if (reason || attempt < maxAttempts || ctx.cancellationSignal.aborted) throw err;
          if (err instanceof ApplicationFailure) {
            if (err.nonRetryable) throw err;
            throw ApplicationFailure.create({ type: err.type ?? undefined, message: err.message, details: err.details ?? undefined, nonRetryable: true, cause: err });
          }
          const e = err as Error;
          throw ApplicationFailure.create({ type: e?.name ?? 'Error', message: `${e?.message ?? String(err)} (after ${attempt} attempts)`, nonRetryable: true, cause: e instanceof Error ? e : undefined });
        }
      },
    },
  });
}
