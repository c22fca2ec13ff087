/**
 * generateStories' edges of continue-as-new (0.8.7), writing as made (0.8.6) and its last write
 * (0.8.8), on real parts (dev server, Postgres, the simulator; some apps with an injected
 * `writeStories` that holds or fails): a cancel or a failed write at each point leaves the run's
 * row, its stories and its workflow agreeing, with every paid call kept once. Written by the
 * review of 0.8.6–0.8.7; the last three failed on 0.8.7.
 */
import { ApplicationFailure } from '@temporalio/common';
import { NewsRepository, type StoriesWrite } from '../../src/db/repositories/news.repository';
import { syntheticNews } from '../../src/domain/news/synthetic-articles';
import { DAY_MS, resolveScope, storiesWorkflowId, type StoryScopeInput } from '../../src/shared/stories';
import { generateStories, storiesPauseUpdate, storiesProgressQuery, storiesResumeUpdate } from '../../src/workflows';
import type { GenerateStoriesInput } from '../../src/workflows/generate-stories';
import { createNewsActivities } from '../../src/activities/news.activities';
import { RunRepository } from '../../src/db/repositories/run.repository';
import { useTestStack, type RunningApp } from '../helpers/harness';
import { waitFor } from '../helpers/wait';

const stack = useTestStack('stories-edges');
let nextDay = Date.UTC(2036, 0, 1) + Math.floor(Math.random() * 3000) * 10 * DAY_MS;
const freshDay = () => (nextDay += 10 * DAY_MS);

beforeEach(() => {
  stack.sim.configure({ faults: [], latency: null });
  stack.sim.resetStats();
});

async function importTopics(day: number, n: number, salt: string) {
  const news = syntheticNews({ articles: n, clusters: 10, dayMs: day, salt }).map((a, i) => ({ ...a, topic: `Topic ${i}` }));
  await new NewsRepository(stack.app.services.db).importArticles(news);
}

function startOn(app: RunningApp, scope: StoryScopeInput, extra: Partial<GenerateStoriesInput> = {}) {
  return stack.env.client.workflow.start(generateStories, {
    taskQueue: app.taskQueue,
    workflowId: storiesWorkflowId(resolveScope(scope, Date.now())),
    args: [{ scope, ...extra }],
  });
}

const paidCalls = async (workflowId: string) =>
  (await stack.app.services.db.query(
    "SELECT count(*)::int AS n, count(DISTINCT call_key)::int AS k FROM llm_calls WHERE workflow_id = $1 AND purpose = 'synthesis' AND outcome = 'ok'",
    [workflowId],
  ))[0] as { n: number; k: number };

it('a cancel while the flush before the hand-over is writing: cancelled under the first run, every paid call kept once, nothing current', async () => {
  const day = freshDay();
  await importTopics(day, 90, `edges-cancel-flush-${day}`);
  let writes = 0;
  let release!: () => void;
  const released = new Promise<void>((r) => (release = r));
  let inFlush!: () => void;
  const flushing = new Promise<void>((r) => (inFlush = r));
  const real = createNewsActivities({ repo: new NewsRepository(stack.app.services.db) });
  const app = await stack.startApp('stories-edges-cancel-flush', {
    writeStories: async (input: StoriesWrite) => {
      writes++;
      // synthesesPerRun 60: one write of 50 while synthesising, then the flush of 10 before the hand-over.
      if (!input.finish && input.made.length === 10) {
        inFlush();
        await released;
      }
      return real.writeStories(input);
    },
  } as never);
  const handle = await startOn(app, { fromMs: day, toMs: day + DAY_MS }, { concurrency: 5, synthesesPerRun: 60 });
  await flushing;
  await handle.cancel();
  const outcome = await handle.result().then(() => 'completed', (e: Error) => `${e.name}:${(e.cause as Error | undefined)?.name ?? ''}`);
  const d = await handle.describe();
  // The held write goes on: it commits after the workflow was told it was cancelled (it only waited for it).
  release();
  await new Promise((r) => setTimeout(r, 1500));
  const okRequests = stack.sim.stats().byPurpose.synthesis?.ok ?? 0;
  const paid = await paidCalls(handle.workflowId);
  const row = await new RunRepository(stack.app.services.db).storyRunResult(handle.firstExecutionRunId);
  const current = await stack.app.services.db.query("SELECT count(*)::int AS n FROM stories WHERE window_start >= $1 AND window_start < $2 AND status = 'current'", [new Date(day), new Date(day + DAY_MS)]);
  expect({ outcome, status: d.status.name, sameRun: d.runId === handle.firstExecutionRunId, row: row?.status, paid: paid.n, distinct: paid.k, current: current[0].n })
    .toEqual({ outcome: 'WorkflowFailedError:CancelledFailure', status: 'CANCELLED', sameRun: true, row: 'cancelled', paid: okRequests, distinct: okRequests, current: 0 });
  expect(writes).toBeGreaterThanOrEqual(2);
}, 120_000);

it('a story write that fails for good mid-synthesis ends the run failed, with every paid call kept once', async () => {
  const day = freshDay();
  await importTopics(day, 120, `edges-write-fails-${day}`);
  let writes = 0;
  const real = createNewsActivities({ repo: new NewsRepository(stack.app.services.db) });
  const app = await stack.startApp('stories-edges-write-fails', {
    writeStories: async (input: StoriesWrite) => {
      writes++;
      if (writes === 2) throw ApplicationFailure.nonRetryable('simulated: the write fails for good', 'WriteBroken');
      return real.writeStories(input);
    },
  } as never);
  stack.sim.configure({ latency: { byPurpose: { synthesis: { fixedMs: 10 } } } });
  const handle = await startOn(app, { fromMs: day, toMs: day + DAY_MS }, { concurrency: 5, synthesesPerRun: 80 });
  const outcome = await handle.result().then((r) => r.status, (e: Error) => `${e.name}:${(e.cause as Error | undefined)?.message ?? ''}`);
  const okRequests = stack.sim.stats().byPurpose.synthesis?.ok ?? 0;
  const paid = await paidCalls(handle.workflowId);
  const row = await new RunRepository(stack.app.services.db).storyRunResult(handle.firstExecutionRunId);
  expect({ outcome, row: row?.status, paid: paid.n, distinct: paid.k }).toEqual({ outcome: expect.stringContaining('WorkflowFailedError'), row: 'failed', paid: okRequests, distinct: okRequests });
}, 120_000);

it('a --no-one-transaction run continues as new and completes with every story current', async () => {
  const day = freshDay();
  await importTopics(day, 45, `edges-no-one-tx-${day}`);
  const handle = await startOn(stack.app, { fromMs: day, toMs: day + DAY_MS }, { concurrency: 5, synthesesPerRun: 20, flags: { oneTransaction: false } });
  const result = await handle.result();
  expect(result).toMatchObject({ status: 'completed', clusters: 45, stories: { created: 45 } });
  const current = await stack.app.services.db.query("SELECT count(*)::int AS n FROM stories WHERE window_start >= $1 AND window_start < $2 AND status = 'current'", [new Date(day), new Date(day + DAY_MS)]);
  expect(current[0].n).toBe(45);
  const paid = await paidCalls(handle.workflowId);
  expect(paid).toEqual({ n: 45, k: 45 });
  const report = await new RunRepository(stack.app.services.db).findReport({ firstRunId: handle.firstExecutionRunId });
  expect(report!.runIds.length).toBe(3);
}, 120_000);

it('a run paused as it reaches its per-run limit hands over paused: the next run starts nothing until resumed', async () => {
  const day = freshDay();
  await importTopics(day, 30, `edges-pause-limit-${day}`);
  stack.sim.configure({ latency: { byPurpose: { synthesis: { fixedMs: 400 } } } });
  const handle = await startOn(stack.app, { fromMs: day, toMs: day + DAY_MS }, { concurrency: 5, synthesesPerRun: 10 });
  const requests = () => stack.sim.stats().byPurpose.synthesis?.requests ?? 0;
  // All 10 of the first run started (the window stops starting at its limit), none finished: pause now.
  await waitFor(() => requests() >= 10, 20_000);
  await handle.executeUpdate(storiesPauseUpdate);
  await waitFor(async () => (await handle.describe()).runId !== handle.firstExecutionRunId, 20_000);
  await new Promise((r) => setTimeout(r, 1500));
  expect(requests()).toBe(10);
  expect(await handle.query(storiesProgressQuery)).toMatchObject({ paused: true, phase: 'synthesis', synthesis: { done: 10 } });
  await handle.executeUpdate(storiesResumeUpdate);
  expect(await handle.result()).toMatchObject({ status: 'completed', stories: { created: 30 } });
}, 60_000);

it('more than MAX_FAILURES_KEPT (50) clusters failing: the stories of every failed cluster stay current (the run says it leaves them as they are)', async () => {
  const day = freshDay();
  const news = syntheticNews({ articles: 60, clusters: 10, dayMs: day, salt: `edges-many-fail-${day}` }).map((a, i) => ({ ...a, topic: `Topic ${i}` }));
  const repo = new NewsRepository(stack.app.services.db);
  await repo.importArticles(news);
  const scope = { fromMs: day, toMs: day + DAY_MS };
  const first = await (await startOn(stack.app, scope, { concurrency: 10 })).result();
  expect(first).toMatchObject({ status: 'completed', clusters: 60 });
  // Every article changes (so every cluster's story hash), and every synthesis now fails for good.
  await repo.importArticles(news.map((a) => ({ ...a, body: `${a.body} Updated.` })));
  stack.sim.configure({ faults: [{ kind: 'http400', purpose: 'synthesis' }] });
  const second = await (await startOn(stack.app, scope, { concurrency: 10, synthesesPerRun: 25 })).result();
  expect(second).toMatchObject({ status: 'completed_with_failures', failureCount: 60 });
  const rows: { status: string }[] = await stack.app.services.db.query('SELECT status FROM stories WHERE window_start >= $1 AND window_start < $2', [new Date(day), new Date(day + DAY_MS)]);
  const byStatus = rows.reduce<Record<string, number>>((m, r) => ({ ...m, [r.status]: (m[r.status] ?? 0) + 1 }), {});
  expect(byStatus).toEqual({ current: 60 });
}, 120_000);

it('a --batch run whose synthesis provider has no batch API (Ollama) makes calls: it continues as new as a calls run does', async () => {
  const day = freshDay();
  await importTopics(day, 12, `edges-batch-ollama-${day}`);
  const handle = await startOn(stack.app, { fromMs: day, toMs: day + DAY_MS }, { batch: true, model: { provider: 'ollama', model: 'llama3.2' }, synthesesPerRun: 5 });
  const result = await handle.result();
  expect(result).toMatchObject({ status: 'completed', synthesisMode: 'calls', clusters: 12 });
  const report = await new RunRepository(stack.app.services.db).findReport({ firstRunId: handle.firstExecutionRunId });
  expect(report!.runIds.length).toBe(3);
}, 60_000);

it('a cancel while the last write (the one that makes the stories current and records the run) is in flight: the run\'s row, its stories and its workflow agree', async () => {
  const day = freshDay();
  await importTopics(day, 12, `edges-cancel-last-${day}`);
  let release!: () => void;
  const released = new Promise<void>((r) => (release = r));
  let inLast!: () => void;
  const lastWriting = new Promise<void>((r) => (inLast = r));
  const real = createNewsActivities({ repo: new NewsRepository(stack.app.services.db) });
  const app = await stack.startApp('stories-edges-cancel-last', {
    writeStories: async (input: StoriesWrite) => {
      if (input.finish) {
        inLast();
        await released;
      }
      return real.writeStories(input);
    },
  } as never);
  const handle = await startOn(app, { fromMs: day, toMs: day + DAY_MS }, { concurrency: 4, synthesesPerRun: 5 });
  await lastWriting;
  await handle.cancel();
  // The cancel has reached the run (its workflow task ran) while the write is held; then the write goes on.
  await new Promise((r) => setTimeout(r, 1000));
  release();
  const outcome = await handle.result().then((r) => `completed:${r.status}`, (e: Error) => `${e.name}:${(e.cause as Error | undefined)?.name ?? ''}`);
  await new Promise((r) => setTimeout(r, 1000));
  const row = await new RunRepository(stack.app.services.db).storyRunResult(handle.firstExecutionRunId);
  const report = await new RunRepository(stack.app.services.db).findReport({ firstRunId: handle.firstExecutionRunId });
  const current = await stack.app.services.db.query("SELECT count(*)::int AS n FROM stories WHERE window_start >= $1 AND window_start < $2 AND status = 'current'", [new Date(day), new Date(day + DAY_MS)]);
  const seen = { outcome, row: row?.status, report: report?.status, current: current[0].n };
  // Once the last write has started the cancel comes too late: the run completes, its row, report
  // and stories say so (it recorded itself cancelled, then the write made its stories current).
  expect(seen).toEqual({ outcome: 'completed:completed', row: 'completed', report: 'completed', current: 12 });
}, 60_000);
