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
 * cancellation, 429s wait what Retry-After says (nextRetryDelay overrides the backoff), and
 * errors a retry cannot fix are not retried.
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
    maximumAttempts: 8,
    nonRetryableErrorTypes: [...NON_RETRYABLE_LLM_FAILURES],
  },
};

/** Database and configuration work: quick, idempotent, retried on any error a few times. */
export const DB_ACTIVITY_OPTIONS: ActivityOptions = {
  startToCloseTimeout: '1 minute',
  retry: { initialInterval: '500 milliseconds', backoffCoefficient: 2, maximumInterval: '10 seconds', maximumAttempts: 10 },
};

export const mainActivities = proxyActivities<MainActivities>(DB_ACTIVITY_OPTIONS);

/**
 * Quick reads and bookkeeping on the critical path (routes, plans, the run's row) run as local
 * activities: in the workflow's own worker, with no task-queue round trip per call.
 */
export const LOCAL_DB_ACTIVITY_OPTIONS: LocalActivityOptions = {
  startToCloseTimeout: '30 seconds',
  retry: { initialInterval: '500 milliseconds', backoffCoefficient: 2, maximumInterval: '10 seconds', maximumAttempts: 10 },
};

export const localActivities = proxyLocalActivities<MainActivities>(LOCAL_DB_ACTIVITY_OPTIONS);

/** LLM activities for one route: they run on that provider's task queue. */
export function llmActivities(route: LlmRoute, overrides: Partial<ActivityOptions> = {}) {
  return proxyActivities<ProviderActivities>({ ...LLM_ACTIVITY_OPTIONS, ...overrides, taskQueue: route.taskQueue });
}
