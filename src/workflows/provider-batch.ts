/**
 * Runs a provider batch from a workflow: submit, poll with durable timers (seconds growing to
 * minutes), fetch the results matched by custom id. Cancelling the workflow cancels the batch
 * at the provider. Workflow-safe: the work happens in the provider-batch activities.
 */
import { CancellationScope, isCancellation, log, proxyActivities, sleep } from '@temporalio/workflow';
import type { ProviderActivities } from '../activities';
import type { LlmRoute } from '../shared/llm-routing';
import {
  batchPollDelay,
  DEFAULT_BATCH_POLL,
  type BatchPollPolicy,
  type ProviderBatchProgress,
  type ProviderBatchResult,
} from '../shared/provider-batch';
import { LLM_ACTIVITY_OPTIONS, llmStartToClose } from './activity-options';

export interface RunProviderBatchOptions {
  /** The key the batch was prepared under (providerBatchKey(workflowId, name)). */
  key: string;
  /** Provider, model and task queue: the batch activities run on the provider's queue. */
  route: LlmRoute;
  poll?: Partial<BatchPollPolicy>;
  /** Called after the submit and after every poll (a workflow's progress query reads it). */
  onProgress?: (progress: ProviderBatchProgress) => void;
}

function batchActivities(route: LlmRoute) {
  return proxyActivities<ProviderActivities>({
    ...LLM_ACTIVITY_OPTIONS,
    // Submit uploads every request and fetch reads every answer: a few requests' worth each.
    startToCloseTimeout: llmStartToClose(route, 3),
    taskQueue: route.taskQueue,
  });
}

/**
 * Submits the batch prepared under `key` (items already cached are answered without it), waits
 * for it with a timer between polls, and returns each item's outcome: `ok` and `cached` items'
 * answers are in the repository (ProviderBatchRepository.answers); `failed` items say whether
 * a normal call may still succeed (`retryable`), so the caller retries them or records them.
 * On cancellation the batch is cancelled at the provider in a non-cancellable scope, then the
 * cancellation is rethrown.
 */
export async function runProviderBatch(opts: RunProviderBatchOptions): Promise<ProviderBatchResult> {
  const acts = batchActivities(opts.route);
  const ref = { key: opts.key, route: opts.route };
  const policy = { ...DEFAULT_BATCH_POLL, ...opts.poll };
  const started = Date.now();
  let polls = 0;
  try {
    let progress = await acts.submitProviderBatch(ref);
    opts.onProgress?.(progress);
    while (progress.state !== 'ended') {
      await sleep(batchPollDelay(policy, polls));
      polls++;
      progress = { ...(await acts.pollProviderBatch(ref)), polls };
      opts.onProgress?.(progress);
    }
    const items = await acts.fetchProviderBatchResults(ref);
    return { key: opts.key, batchId: progress.batchId, items, polls, elapsedMs: Date.now() - started };
  } catch (err) {
    if (isCancellation(err)) {
      await CancellationScope.nonCancellable(() => acts.cancelProviderBatch(ref)).catch((cancelErr: unknown) => {
        // The workflow's cancellation is what the caller must see; the batch ends on its own within 24 h.
        log.warn('could not cancel the provider batch', { key: opts.key, error: cancelErr instanceof Error ? cancelErr.message : String(cancelErr) });
      });
    }
    throw err;
  }
}
