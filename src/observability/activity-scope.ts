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

/** A workflow run a shared write is charged to (see chargedTo). */
export interface RunRef {
  workflowId: string | null | undefined;
  runId: string | null | undefined;
}

const charges = new AsyncLocalStorage<RunRef[]>();

/**
 * Runs `fn` (a shared batch write, e.g. `llm_calls` rows of several runs) with its statements
 * charged to each of `runs` — the runs whose rows it carries — instead of to no one.
 */
export function chargedTo<T>(runs: RunRef[], fn: () => T): T {
  const seen = new Map<string, RunRef>();
  for (const r of runs) if (r.workflowId) seen.set(`${r.workflowId}\u0000${r.runId ?? ''}`, r);
  return charges.run([...seen.values()], fn);
}

/** The runs the current shared write is charged to (undefined outside chargedTo). */
export function currentCharges(): RunRef[] | undefined {
  return charges.getStore();
}
