/**
 * A run with more stories than one write holds writes them in several `writeStories` activities;
 * readers must never see a half-written run. Earlier writes store their stories pending (not
 * listed), and the last write makes them current in the transaction that supersedes the older
 * ones and records the run. A run that ends between its writes (a write that fails for good, a
 * cancel) leaves the previous run's stories as the current ones, and a later run reuses the
 * pending leftovers by story hash (no duplicate rows, no call). Real dev server, Postgres and
 * simulator; the injected parts are main-queue `writeStories` activities.
 */
import { Context } from '@temporalio/activity';
import { WorkflowFailedError } from '@temporalio/client';
import { ApplicationFailure, CancelledFailure } from '@temporalio/common';
import { createNewsActivities } from '../../src/activities/news.activities';
import { NewsRepository, type StoriesWrite } from '../../src/db/repositories/news.repository';
import { syntheticNews } from '../../src/domain/news/synthetic-articles';
import type { ParsedArticle } from '../../src/domain/news/articles';
import { DAY_MS, resolveScope, storiesWorkflowId, type StoriesResult, type StoryScopeInput } from '../../src/shared/stories';
import { generateStories } from '../../src/workflows';
import { STORIES_PER_WRITE } from '../../src/workflows/generate-stories';
import { useTestStack, type RunningApp } from '../helpers/harness';

const LAST_WRITE_FAILURE = 'simulated: the database refused the last story write';
const DAYS = 5;
/** 12 one-article clusters a day over 5 days: 60 stories, more than one write's STORIES_PER_WRITE. */
const PER_DAY = 12;

const stack = useTestStack('stories-chunks');
let nextDay = Date.UTC(2041, 0, 1) + Math.floor(Math.random() * 3000) * 20 * DAY_MS;
const freshDays = () => (nextDay += 20 * DAY_MS);

let failingLastWrite: RunningApp;
let heldChunkWrite: RunningApp;
let lostLastAnswer: RunningApp;
/** The held chunk write: resolves when it is waiting, lets it go on, resolves when it has committed. */
const held = { waiting: deferred(), release: deferred(), committed: deferred() };

function deferred() {
  let resolve: () => void = () => undefined;
  const promise = new Promise<void>((r) => (resolve = r));
  return { promise, resolve };
}

beforeAll(async () => {
  const repo = () => new NewsRepository(stack.app.services.db);
  // The chunk writes go through; the last one (with `finish`) fails for good.
  failingLastWrite = await stack.startApp('stories-chunks-failing-last-write', {
    async writeStories(input: StoriesWrite) {
      if (input.finish) throw ApplicationFailure.nonRetryable(LAST_WRITE_FAILURE, 'SimulatedWriteFailure');
      return repo().writeStories(input);
    },
  });
  // The first chunk write waits for the test (which cancels the run meanwhile), then commits.
  heldChunkWrite = await stack.startApp('stories-chunks-held-chunk-write', {
    async writeStories(input: StoriesWrite) {
      if (!input.finish) {
        held.waiting.resolve();
        await held.release.promise;
        const r = await repo().writeStories(input);
        held.committed.resolve();
        return r;
      }
      return repo().writeStories(input);
    },
  });
  // The real activity; the last write's first attempt commits, then its answer is lost (retried).
  lostLastAnswer = await stack.startApp('stories-chunks-lost-last-answer', {
    async writeStories(input: StoriesWrite) {
      const answer = await createNewsActivities({ repo: repo() }).writeStories(input);
      if (input.finish && Context.current().info.attempt === 1) throw ApplicationFailure.retryable('simulated: the answer to a committed write was lost', 'SimulatedLostAnswer');
      return answer;
    },
  });
});

beforeEach(() => {
  stack.sim.configure({ faults: [], latency: null });
  stack.sim.resetStats();
});

async function importDays(first: number, salt: string, edit: (a: ParsedArticle) => ParsedArticle = (a) => a) {
  for (let d = 0; d < DAYS; d++) {
    const news = syntheticNews({ articles: PER_DAY, clusters: PER_DAY, dayMs: first + d * DAY_MS, salt: `${salt}-${d}` });
    await new NewsRepository(stack.app.services.db).importArticles(news.map(edit));
  }
}

const start = (on: RunningApp, scope: StoryScopeInput) =>
  stack.env.client.workflow.start(generateStories, {
    taskQueue: on.taskQueue,
    workflowId: storiesWorkflowId(resolveScope(scope, Date.now())),
    args: [{ scope, concurrency: 20 }],
  });

/** Stories of the days by status, ids sorted. */
async function storiesOf(first: number) {
  const rows: { id: string; status: string }[] = await stack.app.services.db.query(
    `SELECT id, status FROM stories WHERE window_start >= $1 AND window_start < $2 ORDER BY id`,
    [new Date(first), new Date(first + DAYS * DAY_MS)],
  );
  const by = (status: string) => rows.filter((r) => r.status === status).map((r) => r.id);
  return { all: rows.map((r) => r.id), current: by('current'), superseded: by('superseded'), pending: by('pending') };
}

/** A first run (60 current stories), then every article edited: the next run makes 60 new stories. */
async function previousRun(salt: string) {
  const first = freshDays();
  await importDays(first, salt);
  const scope = { fromMs: first, toMs: first + DAYS * DAY_MS };
  const done = await (await start(stack.app, scope)).result();
  expect(done).toMatchObject({ status: 'completed', clusters: DAYS * PER_DAY, stories: { created: DAYS * PER_DAY } });
  expect(STORIES_PER_WRITE).toBeLessThan(DAYS * PER_DAY);
  const before = await storiesOf(first);
  expect(before.current).toHaveLength(DAYS * PER_DAY);
  await importDays(first, salt, (a) => ({ ...a, body: `${a.body} Updated.` }));
  return { first, scope, before };
}

it('a last write that fails for good leaves the previous run current; the next run reuses the chunk it wrote', async () => {
  const { first, scope, before } = await previousRun(`chunk-fail-${nextDay}`);

  const err = await (await start(failingLastWrite, scope)).result().catch((e: unknown) => e);
  expect(err).toBeInstanceOf(WorkflowFailedError);
  const [run] = await stack.app.services.db.query('SELECT status, result FROM story_runs WHERE workflow_id = $1 ORDER BY finished_at DESC LIMIT 1', [storiesWorkflowId(resolveScope(scope, Date.now()))]);
  expect(run.status).toBe('failed');
  // Its stories were never made current: it reports none made.
  expect(run.result.stories).toEqual({ created: 0, kept: 0, superseded: 0 });
  const afterFailure = await storiesOf(first);
  // The chunk write committed its stories, but no reader lists them: the previous run's stay current.
  expect(afterFailure.current).toEqual(before.current);
  expect(afterFailure.all.length).toBeGreaterThan(before.all.length);
  const repo = new NewsRepository(stack.app.services.db);
  const listed = await repo.listStories({ all: true, limit: 10_000 });
  expect(listed.filter((s) => afterFailure.pending.includes(s.id))).toEqual([]);

  stack.sim.resetStats();
  const again: StoriesResult = await (await start(stack.app, scope)).result();
  // The syntheses are written as they are made: the first STORIES_PER_WRITE went in the chunk write.
  const chunk = STORIES_PER_WRITE;
  expect(again).toMatchObject({ status: 'completed', stories: { created: DAYS * PER_DAY - chunk, kept: chunk, superseded: DAYS * PER_DAY } });
  // The failed run's answers were cached with its call rows: nothing is paid for twice.
  expect(stack.sim.stats().byPurpose.synthesis?.requests ?? 0).toBe(0);
  const after = await storiesOf(first);
  expect(after.pending).toEqual([]);
  expect(after.superseded).toEqual(before.current);
  expect(after.current).toHaveLength(DAYS * PER_DAY);
  expect(after.all).toHaveLength(2 * DAYS * PER_DAY);
  expect(after.current).toEqual(expect.arrayContaining(afterFailure.pending));
});

it('a cancel while a chunk write is in flight leaves the previous run current, even when that write commits after it', async () => {
  const { first, scope, before } = await previousRun(`chunk-cancel-${nextDay}`);

  const handle = await start(heldChunkWrite, scope);
  await held.waiting.promise;
  await handle.cancel();
  const err = await handle.result().catch((e: unknown) => e);
  expect((err as WorkflowFailedError).cause).toBeInstanceOf(CancelledFailure);
  held.release.resolve();
  await held.committed.promise;

  const [run] = await stack.app.services.db.query('SELECT status FROM story_runs WHERE workflow_id = $1 ORDER BY finished_at DESC LIMIT 1', [handle.workflowId]);
  expect(run.status).toBe('cancelled');
  const after = await storiesOf(first);
  expect(after.current).toEqual(before.current);
  // The chunk write (the first STORIES_PER_WRITE syntheses, written as they were made) committed after the run closed.
  expect(after.all).toHaveLength(before.all.length + STORIES_PER_WRITE);
  expect(after.pending).toHaveLength(STORIES_PER_WRITE);
});

it('a retried last write that had committed answers what it did: the run reports and records its final counts', async () => {
  const { first, scope, before } = await previousRun(`chunk-lost-${nextDay}`);
  const handle = await start(lostLastAnswer, scope);
  const result: StoriesResult = await handle.result();
  const counts = { created: DAYS * PER_DAY, kept: 0, superseded: DAYS * PER_DAY };
  expect(result).toMatchObject({ status: 'completed', stories: counts });
  const retried = (await handle.fetchHistory()).events!.filter((e) => e.activityTaskStartedEventAttributes?.attempt === 2);
  expect(retried).toHaveLength(1);
  const [run] = await stack.app.services.db.query('SELECT status, result FROM story_runs WHERE run_id = $1', [(await handle.describe()).runId]);
  expect(run).toMatchObject({ status: 'completed', result: { stories: counts } });
  const after = await storiesOf(first);
  expect(after.superseded).toEqual(before.current);
  expect(after.current).toHaveLength(DAYS * PER_DAY);
});

it('a retried chunk write stores its story once, pending and unlisted, and the last write makes it current', async () => {
  const day = freshDays();
  const [article] = syntheticNews({ articles: 1, clusters: 1, dayMs: day, salt: `chunk-retry-${day}` });
  const repo = new NewsRepository(stack.app.services.db);
  await repo.importArticles([article]);
  const [{ id }] = await stack.app.services.db.query('SELECT id FROM articles WHERE url = $1', [article.url]);
  const tag = `chunk-retry-${day}`;
  const chunk: StoriesWrite = {
    model: 'test-model',
    promptVersion: tag,
    keptHashes: [],
    made: [{
      storyHash: `hash-${tag}`, articleIds: [Number(id)], topic: null, windowStart: day, windowEnd: day + DAY_MS,
      synthesis: { headline: `Pending ${tag}`, summary: 'A summary.', keyPoints: ['One point'], citedArticleIds: [Number(id)] },
    }],
  };
  await repo.writeStories(chunk);
  await repo.writeStories(chunk);
  const rows = async () => stack.app.services.db.query('SELECT id, status FROM stories WHERE prompt_version = $1', [tag]) as Promise<{ id: string; status: string }[]>;
  const [pending, ...more] = await rows();
  expect(more).toEqual([]);
  expect(pending.status).toBe('pending');
  expect((await repo.listStories({ all: true, limit: 10_000 })).map((s) => s.id)).not.toContain(pending.id);
  expect((await repo.searchStories(`Pending ${tag}`)).map((s) => s.id)).not.toContain(pending.id);

  const scope = { fromMs: day, toMs: day + DAY_MS, topic: null };
  const result = await repo.writeStories({
    model: 'test-model', promptVersion: tag, made: [], keptHashes: [],
    finish: { scope, currentHashes: [`hash-${tag}`], failedArticleIds: [], run: { runId: `run-${tag}`, workflowId: tag, status: 'completed', result: { stories: { created: 0, kept: 0, superseded: 0 } }, failures: [] } },
  });
  expect(result.superseded).toBe(0);
  expect(await rows()).toEqual([{ id: pending.id, status: 'current' }]);
});
