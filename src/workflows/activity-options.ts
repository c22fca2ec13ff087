/**
 * Every activity group's timeouts and retry policy, in one place. Workflow-safe: imports only
 * @temporalio/workflow and types.
 */
import { ActivityCancellationType, proxyActivities, proxyLocalActivities, type ActivityOptions, type LocalActivityOptions } from '@temporalio/workflow';
import type { MainActivities, ProviderActivities } from '../activities';
import { NON_RETRYABLE_LLM_FAILURES } from '../shared/failure-types';
import type { LlmRoute } from '../shared/llm-routing';

/**
 * LLM calls: the client times a request out (STORYLOOM_LLM_TIMEOUT_MS), heartbeats carry
 * cancellation and progress (a dead worker is noticed within the heartbeat timeout), 429s wait
 * what Retry-After says (nextRetryDelay overrides the backoff), and errors a retry cannot fix
 * are not retried. The start-to-close limit comes from the route (see llmStartToClose).
 * No attempt limit here: rate limits are waited out until the run's deadline, and the worker
 * ends an item's retries after LLM_MAX_ATTEMPTS of its own failures (activities/attempt-budget.ts).
 */
export const LLM_ACTIVITY_OPTIONS: ActivityOptions = {
  startToCloseTimeout: '3 minutes',
  heartbeatTimeout: '20 seconds',
  // The workflow learns of a cancellation only once the HTTP request is really aborted.
  cancellationType: ActivityCancellationType.WAIT_CANCELLATION_COMPLETED,
  retry: {
    initialInterval: '1 second',
    backoffCoefficient: 2,
    maximumInterval: '30 seconds',
    nonRetryableErrorTypes: [...NON_RETRYABLE_LLM_FAILURES],
  },
};

/**
 * Database and configuration work: quick, idempotent, retried on any error. The limit fits a
 * batch write (milliseconds; seconds under load), so a worker killed during one stalls the run
 * for seconds, not a minute. No attempt limit here: an unreachable database is waited for (every
 * 10 s) however long it is away, and the worker ends retries of other errors after
 * STORYLOOM_DB_MAX_ATTEMPTS (activities/attempt-budget.ts).
 */
export const DB_ACTIVITY_OPTIONS: ActivityOptions = {
  startToCloseTimeout: '15 seconds',
  retry: { initialInterval: '500 milliseconds', backoffCoefficient: 2, maximumInterval: '10 seconds' },
};

export const mainActivities = proxyActivities<MainActivities>(DB_ACTIVITY_OPTIONS);

/**
 * Quick reads and bookkeeping on the critical path (routes, plans, the run's row) run as local
 * activities: in the workflow's own worker, with no task-queue round trip per call.
 */
export const LOCAL_DB_ACTIVITY_OPTIONS: LocalActivityOptions = {
  startToCloseTimeout: '30 seconds',
  retry: { initialInterval: '500 milliseconds', backoffCoefficient: 2, maximumInterval: '10 seconds' },
};

export const localActivities = proxyLocalActivities<MainActivities>(LOCAL_DB_ACTIVITY_OPTIONS);

/** What an LLM activity does besides its requests: database reads and writes, the call-log write. */
export const LLM_ACTIVITY_OVERHEAD_MS = 30_000;

/**
 * An LLM activity's start-to-close limit: its requests one after another, each up to the
 * request timeout, plus the overhead. Routes resolved before they carried the timeout (runs
 * started by an earlier release) keep the old fixed limit.
 */
export function llmStartToClose(route: LlmRoute, requests = 1): ActivityOptions['startToCloseTimeout'] {
  if (!route.requestTimeoutMs) return LLM_ACTIVITY_OPTIONS.startToCloseTimeout;
  return route.requestTimeoutMs * Math.max(1, requests) + LLM_ACTIVITY_OVERHEAD_MS;
}

/** The slowest pace a streamed answer is expected to keep (ms a token): a small local model on a CPU writes about 5 tokens a second. */
export const SLOWEST_STREAM_MS_PER_TOKEN = 200;

/**
 * A streamed LLM activity's start-to-close limit (a screenplay, a session's step). A stream is
 * timed by its silence, not its length (the request timer restarts with every event), so each of
 * its requests may take the wait for its first token plus its whole output at the slowest pace
 * expected; a dead worker is still noticed by the heartbeat timeout, a stalled stream by the timer.
 */
export function llmStreamStartToClose(route: LlmRoute, requests: number, maxOutputTokens: number): ActivityOptions['startToCloseTimeout'] {
  if (!route.requestTimeoutMs) return LLM_ACTIVITY_OPTIONS.startToCloseTimeout;
  return Math.max(1, requests) * (route.requestTimeoutMs + maxOutputTokens * SLOWEST_STREAM_MS_PER_TOKEN) + LLM_ACTIVITY_OVERHEAD_MS;
}

/**
 * LLM activities for one route: they run on that provider's task queue. `requests` is the most
 * requests one activity of this proxy makes (default 1).
 */
export function llmActivities(route: LlmRoute, opts: { requests?: number } & Partial<ActivityOptions> = {}) {
  const { requests, ...overrides } = opts;
  return proxyActivities<ProviderActivities>({
    ...LLM_ACTIVITY_OPTIONS,
    startToCloseTimeout: llmStartToClose(route, requests),
    ...overrides,
    taskQueue: route.taskQueue,
  });
}
