/**
 * Two stories runs whose scopes overlap (a schedule's `--since 24h` and a manual `--from/--to`,
 * or two runs that clustered the same day differently: other articles had arrived, another
 * `--similarity`) may make their last writes at the same moment. Each last write makes its
 * stories current and supersedes the other current stories of its scope. Without ordering, each
 * transaction's supersede missed the stories the other was making current at that moment, so
 * both runs' stories ended current and an article was in two current stories. Against Postgres.
 */
import { NewsRepository, type ClusterWrite, type StoriesWrite } from '../../src/db/repositories/news.repository';
import { useTestServices } from '../helpers/harness';

const stack = useTestServices();

function cluster(hash: string, articleIds: number[], topic: string, from: number): ClusterWrite {
  return {
    storyHash: hash,
    articleIds,
    topic,
    windowStart: from,
    windowEnd: from + 3_600_000,
    synthesis: { headline: `story ${hash}`, summary: `summary of ${hash}`, keyPoints: ['a point'], citedArticleIds: articleIds },
  };
}

function lastWrite(tag: string, run: string, clusters: ClusterWrite[], scope: { fromMs: number; toMs: number; topic: string | null }): StoriesWrite {
  return {
    model: 'test-model',
    promptVersion: `concurrent-${tag}`,
    made: clusters,
    keptHashes: [],
    finish: {
      scope,
      currentHashes: clusters.map((c) => c.storyHash),
      failedArticleIds: [],
      run: { runId: `${tag}-${run}`, workflowId: `stories-${tag}-${run}`, status: 'completed', result: { stories: { created: clusters.length, kept: 0, superseded: 0 } }, failures: [] },
    },
  };
}

it('two runs of one scope finishing at once leave one set of stories current, each article in one current story', async () => {
  const db = stack.services.db;
  const repo = new NewsRepository(db);
  const tag = `c${Date.now()}`;
  const topic = `topic-${tag}`;
  // A day of its own, far from other tests' articles.
  const day = Date.UTC(2031, 0, 1) + (Date.now() % 1000) * 86_400_000;
  await repo.importArticles(
    Array.from({ length: 4 }, (_, i) => ({
      url: `https://example.test/${tag}/${i}`,
      sourceId: null,
      title: `${tag} headline ${i}`,
      body: `${tag} body ${i}`,
      topic,
      publishedAt: new Date(day + 60_000 * (i + 1)),
      sourceName: 'wire',
    })),
  );
  const ids: number[] = (await db.query(`SELECT id FROM articles WHERE topic = $1 ORDER BY id`, [topic])).map((r: { id: string }) => Number(r.id));
  const scope = { fromMs: day, toMs: day + 86_400_000, topic: null };
  // An earlier run's story, current, over the four articles.
  await repo.writeStories(lastWrite(tag, 'old', [cluster(`${tag}-old`, ids, topic, day)], scope));

  // Hold the earlier story's row, which both last writes supersede, so both are inside their
  // transactions at once; then let them go.
  const blocker = db.createQueryRunner();
  await blocker.connect();
  await blocker.startTransaction();
  await blocker.query(`SELECT id FROM stories WHERE story_hash = $1 FOR UPDATE`, [`${tag}-old`]);
  const a = repo.writeStories(lastWrite(tag, 'a', [cluster(`${tag}-a1`, ids.slice(0, 2), topic, day), cluster(`${tag}-a2`, ids.slice(2), topic, day)], scope));
  const b = repo.writeStories(lastWrite(tag, 'b', [cluster(`${tag}-b`, ids, topic, day)], scope));
  try {
    const deadline = Date.now() + 10_000;
    for (;;) {
      // Outside the blocker's transaction, which would see one snapshot of pg_stat_activity.
      const [{ n }] = await db.query(`SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'`);
      if (n >= 2 || Date.now() > deadline) break;
      await new Promise((r) => setTimeout(r, 50));
    }
  } finally {
    await blocker.commitTransaction();
    await blocker.release();
  }
  await Promise.all([a, b]);

  const current: { story_hash: string }[] = await db.query(`SELECT story_hash FROM stories WHERE prompt_version = $1 AND status = 'current' ORDER BY story_hash`, [`concurrent-${tag}`]);
  const hashes = current.map((r) => r.story_hash);
  // One run's stories, whichever wrote last: never both runs' together.
  expect([[`${tag}-a1`, `${tag}-a2`], [`${tag}-b`]]).toContainEqual(hashes);
  const perArticle: { article_id: string; n: number }[] = await db.query(
    `SELECT sa.article_id, count(*)::int AS n FROM story_articles sa JOIN stories s ON s.id = sa.story_id
      WHERE s.prompt_version = $1 AND s.status = 'current' GROUP BY sa.article_id`,
    [`concurrent-${tag}`],
  );
  expect(perArticle.map((r) => r.n)).toEqual([1, 1, 1, 1]);
});
