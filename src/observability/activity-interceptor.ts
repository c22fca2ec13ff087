/**
 * One activity interceptor for the whole observability layer: it records which activity is
 * running (activity-scope.ts: log fields, DB query attribution), counts activities in flight and
 * marks the failures of attempts the server will retry (retried-attempts.ts).
 */
import type { ActivityInterceptorsFactory } from '@temporalio/worker';
import { runInActivityScope, scopeOf } from './activity-scope';
import { attemptWillBeRetried, markRetried } from './retried-attempts';
import type { AppMetrics } from './metrics';

export function observabilityActivityInterceptors(metrics: AppMetrics): ActivityInterceptorsFactory {
  return (ctx) => ({
    inbound: {
      async execute(input, next) {
        const info = ctx.info;
        const scope = scopeOf(info);
        const labels = { activity_type: info.activityType, task_queue: info.taskQueue };
        metrics.activitiesInFlight.inc(labels);
        try {
          return await runInActivityScope(scope, () => next(input));
        } catch (err) {
          // The SDK's "Activity failed" line for an attempt the server will retry goes at debug (temporal-logger.ts).
          if (attemptWillBeRetried(info, err, Date.now())) markRetried(err);
          throw err;
        } finally {
          metrics.activitiesInFlight.dec(labels);
        }
      },
    },
  });
}
