import { Context, log } from '@temporalio/activity';
import { ApplicationFailure } from '@temporalio/common';
import type { LlmBatch, LlmBatchItem } from '../db/entities/llm-batch.entity';
import type { ItemOutcomeRow, ProviderBatchRepository } from '../db/repositories/provider-batch.repository';
import type { BatchClientRegistry } from '../llm/batch/registry';
import type { BatchCallOptions, BatchClient, BatchItemResult, BatchStatus } from '../llm/batch/types';
import { toLlmFailure, withoutKeys } from '../llm/errors';
import { withoutNul } from '../llm/without-nul';
import { deferredWrites, type CallContext, type ChatCall, type LlmService } from '../llm/llm-service';
import type { ChatResult } from '../llm/types';
import { LlmFailureType } from '../shared/failure-types';
import type { Provider } from '../shared/llm-routing';
import type { ProviderBatchItemOutcome, ProviderBatchProgress, ProviderBatchRef } from '../shared/provider-batch';
import { withActivityContext } from './activity-context';

export interface ProviderBatchDeps {
  repo: ProviderBatchRepository;
  llm: LlmService;
  clients: BatchClientRegistry;
}

/** A batch item's row key: attempt-independent, so a retried fetch never records a paid answer twice. */
const itemCallKey = (key: string, customId: string) => `batch/${key}/${customId}`;
/** How long a cancel waits for the batch to end, to settle what it had finished (then leaves it: it ends by itself). */
const CANCELLED_BATCH_WAIT_MS = 30_000;
const CANCELLED_BATCH_POLL_MS = 1_000;

function callOf(batch: LlmBatch, item: LlmBatchItem): ChatCall {
  return {
    purpose: batch.purpose,
    provider: batch.provider as Provider,
    model: batch.model,
    promptVersion: batch.promptVersion,
    request: item.request as ChatCall['request'],
    useCache: batch.useCache,
  };
}

/** A batch the provider no longer has (a 404 for its id). */
const BATCH_NOT_FOUND = 'ProviderBatchNotFound';
/** A lost batch's status word (its progress and the run's details show it). */
const LOST_STATUS = 'not found (404)';

/**
 * A lost batch, as an ended one none of whose items ran: settling it fails each open item
 * retryable with `why`, so the run sends them again as calls.
 */
function lostBatchStatus(batch: LlmBatch, id: string, why: string): BatchStatus {
  return {
    id,
    state: 'ended',
    providerStatus: LOST_STATUS,
    total: batch.itemCount,
    succeeded: 0,
    failed: 0,
    createdAt: (batch.submittedAt ?? new Date()).toISOString(),
    endedAt: new Date().toISOString(),
    failure: why,
  };
}

function failedRow(customId: string, failure: ApplicationFailure): ItemOutcomeRow {
  return { customId, outcome: 'failed', errorType: failure.type ?? 'Unknown', errorMessage: failure.message, retryable: !failure.nonRetryable };
}

function outcomeOf(item: LlmBatchItem): ProviderBatchItemOutcome {
  if (item.outcome === 'ok' || item.outcome === 'cached') return { customId: item.customId, status: item.outcome };
  return {
    customId: item.customId,
    status: 'failed',
    errorType: item.errorType ?? LlmFailureType.Transient,
    message: item.errorMessage ?? 'the batch ended without a result for this item',
    retryable: item.retryable ?? true,
  };
}

/**
 * Submit, poll, fetch and cancel a provider batch prepared in Postgres
 * (ProviderBatchRepository.prepare). They run on the provider's task queue; every one is
 * retry-safe: the batch is found by its key (a retried submit never creates a second batch once
 * the first one's id is recorded), outcomes and call-log rows are written once per item.
 */
export function createProviderBatchActivities(deps: ProviderBatchDeps) {
  async function open(key: string, ctx: CallContext) {
    const batch = await deps.repo.find(key);
    if (!batch) {
      throw ApplicationFailure.create({ type: BATCH_NOT_FOUND, message: `No provider batch prepared under key "${key}"`, nonRetryable: true });
    }
    const client = deps.clients.get(batch.provider as Provider);
    const opts: BatchCallOptions = { purpose: batch.purpose, signal: ctx.signal };
    /**
     * A provider call, its errors mapped as the synchronous adapters' are, but for a 404 once the
     * batch has an id: that is the batch missing at the provider, not the model (whose 404
     * message would send the user to STORYLOOM_MODEL_*).
     */
    const call = async <T>(fn: (c: BatchClient) => Promise<T>): Promise<T> => {
      try {
        return await fn(client);
      } catch (err) {
        const status = (err as { status?: unknown } | null)?.status;
        const id = batch.providerBatchId;
        if (status === 404 && id) {
          throw ApplicationFailure.create({
            type: BATCH_NOT_FOUND,
            message: `${batch.provider} has no batch ${id} (404): it was deleted, or the key or workspace changed since it was sent`,
            nonRetryable: true,
          });
        }
        throw toLlmFailure(err, batch.provider as Provider, batch.model);
      }
    };
    /**
     * The batch's status at the provider; a batch it no longer has has ended, for the run, with
     * none of its answers: its items are failed retryable when it is settled, and go as calls.
     */
    const statusOf = async (id: string): Promise<BatchStatus> => {
      try {
        return await call((c) => c.status(id, opts));
      } catch (err) {
        if (!(err instanceof ApplicationFailure && err.type === BATCH_NOT_FOUND)) throw err;
        return lostBatchStatus(batch, id, `${err.message}; none of its answers could be read`);
      }
    };
    return { batch, opts, call, statusOf };
  }

  function progress(batch: LlmBatch, items: LlmBatchItem[], status: BatchStatus | undefined): ProviderBatchProgress {
    const cached = items.filter((i) => i.outcome === 'cached').length;
    return {
      batchId: status?.id ?? batch.providerBatchId,
      state: status ? status.state : cached === items.length ? 'ended' : 'prepared',
      providerStatus: status?.providerStatus ?? (cached === items.length ? 'all cached' : batch.status),
      total: items.length,
      cached,
      succeeded: status?.succeeded ?? 0,
      failed: status?.failed ?? 0,
      polls: 0,
    };
  }

  /**
   * Settles an ended batch's open items from its results, as a normal call would be (schema
   * check; cached only when valid; a call-log row with the batch flag, whose latency is the
   * batch's processing time). Items the provider answered with an error are classified like
   * synchronous errors; items never run (canceled, expired, or no result) fail retryable.
   */
  async function settleOpenItems(ref: ProviderBatchRef, ctx: CallContext, status: BatchStatus): Promise<void> {
    const { batch, opts, call } = await open(ref.key, ctx);
    const open_ = (await deps.repo.items(ref.key)).filter((i) => i.outcome === null);
    if (!open_.length) return;
    const latencyMs = status.endedAt ? Math.max(0, Date.parse(status.endedAt) - Date.parse(status.createdAt)) : 0;
    let failure = status.failure;
    let results: BatchItemResult[] = [];
    if (!failure) {
      try {
        results = await call((c) => c.results(status.id, opts));
      } catch (err) {
        // Its results gone at the provider: lost as a whole, as when its status is.
        if (!(err instanceof ApplicationFailure && err.type === BATCH_NOT_FOUND)) throw err;
        failure = `${err.message}; none of its answers could be read`;
      }
    }
    if (failure && (status.providerStatus === LOST_STATUS || !status.failure)) {
      // Said once, where its items are settled (a poll and the fetch both see it lost).
      log.warn('provider batch lost: its open items fail retryable (a run that goes on makes them as calls)', { batchKey: ref.key, provider: batch.provider, batchId: status.id, items: open_.length });
    }
    const byId = new Map(results.map((r) => [r.customId, r]));
    const provider = batch.provider as Provider;
    const rows: ItemOutcomeRow[] = [];
    // Every item's call row and cache entry are written with the outcomes: one transaction.
    const collect = deferredWrites();
    for (const item of open_) {
      const r = byId.get(item.customId);
      const itemCtx = { ...ctx, collect, callKey: itemCallKey(ref.key, item.customId) };
      if (!r || (!r.ok && r.reason !== 'errored')) {
        const why = failure ?? (r && !r.ok ? withoutKeys(r.message) : 'the batch ended without a result for this item');
        rows.push(failedRow(item.customId, ApplicationFailure.create({ type: LlmFailureType.Transient, message: `${provider} batch ${status.id}: ${why}` })));
        continue;
      }
      if (r.ok) {
        // Stored as the service keeps an answer: without NUL, which Postgres refuses in jsonb (one such item failed the whole batch's write).
        const result = withoutNul(r.result);
        const failure = await deps.llm.settleBatchItem(callOf(batch, item), itemCtx, { ok: true, result, latencyMs });
        rows.push(failure ? failedRow(item.customId, failure) : { customId: item.customId, outcome: 'ok', response: result as ChatResult });
        continue;
      }
      const mapped = toLlmFailure({ status: r.status ?? 500, message: r.message }, provider, batch.model) as ApplicationFailure;
      await deps.llm.settleBatchItem(callOf(batch, item), itemCtx, { ok: false, failure: mapped, latencyMs });
      rows.push(failedRow(item.customId, mapped));
    }
    await deps.repo.settle(ref.key, rows, {
      status: batch.status === 'cancelled' ? 'cancelled' : 'ended',
      endedAt: status.endedAt ? new Date(status.endedAt) : new Date(),
      failure: failure ?? null,
    }, collect);
  }

  const rowStatus = (s: BatchStatus) => (s.state === 'ended' ? 'ended' : s.state);

  return {
    /**
     * Answers items from the response cache (recorded as cache hits), then submits the rest as
     * one batch and records its id before returning. A retry finds the recorded batch (or, on
     * OpenAI, the batch carrying the key in its metadata) instead of creating another; should
     * the id not reach Postgres, the new batch is cancelled before the activity fails, and the
     * retry submits a new one (findByKey never answers a cancelled, expired or failed batch).
     * Anthropic keeps no key with a batch: a retry adopts the one batch created since the submit
     * was first scheduled, of the same size, that no run has recorded (none, or several: it
     * submits a new one).
     */
    async submitProviderBatch(ref: ProviderBatchRef): Promise<ProviderBatchProgress> {
      return withActivityContext(async (ctx) => {
        const { batch, opts, call, statusOf } = await open(ref.key, ctx);
        let items = await deps.repo.items(ref.key);
        if (batch.providerBatchId) return progress(batch, items, await statusOf(batch.providerBatchId));
        // A retry: an earlier attempt may have created the batch without recording it (its answer lost).
        if ((ctx.attempt ?? 1) > 1) {
          const since = Context.current().info.scheduledTimestampMs;
          let found = await call((c) => c.findByKey(ref.key, opts, since));
          if (!found) {
            // No key kept with the batch (Anthropic): the one unrecorded batch of this size made since.
            const unanswered = items.filter((i) => i.outcome === null).length;
            const candidates = await call(async (c) => (c.findUnkeyed ? c.findUnkeyed(unanswered, since, opts) : []));
            const recorded = await deps.repo.recordedProviderBatchIds(candidates.map((c) => c.id));
            const unrecorded = candidates.filter((c) => !recorded.has(c.id));
            if (unrecorded.length === 1) found = unrecorded[0];
          }
          if (found) {
            await deps.repo.update(ref.key, { providerBatchId: found.id, status: rowStatus(found), submittedAt: new Date(found.createdAt) });
            return progress(batch, items, found);
          }
        }
        const hits: ItemOutcomeRow[] = [];
        // The hits' call rows are written with their outcomes (one commit, not one each).
        const collect = deferredWrites();
        for (const item of items.filter((i) => i.outcome === null)) {
          const hit = await deps.llm.cachedChat(callOf(batch, item), { ...ctx, collect, callKey: itemCallKey(ref.key, item.customId) });
          if (hit) hits.push({ customId: item.customId, outcome: 'cached', response: hit });
        }
        const hitIds = new Set(hits.map((h) => h.customId));
        const pending = items.filter((i) => i.outcome === null && !hitIds.has(i.customId));
        if (!pending.length) {
          await deps.repo.settle(ref.key, hits, { status: 'ended', endedAt: new Date() }, collect);
          return progress(batch, await deps.repo.items(ref.key), undefined);
        }
        await deps.repo.saveOutcomes(ref.key, hits, undefined, collect);
        if (hits.length) items = await deps.repo.items(ref.key);
        const requests = pending.map((i) => ({ customId: i.customId, request: { ...(i.request as ChatCall['request']), model: batch.model } }));
        const status = await call((c) => c.submit(requests, ref.key, opts));
        try {
          await deps.repo.update(ref.key, { providerBatchId: status.id, status: rowStatus(status), submittedAt: new Date(), failure: status.failure ?? null });
        } catch (err) {
          // Nobody would poll this batch: stop it (best effort) so a retry's batch is the only one.
          await call((c) => c.cancel(status.id, { purpose: opts.purpose })).catch(() => undefined);
          throw err;
        }
        return progress(batch, items, status);
      });
    },

    /** The batch's state at the provider. */
    async pollProviderBatch(ref: ProviderBatchRef): Promise<ProviderBatchProgress> {
      return withActivityContext(async (ctx) => {
        const { batch, statusOf } = await open(ref.key, ctx);
        const items = await deps.repo.items(ref.key);
        if (!batch.providerBatchId) return progress(batch, items, undefined);
        // Read-only: the fetch records the batch's end (one commit fewer per run).
        return progress(batch, items, await statusOf(batch.providerBatchId));
      });
    },

    /**
     * Fetches an ended batch's results, matches them to items by custom id and settles each
     * (`settleOpenItems`). Returns every item's outcome, cached ones included.
     */
    async fetchProviderBatchResults(ref: ProviderBatchRef): Promise<ProviderBatchItemOutcome[]> {
      return withActivityContext(async (ctx) => {
        const { batch, statusOf } = await open(ref.key, ctx);
        const items = await deps.repo.items(ref.key);
        if (batch.providerBatchId && items.some((i) => i.outcome === null)) {
          const status = await statusOf(batch.providerBatchId);
          if (status.state !== 'ended') {
            throw ApplicationFailure.create({ type: LlmFailureType.Transient, message: `batch ${status.id} has not ended yet (${status.providerStatus})` });
          }
          await settleOpenItems(ref, ctx, status);
          return (await deps.repo.items(ref.key)).map(outcomeOf);
        }
        return items.map(outcomeOf);
      });
    },

    /**
     * Cancels the batch at the provider (the workflow was cancelled). Safe at any point: before
     * the submit recorded an id it looks the batch up by key (OpenAI), and a batch already ended
     * is left as it is. The answers the provider finished before the cancel are billed: once the
     * batch has ended (waited for up to CANCELLED_BATCH_WAIT_MS) they are settled as a fetch
     * settles them, call-log rows and cache entries, so the cost shows and a re-run is answered
     * from the cache instead of paying for them again.
     */
    async cancelProviderBatch(ref: ProviderBatchRef): Promise<{ batchId: string | null; cancelled: boolean }> {
      return withActivityContext(async (ctx) => {
        const batch = await deps.repo.find(ref.key);
        if (!batch) return { batchId: null, cancelled: false };
        const { opts, call, statusOf } = await open(ref.key, ctx);
        let id = batch.providerBatchId;
        // A submit cancelled in flight may have created the batch without recording it.
        if (!id && batch.status === 'prepared') id = (await call((c) => c.findByKey(ref.key, opts)))?.id ?? null;
        if (!id || batch.status === 'ended') {
          if (batch.status !== 'ended') await deps.repo.update(ref.key, { status: 'cancelled' });
          return { batchId: id, cancelled: false };
        }
        // A batch may have ended at the provider with its results not fetched yet (the run's polls
        // are minutes apart): nothing to cancel then, and everything to settle.
        let status = await statusOf(id);
        let cancelled = false;
        if (status.state !== 'ended') {
          try {
            status = await call((c) => c.cancel(id, opts));
            cancelled = true;
          } catch (err) {
            // It may have ended between the look and the cancel, which a provider then refuses.
            status = await statusOf(id);
            if (status.state !== 'ended') throw err;
          }
        }
        await deps.repo.update(ref.key, {
          providerBatchId: id,
          ...(cancelled ? { status: 'cancelled', endedAt: status.endedAt ? new Date(status.endedAt) : null } : {}),
        });
        let ended: BatchStatus | undefined = status;
        // A cancelled batch ends once the requests it was running finish (Anthropic: "canceling").
        for (const until = Date.now() + CANCELLED_BATCH_WAIT_MS; ended.state !== 'ended'; ) {
          if (Date.now() >= until) {
            ended = undefined;
            break;
          }
          await new Promise((r) => setTimeout(r, CANCELLED_BATCH_POLL_MS));
          ended = await statusOf(id);
        }
        // Not ended within the wait (OpenAI's "cancelling" can take minutes): its answers stay unsettled, and a re-run pays for them.
        if (ended) await settleOpenItems(ref, ctx, ended);
        return { batchId: id, cancelled: cancelled && (status.state !== 'ended' || status.providerStatus === 'cancelled') };
      });
    },
  };
}
