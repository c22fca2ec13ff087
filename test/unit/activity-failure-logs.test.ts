/**
 * The SDK's "Activity failed" line at the worker's default level (info): an attempt the server
 * will retry (a 429, a 500, a dropped socket) is written at debug, not as a warning with its stack
 * for every retry; an attempt that fails for good (not retryable, the last attempt, a type the
 * policy refuses to retry, or no time left for another) still warns once, structured.
 */
import { ApplicationFailure } from '@temporalio/common';
import { MockActivityEnvironment } from '@temporalio/testing';
import { observabilityActivityInterceptors } from '../../src/observability/activity-interceptor';
import { createLogger } from '../../src/observability/logger';
import { createMetrics } from '../../src/observability/metrics';
import { temporalLoggerOver } from '../../src/observability/temporal-logger';

const POLICY = { initialInterval: 1000, backoffCoefficient: 2, maximumInterval: 100_000, maximumAttempts: 3 };

function worker(level: string) {
  const out: Record<string, unknown>[] = [];
  const logger = temporalLoggerOver(createLogger(level, { write: (line: string) => void out.push(JSON.parse(line) as Record<string, unknown>) }));
  const metrics = createMetrics({ defaultMetrics: false });
  /** One attempt of an activity that throws `err`, with `info` over a retry policy of 3 attempts and no schedule-to-close limit. */
  const attempt = async (err: Error, info: Record<string, unknown> = {}) => {
    const env = new MockActivityEnvironment(
      { activityType: 'summarizeScene', retryPolicy: POLICY, scheduleToCloseTimeoutMs: 0, ...info },
      { logger, interceptors: [observabilityActivityInterceptors(metrics)] },
    );
    await expect(env.run(async () => Promise.reject(err))).rejects.toBe(err);
  };
  return { out, attempt };
}

describe('"Activity failed" at info', () => {
  it('is not written for an attempt that will be retried', async () => {
    const { out, attempt } = worker('info');
    await attempt(ApplicationFailure.retryable('anthropic (model m) rate limited (429)', 'LlmRateLimited'), { attempt: 1 });
    await attempt(ApplicationFailure.retryable('openai (model m) failed with 500', 'LlmTransient'), { attempt: 2 });
    await attempt(new Error('socket hang up'), { attempt: 1 });
    // Time for the next attempt (2 s from now) within the schedule-to-close limit.
    await attempt(ApplicationFailure.retryable('500', 'LlmTransient'), { attempt: 2, scheduledTimestampMs: Date.now(), scheduleToCloseTimeoutMs: 60_000 });
    expect(out).toEqual([]);
  });

  it('warns once, structured, for an attempt that fails for good', async () => {
    const { out, attempt } = worker('info');
    await attempt(ApplicationFailure.nonRetryable('anthropic (model m) refused the request as invalid (400)', 'LlmInvalidRequest'), { attempt: 1 });
    await attempt(ApplicationFailure.retryable('openai (model m) failed with 500', 'LlmTransient'), { attempt: 3 });
    await attempt(ApplicationFailure.create({ message: 'refused by the policy', type: 'Refused' }), { attempt: 1, retryPolicy: { ...POLICY, nonRetryableErrorTypes: ['Refused'] } });
    // The next attempt would start 2 s from now, after the schedule-to-close limit.
    await attempt(ApplicationFailure.retryable('500', 'LlmTransient'), { attempt: 2, scheduledTimestampMs: Date.now() - 59_000, scheduleToCloseTimeoutMs: 60_000 });
    expect(out.map(({ level, msg, attempt: n, activityType, error }) => ({ level, msg, attempt: n, activityType, type: (error as { type?: string }).type }))).toEqual([
      { level: 'warn', msg: 'Activity failed', attempt: 1, activityType: 'summarizeScene', type: 'ApplicationFailure' },
      { level: 'warn', msg: 'Activity failed', attempt: 3, activityType: 'summarizeScene', type: 'ApplicationFailure' },
      { level: 'warn', msg: 'Activity failed', attempt: 1, activityType: 'summarizeScene', type: 'ApplicationFailure' },
      { level: 'warn', msg: 'Activity failed', attempt: 2, activityType: 'summarizeScene', type: 'ApplicationFailure' },
    ]);
  });

  it('keeps a retried attempt at debug', async () => {
    const { out, attempt } = worker('debug');
    await attempt(ApplicationFailure.retryable('429', 'LlmRateLimited'), { attempt: 1 });
    expect(out.filter((l) => l.msg === 'Activity failed').map((l) => l.level)).toEqual(['debug']);
  });
});
