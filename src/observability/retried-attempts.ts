/**
 * Which activity failures the server will retry: the SDK warns "Activity failed", with the
 * error's stack, for every failed attempt; at info a retried attempt (a 429, a 500, a dropped
 * socket, each retried by the activity's policy) is noise. The activity interceptor marks the
 * errors of attempts that will be retried, and the SDK's logger (temporal-logger.ts) writes their
 * line at debug; an attempt that fails for good still warns.
 */
import type { Info } from '@temporalio/activity';
import { ApplicationFailure } from '@temporalio/common';
import { msOptionalToNumber } from '@temporalio/common/lib/time';

const retried = new WeakSet<object>();

/** Marks `err` as the failure of an attempt that will be retried. */
export function markRetried(err: unknown): void {
  if (typeof err === 'object' && err !== null) retried.add(err);
}

/** Whether `err` failed an attempt that will be retried (markRetried). */
export function isRetriedAttempt(err: unknown): boolean {
  return typeof err === 'object' && err !== null && retried.has(err);
}

/**
 * Whether the server will retry the activity after this attempt failed with `err`, by the retry
 * policy the server sent: not for a non-retryable failure, a type the policy names as not
 * retryable, the last attempt, or a next attempt that would start after the schedule-to-close
 * limit. No policy sent (an old server): false, so the failure is said.
 */
export function attemptWillBeRetried(
  info: Pick<Info, 'attempt' | 'retryPolicy' | 'scheduledTimestampMs' | 'scheduleToCloseTimeoutMs'>,
  err: unknown,
  nowMs: number,
): boolean {
  const policy = info.retryPolicy;
  if (!policy) return false;
  if (err instanceof ApplicationFailure && err.nonRetryable) return false;
  const type = err instanceof ApplicationFailure ? err.type : err instanceof Error ? err.name : undefined;
  if (type && policy.nonRetryableErrorTypes?.includes(type)) return false;
  if (policy.maximumAttempts && info.attempt >= policy.maximumAttempts) return false;
  if (info.scheduleToCloseTimeoutMs) {
    const initial = msOptionalToNumber(policy.initialInterval) ?? 1000;
    const backoff = Math.min(initial * (policy.backoffCoefficient ?? 2) ** (info.attempt - 1), msOptionalToNumber(policy.maximumInterval) ?? 100 * initial);
    const delay = (err instanceof ApplicationFailure ? msOptionalToNumber(err.nextRetryDelay ?? undefined) : undefined) ?? backoff;
    if (nowMs + delay >= info.scheduledTimestampMs + info.scheduleToCloseTimeoutMs) return false;
  }
  return true;
}
