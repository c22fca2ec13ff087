/**
 * A run's `progress` query with a bounded wait. A query is answered by a worker: with none
 * polling the run's queue the server holds it until its own timeout (about 30 s), so the caller
 * waits that long for nothing. Shared by `storyloom status` and `GET /api/runs/:workflowId`
 * (and the API's SSE poller), which show what the run's description knows instead.
 */
import { isGrpcCancelledError, isGrpcDeadlineError, QueryNotRegisteredError, WorkflowNotFoundError, type Client, type WorkflowHandle } from '@temporalio/client';
import type { QueryDefinition } from '@temporalio/common';
import { withPayloadKeysHint } from '../security/payload-codec';

/** How long a progress query waits for a worker to answer. */
export const PROGRESS_QUERY_TIMEOUT_MS = 5_000;

/**
 * A progress line for a bar that polls (`ingest --wait`, `stories generate --wait`): the run's
 * own line, or why there is none, each poll bounded like `status`.
 */
export async function progressLineOrWhy<T>(handle: WorkflowHandle, query: QueryDefinition<T, []>, line: (progress: T) => string): Promise<string> {
  const answer = await queryProgress<T>(handle.client, handle, query);
  return answer.progress === null ? `(no progress: ${answer.error})` : line(answer.progress);
}

/** The query's answer, or null and why there is none. */
export type ProgressAnswer<T> =
  | { progress: T; error?: undefined; noWorker?: undefined }
  | {
      progress: null;
      /** Why there is no answer, in a few words (`no worker answered within 5 s`). */
      error: string;
      /** True when no worker answered in time (a worker is down or none polls the run's queue). */
      noWorker: boolean;
    };

/**
 * Asks the run's `progress` query, waiting at most `timeoutMs` for a worker. A run that does not
 * exist is WorkflowNotFoundError, as from describe(); every other failure is an answer without
 * progress, saying why.
 */
export async function queryProgress<T = unknown>(
  client: Pick<Client, 'withDeadline'>,
  handle: WorkflowHandle,
  query: QueryDefinition<T, []> | string = 'progress',
  timeoutMs = PROGRESS_QUERY_TIMEOUT_MS,
): Promise<ProgressAnswer<T>> {
  const deadline = Date.now() + timeoutMs;
  try {
    return { progress: withLiveElapsed(await client.withDeadline(deadline, () => handle.query<T, []>(query))) };
  } catch (err) {
    if (err instanceof WorkflowNotFoundError) throw err;
    // The deadline can surface as DEADLINE_EXCEEDED or, when the call is torn down at it, as
    // CANCELLED ("Call cancelled"): either way nothing answered in time.
    if (isGrpcDeadlineError(err) || (isGrpcCancelledError(err) && Date.now() >= deadline)) {
      return { progress: null, error: `no worker answered within ${timeoutMs / 1000} s`, noWorker: true };
    }
    if (err instanceof QueryNotRegisteredError) return { progress: null, error: 'the run has no progress query', noWorker: false };
    // The gRPC error's details say more than the SDK's "Failed to query Workflow".
    const cause = (err as { cause?: { details?: unknown } }).cause;
    const reason = typeof cause?.details === 'string' && cause.details ? cause.details : (err as Error).message ?? String(err);
    return { progress: null, error: `the progress query failed: ${withPayloadKeysHint(reason)}`, noWorker: false };
  }
}

/**
 * A run's elapsed time on this clock. A query reads the workflow's clock, which moves only when
 * the run has work (a workflow task): a paused run, or one waiting on a long call, would show
 * the same elapsed time poll after poll. Runs from 0.8.2 on say when they began.
 */
export function withLiveElapsed<T>(progress: T): T {
  const p = progress as { startedAt?: unknown; elapsedMs?: unknown; estimatedRemainingMs?: unknown } | null;
  if (typeof p?.startedAt !== 'number' || typeof p.elapsedMs !== 'number') return progress;
  const elapsedMs = Math.max(p.elapsedMs, Date.now() - p.startedAt);
  // The estimate was made when the workflow's clock last moved: the time since counts down. One
  // run out says nothing (the run is stalled or slower than it was): none is given then.
  const { estimatedRemainingMs: estimated, ...rest } = progress as T & { estimatedRemainingMs?: unknown };
  const left = typeof estimated === 'number' ? estimated - (elapsedMs - p.elapsedMs) : undefined;
  return { ...rest, elapsedMs, ...(left !== undefined && left > 0 ? { estimatedRemainingMs: left } : {}) } as T;
}
