/**
 * The stories job's article embeddings are paid work: each request's vectors are written with
 * its call's log row as soon as it is answered, so a failure later in the attempt (a database
 * restart, another request failing, a crash) neither loses the record of what was paid nor
 * pays for it again on the retry. Against Postgres and the simulator over HTTP.
 */
import { DefaultLogger } from '@temporalio/worker';
import { MockActivityEnvironment } from '@temporalio/testing';
import { ArticleSnapshots, createNewsProviderActivities } from '../../src/activities/news.activities';
import { NewsRepository } from '../../src/db/repositories/news.repository';
import { ProviderBatchRepository } from '../../src/db/repositories/provider-batch.repository';
import { llmTaskQueue } from '../../src/shared/llm-routing';
import { useTestServices } from '../helpers/harness';

const stack = useTestServices();

/** One attempt of the activity, as the worker runs it (attempt n of the workflow's run). */
function attempt<R>(workflowId: string, n: number, fn: () => Promise<R>): Promise<R> {
  const env = new MockActivityEnvironment(
    { attempt: n, activityId: 'cluster', startToCloseTimeoutMs: 120_000, workflowExecution: { workflowId, runId: 'run-1' } },
    { logger: new DefaultLogger('ERROR', () => undefined) },
  );
  return env.run(fn);
}

/** A repository whose article-embedding writes fail as told (by the write's number, from 1). */
class FlakyEmbeddingWrites extends NewsRepository {
  writes = 0;
  failing = new Map<number, () => Error>();
  override async saveArticleEmbeddings(...args: Parameters<NewsRepository['saveArticleEmbeddings']>) {
    const fail = this.failing.get(++this.writes);
    if (fail) throw fail();
    return super.saveArticleEmbeddings(...args);
  }
}

async function setUp(tag: string, articles: number, bodyChars: number) {
  const db = stack.services.db;
  const topic = `topic-${tag}`;
  const now = Date.now();
  await new NewsRepository(db).importArticles(
    Array.from({ length: articles }, (_, i) => ({
      url: `https://example.test/${tag}/${i}`,
      sourceId: null,
      title: `${tag} headline ${i}`,
      body: `${tag} report ${i}: ${'the harbour storm closed the quay again and again. '.repeat(Math.ceil(bodyChars / 50))}`.slice(0, bodyChars),
      topic,
      publishedAt: new Date(now - 1000 * (i + 1)),
      sourceName: 'wire',
    })),
  );
  const repo = new FlakyEmbeddingWrites(db);
  const activities = createNewsProviderActivities({ repo, llm: stack.services.llm, embeddingDimensions: stack.services.config.llm.embeddingDimensions, snapshots: new ArticleSnapshots(), batches: new ProviderBatchRepository(db) });
  const embedding = stack.services.config.llm.models.embedding;
  const route = { ...embedding, taskQueue: llmTaskQueue('q', embedding.provider), requestTimeoutMs: 30_000 };
  const input = { runKey: `wf-${tag}/run-1`, scope: { fromMs: now - 3_600_000, toMs: now + 1000, topic }, embeddingRoute: route, synthesisRoute: route, useCache: true };
  const counts = async () => {
    await stack.services.flushRecorders();
    const [calls] = await db.query(`SELECT count(*)::int AS n FROM llm_calls WHERE workflow_id = $1 AND purpose = 'embedding'`, [`wf-${tag}`]);
    const [stored] = await db.query(
      `SELECT count(*)::int AS n FROM article_embeddings e JOIN articles a ON a.id = e.article_id WHERE a.topic = $1`,
      [topic],
    );
    return { paid: stack.sim.stats().byPurpose.embedding?.requests ?? 0, logged: calls.n as number, stored: stored.n as number };
  };
  return { repo, activities, input, counts, workflowId: `wf-${tag}` };
}

beforeEach(() => stack.sim.resetStats());

it('waits out a database restart while writing a paid request\'s embeddings, rather than failing the attempt and paying again', async () => {
  const run = await setUp(`restart${Date.now()}`, 3, 300);
  run.repo.failing.set(1, () => Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:5432'), { code: 'ECONNREFUSED' }));
  const plan = await attempt(run.workflowId, 1, () => run.activities.clusterStories(run.input));
  expect(plan).toMatchObject({ articles: 3, embedded: 3, embeddingRequests: 1 });
  expect(await run.counts()).toEqual({ paid: 1, logged: 1, stored: 3 });
});

it('keeps a request\'s embeddings and call row when a later one fails, and the retry embeds only the rest', async () => {
  // Bodies of ~2,000 characters: two requests' worth of tokens (250,000 a request).
  const run = await setUp(`later${Date.now()}`, 520, 2000);
  run.repo.failing.set(2, () => new Error('the second write failed'));
  await expect(attempt(run.workflowId, 1, () => run.activities.clusterStories(run.input))).rejects.toThrow('the second write failed');
  const first = await run.counts();
  expect(first.paid).toBe(2);
  expect(first.logged).toBe(1);
  expect(first.stored).toBeGreaterThan(0);
  expect(first.stored).toBeLessThan(520);
  const inputsBefore = stack.sim.stats().byPurpose.embedding.embeddingInputs;

  const plan = await attempt(run.workflowId, 2, () => run.activities.clusterStories(run.input));
  expect(plan).toMatchObject({ articles: 520, embedded: 520 - first.stored, embeddingRequests: 1 });
  expect(stack.sim.stats().byPurpose.embedding.embeddingInputs - inputsBefore).toBe(520 - first.stored);
  expect(await run.counts()).toEqual({ paid: 3, logged: 2, stored: 520 });
});
