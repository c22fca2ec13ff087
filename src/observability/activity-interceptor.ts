/**
 * One activity interceptor for the whole observability layer: it records which activity is
 * running (activity-scope.ts: log fields, DB query attribution) and counts activities in flight.
 */
import type { ActivityInterceptorsFactory } from '@temporalio/worker';
import { runInActivityScope, type ActivityScope } from './activity-scope';
import type { AppMetrics } from './metrics';

export function observabilityActivityInterceptors(metrics: AppMetrics): ActivityInterceptorsFactory {
  return (ctx) => ({
    inbound: {
      async execute(input, next) {
        const info = ctx.info;
        const scope: ActivityScope = {
          workflowId: info.workflowExecution?.workflowId,
          runId: info.workflowExecution?.runId,
          activityId: info.activityId,
          activityType: info.activityType,
          attempt: info.attempt,
          taskQueue: info.taskQueue,
        };
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
