/**
 * generateStories end to end on real parts (dev server, Postgres, the simulator through the
 * SDKs): a first run synthesises every cluster and writes them, with the calls' log rows and
 * cache entries, in one transaction (in writes of STORIES_PER_WRITE when larger); an unchanged
 * rerun reuses every story hash with no call and keeps the ids; a new article re-synthesises
 * only its cluster and supersedes the old story; a cluster that keeps failing is recorded and
 * the run goes on; a second start over the same scope is refused while the first runs.
 */
import { WorkflowExecutionAlreadyStartedError, WorkflowFailedError } from '@temporalio/client';
import { CancelledFailure } from '@temporalio/common';
import { NewsRepository, type StoriesWrite } from '../../src/db/repositories/news.repository';
import { syntheticNews } from '../../src/domain/news/synthetic-articles';
import { DAY_MS, resolveScope, storiesWorkflowId, type StoriesResult, type StoryScopeInput } from '../../src/shared/stories';
import { generateStories, storiesPauseUpdate, storiesProgressQuery, storiesResumeUpdate, storiesSetConcurrencyUpdate } from '../../src/workflows';
import { STORIES_PER_WRITE, type GenerateStoriesInput } from '../../src/workflows/generate-stories';
import { RunRepository } from '../../src/db/repositories/run.repository';
import { useTestStack } from '../helpers/harness';
import { waitFor } from '../helpers/wait';

const stack = useTestStack('generate-stories');
/** Each test has days of its own (far from the others'), so scopes never overlap. */
let nextDay = Date.UTC(2031, 0, 1) + Math.floor(Math.random() * 3000) * 10 * DAY_MS;
const freshDay = () => (nextDay += 10 * DAY_MS);

beforeEach(() => {
  stack.sim.configure({ faults: [], latency: null });
  stack.sim.resetStats();
});

async function importNews(day: number, articles: number, clusters: number, salt: string) {
  const news = syntheticNews({ articles, clusters, dayMs: day, salt });
  await new NewsRepository(stack.app.services.db).importArticles(news);
  return news;
}

function start(scope: StoryScopeInput, extra: Partial<GenerateStoriesInput> = {}) {
  const workflowId = storiesWorkflowId(resolveScope(scope, Date.now()));
  return stack.env.client.workflow.start(generateStories, {
    taskQueue: stack.app.taskQueue,
    workflowId,
    args: [{ scope, ...extra }],
  });
}

const run = async (scope: StoryScopeInput, extra: Partial<GenerateStoriesInput> = {}): Promise<StoriesResult> => (await start(scope, extra)).result();
const synthesisRequests = () => stack.sim.stats().byPurpose.synthesis?.requests ?? 0;
const currentStories = async (day: number) =>
  (await stack.app.services.db.query(
    `SELECT id, story_hash, article_count, status, superseded_by FROM stories WHERE window_start >= $1 AND window_start < $2 ORDER BY window_start, id`,
    [new Date(day), new Date(day + DAY_MS)],
  )) as { id: string; story_hash: string; article_count: number; status: string; superseded_by: string | null }[];

it('synthesises every cluster once, then reuses them all; one new article re-synthesises only its cluster', async () => {
  const day = freshDay();
  await importNews(day, 24, 4, `e2e-${day}`);
  const scope = { fromMs: day, toMs: day + DAY_MS };

  const first = await run(scope);
  expect(first).toMatchObject({ status: 'completed', articles: 24, clusters: 4, failureCount: 0, articleQueries: 1, stories: { created: 4, kept: 0, superseded: 0 } });
  expect(first.synthesis).toMatchObject({ total: 4, done: 4, reused: 0, failed: 0 });
  expect(synthesisRequests()).toBe(4);
  const made = await currentStories(day);
  expect(made.map((s) => s.article_count)).toEqual([6, 6, 6, 6]);
  const links = await stack.app.services.db.query('SELECT count(*)::int AS n FROM story_articles WHERE story_id = ANY($1)', [made.map((s) => s.id)]);
  expect(links[0].n).toBe(24);
  const [report] = await stack.app.services.db.query('SELECT kind, report FROM run_reports WHERE workflow_id = $1 ORDER BY created_at DESC LIMIT 1', [storiesWorkflowId(first.scope)]);
  expect(report.kind).toBe('generateStories');
  expect(report.report.criticalPath.steps.map((step: { name: string; calls: number }) => [step.name, step.calls])).toEqual([['embeddings', 1], ['synthesis', 4]]);
  // Issue 10's target: at most 3 commits per run — the embeddings (with their call-log row and
  // cache entry; one commit per embedding request, and this run makes one: a request carries
  // about 500 articles, and paid embeddings are kept as each answers), the one story transaction
  // (with the syntheses' rows and cache entries), the report (written after it counted the
  // others). Never one per synthesis or per article.
  expect(report.report.db.commits + 1 /* the report's own write */).toBeLessThanOrEqual(3);
  // Those writes carried every call's row, once, and the syntheses' answers into the cache.
  const calls: { purpose: string; outcome: string; cache_key: string }[] = await stack.app.services.db.query(
    'SELECT purpose, outcome, cache_key FROM llm_calls WHERE workflow_id = $1 ORDER BY purpose', [storiesWorkflowId(first.scope)],
  );
  expect(calls.map((c) => [c.purpose, c.outcome])).toEqual([['embedding', 'ok'], ...Array(4).fill(['synthesis', 'ok'])]);
  const cachedAnswers = await stack.app.services.db.query('SELECT count(*)::int AS n FROM llm_response_cache WHERE key = ANY($1)', [calls.map((c) => c.cache_key)]);
  expect(cachedAnswers[0].n).toBe(5);
  const detail = await new NewsRepository(stack.app.services.db).storyWithArticles(made[0].id);
  expect(detail?.headline.length).toBeGreaterThan(0);
  expect(detail?.keyPoints.length).toBeGreaterThan(0);
  expect(detail?.articles).toHaveLength(6);

  stack.sim.resetStats();
  const again = await run(scope);
  expect(again).toMatchObject({ status: 'completed', clusters: 4, stories: { created: 0, kept: 4, superseded: 0 } });
  expect(again.synthesis).toMatchObject({ total: 4, done: 0, reused: 4 });
  expect(stack.sim.stats().totalRequests).toBe(0);
  expect((await currentStories(day)).map((s) => s.id)).toEqual(made.map((s) => s.id));

  // One more article for the first cluster (same words, same topic).
  const extra = syntheticNews({ articles: 28, clusters: 4, dayMs: day, salt: `e2e-${day}` })[24];
  await new NewsRepository(stack.app.services.db).importArticles([extra]);
  stack.sim.resetStats();
  const third = await run(scope);
  expect(third).toMatchObject({ status: 'completed', clusters: 4, stories: { created: 1, kept: 3, superseded: 1 } });
  expect(synthesisRequests()).toBe(1);
  expect(stack.sim.stats().byPurpose.embedding?.requests).toBe(1);
  const after = await currentStories(day);
  const superseded = after.filter((s) => s.status === 'superseded');
  expect(superseded).toHaveLength(1);
  const replacement = after.find((s) => s.id === superseded[0].superseded_by);
  expect(replacement).toMatchObject({ status: 'current', article_count: 7 });
});

it('a retried story write stores its stories, call rows and cache entries once', async () => {
  const day = freshDay();
  const [article] = await importNews(day, 1, 1, `retry-${day}`);
  const [{ id }] = await stack.app.services.db.query('SELECT id FROM articles WHERE title = $1', [article.title]);
  const tag = `retry-${day}`;
  const write: StoriesWrite = {
    model: 'test-model',
    promptVersion: tag,
    keptHashes: [],
    made: [{
      storyHash: `hash-${tag}`, articleIds: [Number(id)], topic: null, windowStart: day, windowEnd: day + DAY_MS,
      synthesis: { headline: 'A headline', summary: 'A summary.', keyPoints: ['One point'], citedArticleIds: [Number(id)] },
      calls: [{
        purpose: 'synthesis', provider: 'anthropic', model: 'test-model', promptVersion: tag, outcome: 'ok', errorType: null, latencyMs: 5,
        inputTokens: 10, outputTokens: 5, workflowId: tag, runId: 'r', activityId: '1', activityType: 'synthesizeStory', attempt: 1,
        cacheKey: `cache-${tag}`, callKey: `${tag}/r/1/1/0`,
      }],
      cacheEntries: [{ key: `cache-${tag}`, entry: { provider: 'anthropic', model: 'test-model', promptVersion: tag, purpose: 'synthesis', response: { text: '{}' } } }],
    }],
  };
  const repo = new NewsRepository(stack.app.services.db);
  await repo.writeStories(write);
  await repo.writeStories(write);
  const count = async (sql: string) => (await stack.app.services.db.query(sql, [tag]))[0].n;
  expect(await count('SELECT count(*)::int AS n FROM stories WHERE prompt_version = $1')).toBe(1);
  expect(await count('SELECT count(*)::int AS n FROM llm_calls WHERE workflow_id = $1')).toBe(1);
  expect(await count('SELECT count(*)::int AS n FROM llm_response_cache WHERE prompt_version = $1')).toBe(1);
});

it('writes more stories than one write holds in writes of STORIES_PER_WRITE, every call row with its story', async () => {
  const day = freshDay();
  // 12 clusters a day (one article each) over 5 days: 60 stories, more than one write's 50.
  for (let d = 0; d < 5; d++) await importNews(day + d * DAY_MS, 12, 12, `many-${day}-${d}`);
  const handle = await start({ fromMs: day, toMs: day + 5 * DAY_MS }, { concurrency: 20 });
  const result = await handle.result();
  expect(result).toMatchObject({ status: 'completed', clusters: 60, stories: { created: 60, kept: 0 } });
  expect(STORIES_PER_WRITE).toBeLessThan(60);
  const { events } = await handle.fetchHistory();
  const writes = events!.filter((e) => e.activityTaskScheduledEventAttributes?.activityType?.name === 'writeStories');
  expect(writes).toHaveLength(Math.ceil(60 / STORIES_PER_WRITE));
  // Clustering may make several embedding requests (about 500 articles each): its limit allows 10
  // of them one after another, each up to the request timeout, plus 30 s.
  const clustering = events!.find((e) => e.activityTaskScheduledEventAttributes?.activityType?.name === 'clusterStories')!;
  const limit = clustering.activityTaskScheduledEventAttributes!.startToCloseTimeout!;
  expect(Number(limit.seconds) * 1000 + Math.round((limit.nanos ?? 0) / 1e6)).toBe(10 * stack.app.config.llm.requestTimeoutMs + 30_000);
  const [calls] = await stack.app.services.db.query(`SELECT count(*)::int AS n FROM llm_calls WHERE workflow_id = $1 AND purpose = 'synthesis'`, [handle.workflowId]);
  expect(calls.n).toBe(60);
});

it('with every optimisation off: one call at a time, a commit pair per story, the articles queried again per cluster', async () => {
  const day = freshDay();
  await importNews(day, 9, 3, `off-${day}`);
  stack.sim.configure({ latency: { byPurpose: { synthesis: { fixedMs: 100 } } } });
  const result = await run({ fromMs: day, toMs: day + DAY_MS }, { flags: { parallelSynthesis: false, oneTransaction: false, loadOnce: false, useCache: false } });
  expect(result).toMatchObject({ status: 'completed', clusters: 3, articleQueries: 4, stories: { created: 3 } });
  expect(stack.sim.stats().byPurpose.synthesis.peakConcurrent).toBe(1);
  expect((await currentStories(day)).filter((s) => s.status === 'current')).toHaveLength(3);
  // Each story's write (two commits of its own) carried its synthesis call's row.
  const [calls] = await stack.app.services.db.query(`SELECT count(*)::int AS n FROM llm_calls WHERE workflow_id = $1 AND purpose = 'synthesis'`, [storiesWorkflowId(result.scope)]);
  expect(calls.n).toBe(3);
});

it('records a cluster whose synthesis keeps failing and completes with the others', async () => {
  const day = freshDay();
  const news = await importNews(day, 9, 3, `fail-${day}`);
  // A non-retryable 400 for prompts quoting the second cluster's place.
  const marker = news[1].title.split(':')[0];
  stack.sim.configure({ faults: [{ kind: 'http400', purpose: 'synthesis', contains: marker }] });
  const result = await run({ fromMs: day, toMs: day + DAY_MS });
  expect(result.status).toBe('completed_with_failures');
  expect(result.failureCount).toBe(1);
  expect(result.failures[0]).toMatchObject({ errorType: 'LlmInvalidRequest' });
  expect(result.failures[0].label).toContain('3 articles');
  expect(result.stories.created).toBe(2);
  const row = await stack.app.services.db.query('SELECT status, failures FROM story_runs WHERE workflow_id = $1', [storiesWorkflowId(result.scope)]);
  expect(row[0].status).toBe('completed_with_failures');
  expect(row[0].failures).toHaveLength(1);
});

it('refuses a second start over the same scope while the first runs; pause, setConcurrency and resume steer it', async () => {
  const day = freshDay();
  await importNews(day, 12, 4, `steer-${day}`);
  stack.sim.configure({ latency: { byPurpose: { synthesis: { fixedMs: 300 } } } });
  const scope = { fromMs: day, toMs: day + DAY_MS };
  const handle = await start(scope, { concurrency: 1 });
  await expect(start(scope)).rejects.toBeInstanceOf(WorkflowExecutionAlreadyStartedError);
  const paused = await handle.executeUpdate(storiesPauseUpdate);
  expect(paused.paused).toBe(true);
  await expect(handle.executeUpdate(storiesSetConcurrencyUpdate, { args: [{ synthesis: 0 }] })).rejects.toMatchObject({
    cause: { message: expect.stringMatching(/synthesis must be an integer from 1 to 100; got 0/) },
  });
  expect((await handle.executeUpdate(storiesSetConcurrencyUpdate, { args: [{ synthesis: 4 }] })).concurrency.synthesis).toBe(4);
  await waitFor(async () => (await handle.query(storiesProgressQuery)).clusters === 4);
  const progress = await handle.query(storiesProgressQuery);
  expect(progress).toMatchObject({ paused: true, articles: 12, clusters: 4 });
  await handle.executeUpdate(storiesResumeUpdate);
  const result = await handle.result();
  expect(result).toMatchObject({ status: 'completed', stories: { created: 4 } });
});

it('a synthesis window narrowed mid-run keeps the report\'s lower bound below what the synthesis took', async () => {
  const day = freshDay();
  await importNews(day, 36, 12, `narrow-${day}`);
  stack.sim.configure({ latency: { byPurpose: { synthesis: { fixedMs: 300 } } } });
  const handle = await start({ fromMs: day, toMs: day + DAY_MS }, { concurrency: 4 });
  await waitFor(() => (stack.sim.stats().byPurpose.synthesis?.ok ?? 0) >= 1);
  await handle.executeUpdate(storiesSetConcurrencyUpdate, { args: [{ synthesis: 1 }] });
  expect(await handle.result()).toMatchObject({ status: 'completed', clusters: 12 });
  const report = await new RunRepository(stack.app.services.db).findReport({ firstRunId: handle.firstExecutionRunId });
  const synthesisStep = report!.criticalPath.steps.find((s) => s.name === 'synthesis')!;
  // Four ran at once before the narrowing: the bound is 12 calls over 4 slots, not one at a time.
  expect(synthesisStep.boundMs).toBeLessThan((12 * 300) / 2);
  expect(synthesisStep.boundMs).toBeLessThanOrEqual(report!.phasesMs.synthesis);
});

it('a cancel mid-synthesis ends the run cancelled, recorded, with nothing half-written', async () => {
  const day = freshDay();
  await importNews(day, 8, 4, `cancel-${day}`);
  stack.sim.configure({ latency: { byPurpose: { synthesis: { fixedMs: 3000 } } } });
  const handle = await start({ fromMs: day, toMs: day + DAY_MS }, { concurrency: 2 });
  await waitFor(async () => (stack.sim.stats().byPurpose.synthesis?.requests ?? 0) >= 2);
  await handle.cancel();
  const err = await handle.result().catch((e: unknown) => e);
  expect(err).toBeInstanceOf(WorkflowFailedError);
  expect((err as WorkflowFailedError).cause).toBeInstanceOf(CancelledFailure);
  const [row] = await stack.app.services.db.query('SELECT status FROM story_runs WHERE workflow_id = $1', [handle.workflowId]);
  expect(row.status).toBe('cancelled');
  expect(await currentStories(day)).toEqual([]);
  expect(stack.sim.stats().aborted).toBeGreaterThanOrEqual(1);
});

it('a run cancelled after hundreds of syntheses keeps every paid call: the ones written as they were made, the rest before its row; a re-run pays for none of them', async () => {
  const day = freshDay();
  // An article a topic: 250 clusters.
  const news = syntheticNews({ articles: 250, clusters: 10, dayMs: day, salt: `cancel-many-${day}` }).map((a, i) => ({ ...a, topic: `Topic ${i}` }));
  await new NewsRepository(stack.app.services.db).importArticles(news);
  stack.sim.configure({ latency: { byPurpose: { synthesis: { fixedMs: 20 } } } });
  const handle = await start({ fromMs: day, toMs: day + DAY_MS }, { concurrency: 20 });
  await waitFor(async () => (stack.sim.stats().byPurpose.synthesis?.ok ?? 0) >= 130, 60_000);
  await handle.cancel();
  await handle.result().catch(() => undefined);
  const [paid] = await stack.app.services.db.query(
    "SELECT count(*)::int AS n FROM llm_calls WHERE workflow_id = $1 AND purpose = 'synthesis' AND outcome = 'ok'",
    [handle.workflowId],
  );
  expect(paid.n).toBeGreaterThanOrEqual(130);
  const { events } = await handle.fetchHistory();
  const scheduled = (name: string) => events!.filter((e) => e.activityTaskScheduledEventAttributes?.activityType?.name === name);
  // Written (pending, unlisted) in writes of STORIES_PER_WRITE while the syntheses were made; what
  // was left kept before the run's row (once one activity's input, which passed the payload limit).
  expect(scheduled('writeStories').length).toBeGreaterThanOrEqual(2);
  expect(scheduled('keepStoryCalls').length).toBeGreaterThanOrEqual(1);
  expect((await currentStories(day)).filter((s) => s.status === 'current')).toEqual([]);
  stack.sim.resetStats();
  stack.sim.configure({ latency: null });
  const again = await (await start({ fromMs: day, toMs: day + DAY_MS }, { concurrency: 20 })).result();
  // Its written syntheses are reused as stories, the rest answered from the cache: none paid again.
  expect(again.synthesis.reused + (again.synthesis.cached ?? 0)).toBe(paid.n);
  expect(stack.sim.stats().byPurpose.synthesis?.requests ?? 0).toBe(again.synthesis.total - paid.n);
}, 120_000);

it('a run terminated mid-synthesis (no ending of its own: the history limit, an operator) has written what it made, but the last write\'s worth; a re-run pays only for the rest', async () => {
  const day = freshDay();
  const clusters = 250;
  const news = syntheticNews({ articles: clusters, clusters: 10, dayMs: day, salt: `terminated-${day}` }).map((a, i) => ({ ...a, topic: `Topic ${i}` }));
  await new NewsRepository(stack.app.services.db).importArticles(news);
  stack.sim.configure({ latency: { byPurpose: { synthesis: { fixedMs: 50 } } } });
  const handle = await start({ fromMs: day, toMs: day + DAY_MS }, { concurrency: 5 });
  // Two writes of STORIES_PER_WRITE committed (pending: no reader lists them) while the syntheses go on.
  await waitFor(async () => (await currentStories(day)).filter((s) => s.status === 'pending').length >= 2 * STORIES_PER_WRITE, 60_000);
  await handle.executeUpdate(storiesPauseUpdate);
  const progress = await handle.query(storiesProgressQuery);
  expect(progress).toMatchObject({ phase: 'synthesis' });
  expect(progress.synthesis.done).toBeLessThan(clusters);
  await handle.terminate('simulated: terminated, as the server does a run past the history limit');
  const [paid] = await stack.app.services.db.query(
    "SELECT count(*)::int AS n FROM llm_calls WHERE workflow_id = $1 AND purpose = 'synthesis' AND outcome = 'ok'",
    [handle.workflowId],
  );
  expect(paid.n).toBeGreaterThanOrEqual(2 * STORIES_PER_WRITE);
  stack.sim.resetStats();
  stack.sim.configure({ latency: null });
  const again = await (await start({ fromMs: day, toMs: day + DAY_MS }, { concurrency: 10 })).result();
  expect(again).toMatchObject({ status: 'completed', clusters });
  expect(again.synthesis.reused).toBe(paid.n);
  expect(stack.sim.stats().byPurpose.synthesis?.requests ?? 0).toBe(clusters - paid.n);
  expect((await currentStories(day)).filter((s) => s.status === 'current')).toHaveLength(clusters);
}, 120_000);

it('a run with more syntheses than a run makes continues as new with its plan: one row, one report over every run, every story current; a re-run reuses them all', async () => {
  const day = freshDay();
  const clusters = 130;
  const news = syntheticNews({ articles: clusters, clusters: 10, dayMs: day, salt: `continued-${day}` }).map((a, i) => ({ ...a, topic: `Topic ${i}` }));
  await new NewsRepository(stack.app.services.db).importArticles(news);
  const handle = await start({ fromMs: day, toMs: day + DAY_MS }, { concurrency: 10, synthesesPerRun: 50 });
  const result = await handle.result();
  expect(result).toMatchObject({ status: 'completed', articles: clusters, clusters, failureCount: 0, stories: { created: clusters, kept: 0 } });
  expect(result.synthesis).toMatchObject({ total: clusters, done: clusters, reused: 0, failed: 0 });
  expect(synthesisRequests()).toBe(clusters);
  // Three runs of at most 50 syntheses each: the first one's history holds its 50, and the clustering.
  const firstRun = await stack.env.client.workflow.getHandle(handle.workflowId, handle.firstExecutionRunId).fetchHistory();
  const scheduled = (name: string) => firstRun.events!.filter((e) => e.activityTaskScheduledEventAttributes?.activityType?.name === name).length;
  expect([scheduled('clusterStories'), scheduled('synthesizeStory')]).toEqual([1, 50]);
  expect((await handle.describe()).runId).not.toBe(handle.firstExecutionRunId);
  const report = await new RunRepository(stack.app.services.db).findReport({ firstRunId: handle.firstExecutionRunId });
  expect(report!.runIds).toHaveLength(3);
  expect(report!.llm.find((l) => l.purpose === 'synthesis')!.providerCalls).toBe(clusters);
  const rows = await stack.app.services.db.query('SELECT run_id, status FROM story_runs WHERE workflow_id = $1', [handle.workflowId]);
  expect(rows).toEqual([{ run_id: handle.firstExecutionRunId, status: 'completed' }]);
  const [calls] = await stack.app.services.db.query(`SELECT count(*)::int AS n FROM llm_calls WHERE workflow_id = $1 AND purpose = 'synthesis'`, [handle.workflowId]);
  expect(calls.n).toBe(clusters);
  const stories = await currentStories(day);
  expect(stories.filter((s) => s.status === 'current')).toHaveLength(clusters);
  expect(stories).toHaveLength(clusters);

  stack.sim.resetStats();
  const again = await run({ fromMs: day, toMs: day + DAY_MS }, { synthesesPerRun: 50 });
  expect(again).toMatchObject({ status: 'completed', stories: { created: 0, kept: clusters } });
  expect(stack.sim.stats().totalRequests).toBe(0);
}, 120_000);

it('pause and the window carry over continue-as-new, and a cancel in a later run keeps every paid call under the first run\'s row', async () => {
  const day = freshDay();
  const clusters = 90;
  const news = syntheticNews({ articles: clusters, clusters: 10, dayMs: day, salt: `continued-steer-${day}` }).map((a, i) => ({ ...a, topic: `Topic ${i}` }));
  await new NewsRepository(stack.app.services.db).importArticles(news);
  stack.sim.configure({ latency: { byPurpose: { synthesis: { fixedMs: 150 } } } });
  const handle = await start({ fromMs: day, toMs: day + DAY_MS }, { concurrency: 3, synthesesPerRun: 30 });
  const ok = () => stack.sim.stats().byPurpose.synthesis?.ok ?? 0;
  await waitFor(() => ok() >= 35, 60_000);
  // In the second run (30 a run): paused there, it starts nothing more and does not hand over.
  await handle.executeUpdate(storiesPauseUpdate);
  await handle.executeUpdate(storiesSetConcurrencyUpdate, { args: [{ synthesis: 6 }] });
  await new Promise((r) => setTimeout(r, 600));
  const heldAt = ok();
  await new Promise((r) => setTimeout(r, 600));
  expect(ok()).toBe(heldAt);
  expect(await handle.query(storiesProgressQuery)).toMatchObject({ paused: true, concurrency: { synthesis: 6 }, phase: 'synthesis' });
  await handle.executeUpdate(storiesResumeUpdate);
  // Past 60: the third run, which carried the window of 6.
  await waitFor(() => ok() >= 65, 60_000);
  expect(await handle.query(storiesProgressQuery)).toMatchObject({ paused: false, concurrency: { synthesis: 6 }, clusters });
  await handle.cancel();
  await handle.result().catch(() => undefined);
  expect((await handle.describe()).runId).not.toBe(handle.firstExecutionRunId);
  const stored = await new RunRepository(stack.app.services.db).storyRunResult(handle.firstExecutionRunId);
  expect(stored).toMatchObject({ status: 'cancelled', clusters });
  const [paid] = await stack.app.services.db.query(
    "SELECT count(*)::int AS n FROM llm_calls WHERE workflow_id = $1 AND purpose = 'synthesis' AND outcome = 'ok'",
    [handle.workflowId],
  );
  expect(paid.n).toBeGreaterThanOrEqual(65);
  expect((await currentStories(day)).filter((s) => s.status === 'current')).toEqual([]);
  stack.sim.resetStats();
  stack.sim.configure({ latency: null });
  const again = await run({ fromMs: day, toMs: day + DAY_MS }, { concurrency: 10 });
  expect(again.synthesis.reused + (again.synthesis.cached ?? 0)).toBe(paid.n);
  expect(synthesisRequests()).toBe(clusters - paid.n);
}, 120_000);

it('a cancelled run\'s report counts the syntheses it paid for and did not write, its synthesis time is what it ran, and its progress says cancelled', async () => {
  const day = freshDay();
  await importNews(day, 8, 4, `cancel-report-${day}`);
  stack.sim.configure({ latency: { byPurpose: { synthesis: { fixedMs: 1500 } } } });
  const handle = await start({ fromMs: day, toMs: day + DAY_MS }, { concurrency: 2 });
  // Two syntheses answered (held for the run's one write), two more in flight.
  await waitFor(async () => (stack.sim.stats().byPurpose.synthesis?.ok ?? 0) >= 2 && (stack.sim.stats().byPurpose.synthesis?.requests ?? 0) >= 3);
  await handle.cancel();
  await handle.result().catch(() => undefined);
  const report = await new RunRepository(stack.app.services.db).findReport({ firstRunId: handle.firstExecutionRunId });
  const [paid] = await stack.app.services.db.query(
    "SELECT count(*)::int AS n FROM llm_calls WHERE workflow_id = $1 AND purpose = 'synthesis' AND outcome = 'ok'",
    [handle.workflowId],
  );
  expect(paid.n).toBeGreaterThanOrEqual(2);
  const synthesisLine = report!.llm.find((l) => l.purpose === 'synthesis')!;
  expect(synthesisLine.providerCalls - synthesisLine.errors).toBe(paid.n);
  expect(synthesisLine.outputTokens).toBeGreaterThan(0);
  const stored = await new RunRepository(stack.app.services.db).storyRunResult(handle.firstExecutionRunId);
  expect(stored!.timingsMs.synthesis).toBeGreaterThanOrEqual(1500);
  expect((await handle.query(storiesProgressQuery)).status).toBe('cancelled');
  // A re-run is answered from the cache for what the cancelled run paid for, and says so.
  stack.sim.configure({ latency: null });
  const again = await (await start({ fromMs: day, toMs: day + DAY_MS }, { concurrency: 2 })).result();
  expect(again.synthesis).toMatchObject({ done: 4, cached: paid.n });
});
