/**
 * generateStories with `batch: true` end to end (dev server, Postgres, the simulator's batch
 * endpoints through the SDKs): the uncached syntheses go as one provider batch, an item that
 * fails in it is retried as a normal call, the stories are written once, the report prices the
 * batch calls at half; an unchanged rerun sends no batch; cancelling mid-batch cancels it at
 * the provider.
 */
import { WorkflowFailedError } from '@temporalio/client';
import { CancelledFailure } from '@temporalio/common';
import { NewsRepository } from '../../src/db/repositories/news.repository';
import { RunRepository } from '../../src/db/repositories/run.repository';
import { syntheticNews } from '../../src/domain/news/synthetic-articles';
import { DAY_MS, resolveScope, storiesWorkflowId, type StoryScopeInput } from '../../src/shared/stories';
import { generateStories, storiesProgressQuery } from '../../src/workflows';
import type { GenerateStoriesInput } from '../../src/workflows/generate-stories';
import { useTestStack } from '../helpers/harness';
import { waitFor } from '../helpers/wait';

const stack = useTestStack('generate-stories-batch');
let nextDay = Date.UTC(2033, 0, 1) + Math.floor(Math.random() * 3000) * 10 * DAY_MS;
const freshDay = () => (nextDay += 10 * DAY_MS);
const FAST_POLL = { initialMs: 200, factor: 1.5, maxMs: 1000 };

beforeEach(() => {
  stack.sim.configure({ faults: [], latency: null, batches: { processingMs: 1500, itemFaults: [] } });
  stack.sim.resetStats();
});

async function importNews(day: number, articles: number, clusters: number, salt: string) {
  await new NewsRepository(stack.app.services.db).importArticles(syntheticNews({ articles, clusters, dayMs: day, salt }));
}

function start(scope: StoryScopeInput, extra: Partial<GenerateStoriesInput> = {}) {
  return stack.env.client.workflow.start(generateStories, {
    taskQueue: stack.app.taskQueue,
    workflowId: storiesWorkflowId(resolveScope(scope, Date.now())),
    args: [{ scope, batch: true, batchPoll: FAST_POLL, ...extra }],
  });
}

const syncSynthesisCalls = () => stack.sim.stats().byRoute['anthropic.messages'].requests;

it('sends the uncached syntheses as one batch, retries a failed item by a call, and prices the batch at half', async () => {
  const day = freshDay();
  await importNews(day, 12, 3, `batch-${day}`);
  stack.sim.configure({ batches: { itemFaults: [{ kind: 'http500', times: 1 }] } });
  const handle = await start({ fromMs: day, toMs: day + DAY_MS });
  const result = await handle.result();
  expect(result).toMatchObject({ status: 'completed', synthesisMode: 'batch', clusters: 3, failureCount: 0, stories: { created: 3 } });
  expect(result.synthesis).toMatchObject({ total: 3, done: 3, failed: 0 });
  expect(stack.sim.stats().batches).toMatchObject({ created: 1, items: 3, itemsSucceeded: 2, itemsErrored: 1, cancelled: 0 });
  expect(syncSynthesisCalls()).toBe(1); // the item that failed in the batch, retried as a call

  const report = await new RunRepository(stack.app.services.db).findReport({ firstRunId: handle.firstExecutionRunId });
  const batchLine = report!.llm.find((l) => l.purpose === 'synthesis' && l.batch)!;
  const callLine = report!.llm.find((l) => l.purpose === 'synthesis' && !l.batch)!;
  expect(batchLine).toMatchObject({ providerCalls: 3, errors: 1 });
  expect(callLine).toMatchObject({ providerCalls: 1, errors: 0 });
  const price = stack.app.config.llm.prices['claude-sonnet-4-6'];
  const full = (batchLine.inputTokens * price.input + batchLine.outputTokens * price.output) / 1e6;
  expect(batchLine.costUsd).toBeCloseTo(full / 2, 10);
  expect(report!.totals.batchCalls).toBe(3);
  expect(report!.criticalPath.steps.map((s) => s.name)).toEqual(['embeddings', 'synthesis batch', 'synthesis']);

  // Unchanged: every story is reused, nothing is sent.
  stack.sim.resetStats();
  const again = await (await start({ fromMs: day, toMs: day + DAY_MS })).result();
  expect(again).toMatchObject({ status: 'completed', synthesisMode: 'calls', stories: { created: 0, kept: 3 } });
  expect(stack.sim.stats().batches.created).toBe(0);
  expect(stack.sim.stats().totalRequests).toBe(0);
});

it('records an item that failed in the batch with an error a call cannot fix, and completes with the others', async () => {
  const day = freshDay();
  await importNews(day, 9, 3, `batch-fail-${day}`);
  stack.sim.configure({ batches: { itemFaults: [{ kind: 'http400', times: 1 }] } });
  const result = await (await start({ fromMs: day, toMs: day + DAY_MS })).result();
  expect(result).toMatchObject({ status: 'completed_with_failures', synthesisMode: 'batch', failureCount: 1, stories: { created: 2 } });
  expect(result.failures[0]).toMatchObject({ errorType: 'LlmInvalidRequest' });
  expect(syncSynthesisCalls()).toBe(0);
});

it('cancelling the run mid-batch cancels the batch at the provider', async () => {
  const day = freshDay();
  await importNews(day, 8, 2, `batch-cancel-${day}`);
  stack.sim.configure({ batches: { processingMs: 120_000 } });
  const handle = await start({ fromMs: day, toMs: day + DAY_MS });
  const progress = await waitFor(async () => {
    const p = await handle.query(storiesProgressQuery);
    return p.batch && p.batch.polls >= 1 ? p : undefined;
  }, 30_000, 'batch polled');
  expect(progress.batch?.id).toMatch(/^msgbatch_sim/);
  expect(progress.phase).toBe('synthesis');
  await handle.cancel();
  const err = await handle.result().catch((e: unknown) => e);
  expect(err).toBeInstanceOf(WorkflowFailedError);
  expect((err as WorkflowFailedError).cause).toBeInstanceOf(CancelledFailure);
  expect(stack.sim.stats().batches).toMatchObject({ created: 1, cancelled: 1, itemsCanceled: 2 });
  const row = await stack.app.services.db.query('SELECT status FROM story_runs WHERE workflow_id = $1', [handle.workflowId]);
  expect(row[0]?.status).toBe('cancelled');
});

it('cancelling mid-batch settles the answers the provider had finished: logged and priced, and a re-run pays only for the rest', async () => {
  const day = freshDay();
  await importNews(day, 8, 4, `batch-cancel-settle-${day}`);
  // Four items, done at 1, 2, 3 and 4 s: a cancel at about 2.5 s finds two answered.
  stack.sim.configure({ batches: { processingMs: 4000 } });
  const handle = await start({ fromMs: day, toMs: day + DAY_MS });
  await waitFor(async () => (await handle.query(storiesProgressQuery)).batch?.id, 30_000, 'batch submitted');
  await new Promise((r) => setTimeout(r, 2500));
  await handle.cancel();
  await handle.result().catch(() => undefined);
  const [{ n: answered }] = await stack.app.services.db.query(
    "SELECT count(*)::int AS n FROM llm_calls WHERE workflow_id = $1 AND purpose = 'synthesis' AND batch AND outcome = 'ok'",
    [handle.workflowId],
  );
  expect(answered).toBeGreaterThanOrEqual(1);
  expect(answered).toBeLessThan(4);
  expect(stack.sim.stats().batches).toMatchObject({ created: 1, cancelled: 1, itemsCanceled: 4 - answered });
  const report = await new RunRepository(stack.app.services.db).findReport({ firstRunId: handle.firstExecutionRunId });
  expect(report!.llm.find((l) => l.purpose === 'synthesis' && l.batch)).toMatchObject({ providerCalls: answered });

  stack.sim.configure({ batches: { processingMs: 500 } });
  stack.sim.resetStats();
  const again = await (await start({ fromMs: day, toMs: day + DAY_MS })).result();
  expect(again.status).toBe('completed');
  expect(stack.sim.stats().batches).toMatchObject({ created: 1, items: 4 - answered });
});

it('a batch the provider lost (404) ends the batch, not the run: its stories are synthesised by calls', async () => {
  const day = freshDay();
  await importNews(day, 9, 3, `batch-lost-${day}`);
  stack.sim.configure({ batches: { processingMs: 120_000 } });
  const handle = await start({ fromMs: day, toMs: day + DAY_MS });
  await waitFor(async () => {
    const p = await handle.query(storiesProgressQuery);
    return p.batch && p.batch.polls >= 1 ? p : undefined;
  }, 30_000, 'batch polled');
  expect(stack.sim.loseBatches()).toBeGreaterThan(0);
  const result = await handle.result();
  expect(result).toMatchObject({ status: 'completed', synthesisMode: 'batch', failureCount: 0, stories: { created: 3 } });
  expect(syncSynthesisCalls()).toBe(3);
  const [batchRow] = await stack.app.services.db.query('SELECT status, failure FROM llm_batches WHERE workflow_id = $1', [handle.workflowId]);
  expect(batchRow).toMatchObject({ status: 'ended', failure: expect.stringContaining('(404)') });
});
