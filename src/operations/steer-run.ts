/**
 * Steering a running workflow of any job through the Updates every job defines (`pause`,
 * `resume`, `setConcurrency`) and cancellation. Shared by `storyloom pause|resume|concurrency|cancel`
 * and `POST /api/runs/:workflowId/pause|resume|cancel`, `PATCH /api/runs/:workflowId/concurrency`.
 */
import {
  WorkflowNotFoundError,
  WorkflowUpdateFailedError,
  WorkflowUpdateRPCTimeoutOrCancelledError,
  type Client,
  type WorkflowHandle,
} from '@temporalio/client';
import { OperationError } from './context';

/** How long a steering request waits for the run to take it (a worker must be running). */
export const STEER_TIMEOUT_MS = 15_000;

/** The run ended (or never was) before it took the request. */
export class NotRunningError extends OperationError {
  constructor(workflowId: string, status?: string) {
    super('conflict', `Workflow ${workflowId} is not running${status ? ` (${status})` : ''}.`);
  }
}

/** No worker took the request in time; not the caller's mistake (the API answers 504). */
export class RunUnresponsiveError extends Error {
  override name = 'RunUnresponsiveError';
  constructor() {
    // Only the wait ends here: the server keeps the request, and a worker that starts later may still apply it.
    super(`the run did not take the request within ${STEER_TIMEOUT_MS / 1000} s: is a worker running (\`storyloom worker\`)? It may still be applied when one starts.`);
  }
}

/**
 * Sends a steering update and returns the run's answer. The run's validator refusing the
 * request is a bad request (its message says why); a run that ended meanwhile is NotRunningError.
 */
export async function steer<T>(client: Client, workflowId: string, send: () => Promise<T>): Promise<T> {
  try {
    return await client.withDeadline(Date.now() + STEER_TIMEOUT_MS, send);
  } catch (err) {
    if (err instanceof WorkflowUpdateFailedError) throw new OperationError('bad_request', err.cause?.message ?? err.message);
    if (err instanceof WorkflowNotFoundError) throw new NotRunningError(workflowId);
    if (err instanceof WorkflowUpdateRPCTimeoutOrCancelledError) throw new RunUnresponsiveError();
    throw err;
  }
}

export type SteeringAction = 'pause' | 'resume' | 'cancel';

/** What a steering action answers: the run's steering state (pause, resume) or nothing (cancel). */
export async function steerRun(client: Client, handle: WorkflowHandle, action: SteeringAction): Promise<unknown> {
  if (action === 'cancel') {
    try {
      await handle.cancel();
    } catch (err) {
      if (err instanceof WorkflowNotFoundError) throw new NotRunningError(handle.workflowId);
      throw err;
    }
    // The server accepts a cancel of a run that has already ended, and it does nothing: a run that
    // ended after the caller saw it running (completed, failed as the cancel was sent) is not
    // running, and the caller says so rather than "cancel requested".
    const after = await handle.describe();
    if (after.status.name !== 'RUNNING' && after.status.name !== 'CANCELLED') throw new NotRunningError(handle.workflowId, after.status.name);
    return undefined;
  }
  return steer(client, handle.workflowId, () => handle.executeUpdate(action));
}

/** Changes a running workflow's concurrency (the run's validator checks the values). */
export function setRunConcurrency(client: Client, handle: WorkflowHandle, change: Record<string, unknown>): Promise<unknown> {
  return steer(client, handle.workflowId, () => handle.executeUpdate('setConcurrency', { args: [change] }));
}
