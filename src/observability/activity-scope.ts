/**
 * Which activity the current code runs for. Set by the activity interceptor around every
 * activity execution, read by the log mixin (so every log line names its activity) and by the
 * DB query counter (so queries are attributed to the workflow that caused them).
 */
import type { Info } from '@temporalio/activity';
import { AsyncLocalStorage } from 'node:async_hooks';

export interface ActivityScope {
  workflowId: string | undefined;
  runId: string | undefined;
  activityId: string;
  activityType: string;
  attempt: number;
  taskQueue: string;
}

/** The identity of an activity execution, from its Temporal info. */
export function scopeOf(info: Info): ActivityScope {
  return {
    workflowId: info.workflowExecution?.workflowId,
    runId: info.workflowExecution?.runId,
    activityId: info.activityId,
    activityType: info.activityType,
    attempt: info.attempt,
    taskQueue: info.taskQueue,
  };
}

const storage = new AsyncLocalStorage<ActivityScope>();

/** The activity the caller runs inside, or undefined outside activities. */
export function currentActivity(): ActivityScope | undefined {
  return storage.getStore();
}

export function runInActivityScope<T>(scope: ActivityScope, fn: () => T): T {
  return storage.run(scope, fn);
}

/**
 * Runs `fn` (and the async work it starts, timers included) as if outside any activity: for
 * shared background work, like a batched write, that no one activity should be charged for.
 */
export function outsideActivityScope<T>(fn: () => T): T {
  return storage.exit(fn);
}
