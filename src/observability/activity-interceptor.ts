/**
 * One activity interceptor for the whole observability layer: it records which activity is
 * running (activity-scope.ts: log fields, DB query attribution) and counts activities in flight.
 */
import type { ActivityInterceptorsFactory } from '@temporalio/worker';
import { runInActivityScope, scopeOf } from './activity-scope';
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
        } finally {
          metrics.activitiesInFlight.dec(labels);
        }
      },
    },
  });
}
